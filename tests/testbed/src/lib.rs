//! The mimm testbed: real kernel networking for testing handoffs on one machine.
//!
//! - [`description`]: what to build (links, their type and impairments);
//! - [`plan`]: the names and addresses that follow from it;
//! - [`bed::Testbed`]: builds namespaces `router`, `ispN`, `inet`, `lan`,
//!   `upstream`, runs the link emulator ([`emu`]) and tears it all down on drop;
//! - [`anchored`]: the anchored testbed's core network (ISPs that NAT, the
//!   anchor's `core` namespace);
//! - [`probe`]: the loss meter every handoff test uses;
//! - [`run`]: finding and cleaning up runs, also those of crashed processes;
//! - [`crowd`]: idle and following clients held on a daemon's control socket;
//! - [`daemon`]: a daemon a test runs in a namespace, killed and restarted.

pub mod bed;
// Shared with the daemons; re-exported so the testbed's paths stay short.
pub use mimm_io::{clock, tuntap, udp};
pub mod anchored;
pub mod control;
pub mod crowd;
pub mod daemon;
pub mod description;
pub mod emu;
pub mod netns;
pub mod plan;
pub mod probe;
pub mod run;

pub use bed::{Client, Testbed};
pub use control::Change;
pub use description::{Description, LinkSpec, Segment};
pub use emu::link::{Dir, LinkType};
