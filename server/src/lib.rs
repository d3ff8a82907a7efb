//! mimm-server: collects client reports, answers Request Handoff with
//! Handoff Advice (admission control), and pushes Reactive Advice on
//! network alarms. `core` is the sans-IO state machine; the binary is a
//! thin UDP loop around it.

pub mod admission;
pub mod anchor;
pub mod anchor_shell;
pub mod config;
pub mod core;
pub mod rts;
pub mod run;
pub mod snmp;
pub mod socket;
