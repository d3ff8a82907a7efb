//! The testbed's control protocol: one JSON request line per connection to the
//! run's unix socket, answered by one JSON line. The CLI and the library both
//! use it, so there is one way to steer a running testbed.

use std::io;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::emu::impair::Params;
use crate::emu::link::{Dir, LaneStatus, LinkType, State};
use crate::emu::player::ReplayStatus;
use crate::emu::services::ServiceCounters;

/// Longest request accepted (a replay carries its whole trace).
pub const MAX_REQUEST: usize = 64 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    Status,
    Set {
        link: String,
        change: Change,
        #[serde(default)]
        dir: Dir,
    },
    Replay {
        /// Where the trace came from, for messages and status.
        name: String,
        /// The trace itself, format v1 text.
        csv: String,
        /// Trace interface → link; empty = automatic.
        #[serde(default)]
        map: Vec<(String, String)>,
        speed: f64,
        #[serde(default)]
        repeat: bool,
    },
    StopReplay,
    Shutdown,
}

/// A run-time change to one link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// kbit/s at the IP layer; `None` = unlimited.
    Rate(Option<u64>),
    /// One-way delay, ms.
    Delay(f64),
    /// Loss, percent.
    Loss(f64),
    /// Queue length as ms at the current rate.
    Queue(u64),
    /// Carrier off on both ends, queues flushed, nothing passes.
    Down,
    /// Undo down, carrier-off and blackhole.
    Up,
    /// Nothing passes while the devices stay up; for `ms`, or until `up`.
    Blackhole(Option<u64>),
    /// Router-side carrier off (ether links only).
    CarrierOff,
    CarrierOn,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Response {
    Ok(Reply),
    Error(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reply {
    Done,
    Status(Box<Status>),
    Replaying(ReplayStatus),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkStatus {
    pub name: String,
    pub link_type: LinkType,
    pub state: State,
    pub base: Params,
    pub signal_dbm: Option<f64>,
    pub kind: Option<String>,
    pub uplink: LaneStatus,
    pub downlink: LaneStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub id: String,
    pub links: Vec<LinkStatus>,
    pub replay: Option<ReplayStatus>,
    pub services: ServiceCounters,
}

/// Sends one request to the control socket and waits for its answer.
pub fn call(socket: &Path, request: &Request) -> io::Result<Reply> {
    let line = serde_json::to_vec(request)?;
    let answer = mimm_io::client::request(socket, "the testbed", &line, Duration::from_secs(30))?;
    match serde_json::from_str(&answer)? {
        Response::Ok(reply) => Ok(reply),
        Response::Error(e) => Err(io::Error::other(e)),
    }
}
