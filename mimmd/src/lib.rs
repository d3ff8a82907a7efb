//! mimmd, the mimm client: the Interface Monitor watches every link, the
//! Mobility Manager ([`mimm_mm`]) decides when and where to hand off, and the
//! actions carry it out. This crate holds the daemon's parts; so far the
//! replay tool that runs the Mobility Manager over a trace in virtual time.

pub mod actions;
pub mod advisor;
pub mod config;
pub mod control;
pub mod daemon;
pub mod logging;
pub mod monitor;
pub mod netlink;
pub mod replay;
