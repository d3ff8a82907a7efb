//! Why the MM did something: which rule, which interface, which values.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::IfaceId;
use crate::config::Config;
use crate::thresholds::Threshold;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// No primary yet: the best interface becomes primary.
    Initial,
    /// The primary lost carrier or attachment.
    CarrierLost,
    /// Probes over the primary stopped getting through (blackhole).
    PathLost,
    /// The administrator disabled the primary.
    Disabled,
    /// The server advised leaving the primary's network.
    Avoided,
    /// The primary's average fell below `inactive`: hand off now.
    BelowInactive,
    /// The primary's average fell below `deteriorating`: prepare a candidate.
    Deteriorating,
    /// A candidate scored clearly better for long enough.
    BetterCandidate,
    /// A candidate's forecast rate beats the primary's by more than a
    /// handoff costs over the time it has been ahead.
    ExpectedGain,
    /// The user prefers another interface.
    UserPreference,
    /// The user asked for this handoff.
    Manual,
    /// The primary is above `stable`: standby-able alternatives go off.
    Stable,
    /// The switch to the candidate failed; back to the previous primary.
    SwitchFailed,
    /// (Baselines) the primary fell below the one threshold they use.
    BelowThreshold,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::Initial => "initial",
            Rule::CarrierLost => "carrier lost",
            Rule::PathLost => "path lost",
            Rule::Disabled => "disabled",
            Rule::Avoided => "advised to avoid",
            Rule::BelowInactive => "below inactive",
            Rule::Deteriorating => "deteriorating",
            Rule::BetterCandidate => "better candidate",
            Rule::ExpectedGain => "expected gain",
            Rule::UserPreference => "user preference",
            Rule::Manual => "manual handoff",
            Rule::Stable => "stable",
            Rule::SwitchFailed => "switch failed",
            Rule::BelowThreshold => "below threshold",
        }
    }

    /// Emergencies act in the same step, without waiting for averages.
    pub fn is_emergency(self) -> bool {
        matches!(
            self,
            Rule::CarrierLost | Rule::PathLost | Rule::Disabled | Rule::Avoided
        )
    }
}

/// The interface a decision chose, with what it was chosen on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub iface: IfaceId,
    /// Its score, when the decider scores (the MM does, baselines do not).
    pub score: Option<f64>,
    /// Its averaged (or, for some baselines, raw) metric.
    pub value: Option<f64>,
}

/// The numbers behind an expected-gain handoff.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GainNote {
    /// The primary's forecast rate (mean), kbit/s.
    pub primary_kbps: f64,
    /// The candidate's forecast rate (mean less its spreads), kbit/s.
    pub candidate_kbps: f64,
    /// How long the candidate has been ahead.
    pub ahead_ms: u64,
    /// The gain it needed: the handoff's cost over that time (0.2 = 20 %).
    pub needed: f64,
}

/// A decision's explanation. Plain data (no names), so the data path never
/// allocates; [`Reason::display`] renders it with the interface names.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub rule: Rule,
    /// The interface the rule looked at (usually the primary).
    pub subject: Option<IfaceId>,
    /// Its averaged metric.
    pub value: Option<f64>,
    /// The threshold it was compared with.
    pub threshold: Option<(Threshold, f64)>,
    /// The interface chosen.
    pub candidate: Option<Candidate>,
    /// The subject's score, when scores were compared.
    pub subject_score: Option<f64>,
    /// Forecast rates, when the expected gain decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gain: Option<GainNote>,
}

impl Reason {
    pub fn new(rule: Rule) -> Reason {
        Reason {
            rule,
            subject: None,
            value: None,
            threshold: None,
            candidate: None,
            subject_score: None,
            gain: None,
        }
    }

    /// The reason as a sentence, with names from `config`.
    pub fn display<'a>(&'a self, config: &'a Config) -> impl fmt::Display + 'a {
        ReasonText {
            reason: self,
            config,
        }
    }
}

struct ReasonText<'a> {
    reason: &'a Reason,
    config: &'a Config,
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

impl fmt::Display for ReasonText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.reason;
        let name = |id: IfaceId| {
            self.config
                .ifaces
                .get(id.index())
                .map_or("?", |i| i.name.as_str())
        };
        f.write_str(r.rule.name())?;
        if let Some(subject) = r.subject {
            let metric = self.config.ifaces.get(subject.index()).map(|i| i.metric);
            // A manual handoff's subject is the interface it leaves.
            let sep = if r.rule == Rule::Manual {
                " from "
            } else {
                ": "
            };
            write!(f, "{sep}{}", name(subject))?;
            if let (Some(v), Some(m)) = (r.value, metric) {
                write!(f, " {m} avg {}", num(v))?;
            }
            if let Some((which, t)) = r.threshold {
                let cmp = if r.value.is_some_and(|v| v < t) {
                    "<"
                } else {
                    ">="
                };
                write!(f, " {cmp} {which} {}", num(t))?;
            }
            if let Some(s) = r.subject_score {
                write!(f, " (score {s:.2})")?;
            }
        }
        if let Some(g) = r.gain {
            let gain = g.candidate_kbps / g.primary_kbps.max(1.0) - 1.0;
            write!(
                f,
                " forecast {} kbit/s; +{:.0} % for {:.1} s, more than the +{:.0} % a handoff costs over that time",
                num(g.primary_kbps.round()),
                gain * 100.0,
                g.ahead_ms as f64 / 1000.0,
                g.needed * 100.0
            )?;
        }
        if let Some(c) = r.candidate {
            write!(f, "; chose {}", name(c.iface))?;
            match (c.score, c.value) {
                (Some(s), Some(v)) => write!(f, " (score {s:.2}, avg {})", num(v))?,
                (Some(s), None) => write!(f, " (score {s:.2})")?,
                (None, Some(v)) => write!(f, " ({})", num(v))?,
                (None, None) => {}
            }
            if let Some(g) = r.gain {
                write!(
                    f,
                    " forecast {} kbit/s (mean less spread)",
                    num(g.candidate_kbps.round())
                )?;
            }
        }
        Ok(())
    }
}
