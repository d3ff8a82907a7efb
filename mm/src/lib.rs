//! The Mobility Manager (MM): decides whether and when to hand off, and to
//! which interface. It never touches a socket or a clock: it is fed inputs
//! (samples, admin and preference changes, results of the actions it asked
//! for, advice) with the time they happened, and answers with [`Action`]s and
//! the time it next wants to be woken. The daemon, the replay tool, the tests
//! and the fuzzer all drive the same code.
//!
//! ```text
//! handle(now, input) ─┐                     ┌─> poll_action()  Activate/Prepare/Switch/...
//! handle_timeout(now) ┴─> MobilityManager ──┴─> poll_timeout() when to call handle_timeout
//! ```
//!
//! # The five thresholds
//!
//! Each interface compares the *average* of its metric (never a raw sample)
//! with five thresholds, strictly ordered
//! `available < inactive < deteriorating < active < stable`. They are the
//! seed patent's SigTh1..SigTh5:
//!
//! | threshold | seed | meaning |
//! |---|---|---|
//! | `available` | SigTh1 | above: monitored, a last-resort candidate. Unset (the seed's "SigTh1 = 0", four levels): every attached interface is available |
//! | `inactive` | SigTh2 | the primary below it is handed off at once |
//! | `deteriorating` | SigTh3 | the primary below it has a candidate brought up and prepared (make-before-break) |
//! | `active` | SigTh4 | above: a real candidate |
//! | `stable` | SigTh5 | the primary above it lets standby-able alternatives be switched off |
//!
//! The gaps between them are hysteresis: a primary between `deteriorating`
//! and `active` stays where it is.

mod action;
mod average;
mod config;
mod defaults;
mod forecast;
mod iface;
mod input;
mod kind;
mod manager;
mod metric;
mod reason;
mod score;
mod thresholds;

pub use action::Action;
pub use average::{Averager, Averaging, MAX_WINDOW};
pub use config::{Config, ConfigError, Gain, IfaceConfig, Timing, Weights};
pub use forecast::RateForecast;
pub use input::{Advice, Input, Sample, Verdict};
pub use kind::LinkKind;
pub use manager::{Counters, IfaceView, MobilityManager};
pub use metric::{Metric, quality};
pub use reason::{Candidate, GainNote, Reason, Rule};
pub use thresholds::{Threshold, Thresholds};

/// Time in milliseconds, from whatever origin the caller uses (the daemons:
/// their start).
pub use mimm_io::clock::Millis;

/// An interface, by its position in [`Config::ifaces`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct IfaceId(pub u8);

impl IfaceId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Anything that decides handoffs the way the MM does: the MM itself and the
/// baselines it is compared with.
pub trait Decider {
    fn handle(&mut self, now: Millis, input: Input);
    fn handle_timeout(&mut self, now: Millis);
    fn poll_action(&mut self) -> Option<Action>;
    fn poll_timeout(&self) -> Option<Millis>;
    fn primary(&self) -> Option<IfaceId>;
    /// The decider's own counts, if it keeps any.
    fn counters(&self) -> Option<Counters> {
        None
    }
}
