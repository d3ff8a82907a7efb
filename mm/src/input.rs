//! What the MM is told.

use serde::{Deserialize, Serialize};

use crate::{IfaceId, Millis};

/// One measurement of an interface. Fields the source does not have are `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub signal_dbm: Option<f64>,
    pub rate_kbps: Option<f64>,
    pub rtt_ms: Option<f64>,
    pub loss_pct: Option<f64>,
    /// Carrier (Ethernet-like) or attached (modem); `None` = unchanged.
    pub carrier: Option<bool>,
    /// Whether probes get through; `false` with carrier up is a blackhole.
    pub reachable: Option<bool>,
}

/// The server's answer to a handoff request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allow,
    Deny,
    /// Ask again at this time.
    RetryAt(Millis),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Advice {
    /// The answer to [`crate::Action::RequestAdvice`] for `iface`.
    Handoff { iface: IfaceId, verdict: Verdict },
    /// Leave and avoid the network behind `iface` for `ms` milliseconds; -1 =
    /// for the whole session. In ms, not the server's whole seconds: advice
    /// re-applied after a reload holds for exactly the time it has left.
    Avoid { iface: IfaceId, ms: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    Sample {
        iface: IfaceId,
        sample: Sample,
    },
    /// The administrator enabled or disabled an interface.
    Admin {
        iface: IfaceId,
        enabled: bool,
    },
    /// The user prefers an interface (`None`: no preference).
    Prefer {
        iface: Option<IfaceId>,
    },
    /// The user asks for a handoff to an interface now (once; the rules
    /// apply again afterwards).
    Handoff {
        iface: IfaceId,
    },
    /// Result of [`crate::Action::Activate`].
    Activated {
        iface: IfaceId,
        ok: bool,
    },
    /// Result of [`crate::Action::Prepare`] (the pre-handoff functions).
    Prepared {
        iface: IfaceId,
        ok: bool,
    },
    /// Result of [`crate::Action::Switch`].
    Switched {
        iface: IfaceId,
        ok: bool,
    },
    Advice(Advice),
}
