//! `mimmd replay`: the Mobility Manager (or a baseline) over a trace in
//! virtual time, with a timeline, a summary and an SVG that shows why each
//! handoff happened. Pure: it reads a parsed trace and returns values.

mod baselines;
mod derive;
pub mod evaluate;
pub mod frontier;
mod output;
mod sim;
mod summary;
mod svg;

pub use baselines::{Best, Failover, Hysteresis, HysteresisRule, Single};
pub use derive::derive_config;
pub use output::{to_json, to_text};
pub use sim::{Options, Preparation, Replay, Series, Switch, run};
pub use summary::{PING_PONG_MS, Summary};
pub use svg::to_svg;

use std::fmt;
use std::str::FromStr;

/// Which decider drives the replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// The Mobility Manager.
    Mimm,
    /// Instantaneous best, no hysteresis.
    Best,
    /// One threshold per interface, no hysteresis.
    Single,
    /// mwan3-like: fixed priority, leave after 3 bad probes, return after 8 good.
    Failover,
    /// Another interface's 3 s mean rate beats the primary's by 20 %.
    Hysteresis,
}

impl Policy {
    pub const ALL: [Policy; 5] = [
        Policy::Mimm,
        Policy::Best,
        Policy::Hysteresis,
        Policy::Single,
        Policy::Failover,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Policy::Mimm => "mimm",
            Policy::Best => "best",
            Policy::Single => "single",
            Policy::Failover => "failover",
            Policy::Hysteresis => "hysteresis",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so tables can give it a width.
        f.pad(self.name())
    }
}

impl FromStr for Policy {
    type Err = String;

    fn from_str(s: &str) -> Result<Policy, String> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                format!("unknown policy {s:?}: mimm, best, hysteresis, single or failover")
            })
    }
}
