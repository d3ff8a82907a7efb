//! The Mobility Manager's hands: jobs (hooks and up/down commands, run as
//! children without blocking the loop) and route mode.

pub mod jobs;
pub mod route;
