//! Anchored mode: the VSD is a TUN carrying the home address, and every
//! member, whatever its kind (PPP, raw-IP, Ethernet, Wi-Fi on its own ISP),
//! reaches the anchor through a UDP tunnel of its own.

pub mod config;
pub mod engine;
pub mod paths;
pub mod registrar;
pub mod tunnel;

mod control;
mod datapath;
mod duplicate;
mod members;
pub mod mss;
mod outputs;
mod reload;

use crate::engine::existing_links;
