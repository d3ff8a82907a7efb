//! What the MM is configured with. Validation names the interface and field.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::average::Averaging;
use crate::kind::LinkKind;
use crate::metric::Metric;
use crate::thresholds::Thresholds;
use crate::{IfaceId, Millis};

/// At most this many interfaces (ids are one byte; routers have a handful).
pub const MAX_IFACES: usize = 16;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IfaceConfig {
    pub name: String,
    pub kind: LinkKind,
    pub metric: Metric,
    pub thresholds: Thresholds,
    pub averaging: Averaging,
    /// Fixed priority, 0..=100, higher preferred.
    pub priority: u8,
    /// Relative power cost, 0..=10.
    pub power_cost: f64,
    /// Relative monetary cost, 0..=10 (a metered LTE plan is high).
    pub monetary_cost: f64,
    /// May be switched off while another primary is stable.
    pub standby: bool,
    /// Must be brought up before use (PPP, a modem that dials).
    pub needs_activation: bool,
    /// Has pre-handoff functions to run before traffic moves to it.
    pub pre_handoff: bool,
    pub enabled: bool,
}

/// Timers of the anti-ping-pong rules and of the actions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Time on a primary before a voluntary handoff (not an emergency and not
    /// `inactive`) may leave it.
    pub min_dwell_ms: Millis,
    /// After leaving an interface, no voluntary return to it for this long.
    pub hold_down_ms: Millis,
    /// A better candidate must stay better for this long.
    pub better_dwell_ms: Millis,
    pub activation_timeout_ms: Millis,
    pub prepare_timeout_ms: Millis,
    pub advice_timeout_ms: Millis,
    /// After an action on an interface failed, it is not tried again for this long.
    pub retry_after_ms: Millis,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            min_dwell_ms: 2_000,
            hold_down_ms: 30_000,
            better_dwell_ms: 0,
            activation_timeout_ms: 30_000,
            prepare_timeout_ms: 15_000,
            advice_timeout_ms: 3_000,
            retry_after_ms: 30_000,
        }
    }
}

/// Weights of the candidate score (see the `score` module for each term).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    pub margin: f64,
    pub rate: f64,
    pub kind: f64,
    pub preference: f64,
    pub priority: f64,
    pub power: f64,
    pub cost: f64,
}

impl Default for Weights {
    fn default() -> Weights {
        Weights {
            margin: 1.0,
            rate: 1.0,
            kind: 0.3,
            preference: 3.0,
            priority: 0.5,
            power: 0.1,
            cost: 0.3,
        }
    }
}

/// The expected-gain rule for voluntary handoffs between interfaces whose
/// rates are measured (see the manager's rule 7).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Gain {
    /// What one handoff costs, in ms of the primary's traffic; 0 turns the
    /// rule off (scores decide, as for interfaces without rates).
    pub handoff_cost_ms: Millis,
    /// A candidate's rate counts as its mean less this many spreads.
    pub spread: f64,
    /// Smoothing of each interface's rate forecast, 0 < alpha <= 1.
    pub alpha: f64,
}

impl Default for Gain {
    fn default() -> Gain {
        // Chosen by `mimmd evaluate` on every shared trace family; its
        // figures are those of each family left out (README).
        Gain {
            handoff_cost_ms: 4_000,
            spread: 1.0,
            alpha: 0.8,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub ifaces: Vec<IfaceConfig>,
    pub timing: Timing,
    pub weights: Weights,
    /// How much better (in score units) a candidate must be to be worth a
    /// voluntary handoff.
    pub better_margin: f64,
    /// Ask the server before voluntary handoffs.
    pub consult_server: bool,
    pub gain: Gain,
}

impl Config {
    pub fn new(ifaces: Vec<IfaceConfig>) -> Config {
        Config {
            ifaces,
            timing: Timing::default(),
            weights: Weights::default(),
            better_margin: 0.6,
            consult_server: false,
            gain: Gain::default(),
        }
    }

    pub fn iface_id(&self, name: &str) -> Option<IfaceId> {
        self.ifaces
            .iter()
            .position(|i| i.name == name)
            .map(|i| IfaceId(i as u8))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.ifaces.is_empty() {
            return Err(ConfigError::global("interfaces", "no interface configured"));
        }
        if self.ifaces.len() > MAX_IFACES {
            return Err(ConfigError::global(
                "interfaces",
                format!("{} interfaces; at most {MAX_IFACES}", self.ifaces.len()),
            ));
        }
        for (i, iface) in self.ifaces.iter().enumerate() {
            let fail = |field: &'static str, message: String| {
                Err(ConfigError {
                    iface: Some(iface.name.clone()),
                    field,
                    message,
                })
            };
            if iface.name.is_empty() {
                return fail("name", "empty interface name".into());
            }
            if self.ifaces[..i].iter().any(|o| o.name == iface.name) {
                return fail("name", "configured twice".into());
            }
            if let Err(e) = iface.thresholds.check() {
                return fail("thresholds", e);
            }
            if let Err(e) = iface.averaging.check() {
                return fail("averaging", e);
            }
            if iface.priority > 100 {
                return fail("priority", format!("{} must be 0..=100", iface.priority));
            }
            for (field, v) in [
                ("power_cost", iface.power_cost),
                ("monetary_cost", iface.monetary_cost),
            ] {
                if !(0.0..=10.0).contains(&v) {
                    return fail(field, format!("{v} must be 0..=10"));
                }
            }
        }
        let w = &self.weights;
        for (field, v) in [
            ("weight_margin", w.margin),
            ("weight_rate", w.rate),
            ("weight_kind", w.kind),
            ("weight_preference", w.preference),
            ("weight_priority", w.priority),
            ("weight_power", w.power),
            ("weight_cost", w.cost),
            ("better_margin", self.better_margin),
            ("gain_spread", self.gain.spread),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ConfigError::global(
                    field,
                    format!("{v} must be a number >= 0"),
                ));
            }
        }
        let alpha = self.gain.alpha;
        if !(alpha > 0.0 && alpha <= 1.0) {
            return Err(ConfigError::global(
                "gain_alpha",
                format!("{alpha} must be in (0, 1]"),
            ));
        }
        Ok(())
    }
}

/// A configuration the MM refuses, with the interface and field it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub iface: Option<String>,
    pub field: &'static str,
    pub message: String,
}

impl ConfigError {
    fn global(field: &'static str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            iface: None,
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.iface {
            Some(name) => write!(f, "interface {name}: {}: {}", self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}
