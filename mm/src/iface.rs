//! What the MM remembers about each interface between inputs.

use crate::Millis;
use crate::average::{Averager, Averaging};
use crate::config::IfaceConfig;
use crate::forecast::RateForecast;

/// Whether an interface that needs activation is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    Down,
    Activating { deadline: Millis },
    Up,
}

/// Whether its pre-handoff functions have run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prep {
    None,
    Preparing { deadline: Millis },
    Ready,
}

/// The server's view of moving to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AdviceState {
    None,
    Asked { deadline: Millis },
    Allowed,
    RetryAt(Millis),
}

#[derive(Debug, Clone)]
pub(crate) struct IfaceState {
    pub avg: Averager,
    pub raw: Option<f64>,
    /// Throughput seen on it, smoothed, for the score's rate term.
    pub rate: Averager,
    /// Its rate over the next seconds, for the expected gain.
    pub forecast: RateForecast,
    pub carrier: bool,
    pub reachable: bool,
    pub enabled: bool,
    pub link: Link,
    pub prep: Prep,
    pub advice: AdviceState,
    /// Not tried again before this time after a failure.
    pub blocked_until: Millis,
    /// Advised against until this time (`Millis::MAX`: for the session).
    pub avoid_until: Millis,
    /// Since when it has scored clearly better than the primary.
    pub better_since: Option<Millis>,
    /// When it last stopped being the primary.
    pub left_at: Option<Millis>,
}

impl IfaceState {
    pub fn new(config: &IfaceConfig, forecast_alpha: f64) -> IfaceState {
        IfaceState {
            avg: Averager::new(config.averaging),
            raw: None,
            rate: Averager::new(Averaging::Ewma { alpha: 0.5 }),
            forecast: RateForecast::new(forecast_alpha),
            carrier: true,
            reachable: true,
            enabled: config.enabled,
            link: if config.needs_activation {
                Link::Down
            } else {
                Link::Up
            },
            prep: Prep::None,
            advice: AdviceState::None,
            blocked_until: 0,
            avoid_until: 0,
            better_since: None,
            left_at: None,
        }
    }

    /// Carrier up, path working, enabled.
    pub fn attached(&self) -> bool {
        self.carrier && self.reachable && self.enabled
    }

    /// May be chosen now.
    pub fn usable(&self, now: Millis) -> bool {
        self.attached() && now >= self.blocked_until && now >= self.avoid_until
    }

    /// Its latest sample is below its average: the metric is going down.
    pub fn falling(&self) -> bool {
        matches!((self.raw, self.avg.value()), (Some(raw), Some(avg)) if raw < avg)
    }

    pub fn is_up(&self) -> bool {
        self.link == Link::Up
    }

    /// Traffic could move to it at once.
    pub fn ready(&self, config: &IfaceConfig) -> bool {
        self.is_up() && (!config.pre_handoff || self.prep == Prep::Ready)
    }
}
