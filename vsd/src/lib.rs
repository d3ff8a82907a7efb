//! mimm's virtual subnet device: one TAP NIC carrying the router's address,
//! bonding member links behind it and switching the active one.

pub mod anchored;
pub mod announce;
pub mod carrier;
pub mod config;
pub mod control;
pub mod engine;
pub mod holder;
pub mod host_state;
pub mod isolate;
pub mod kernel_path;
pub mod macs;
pub mod packet;
pub mod switch;
pub mod traffic;
pub mod wire;
