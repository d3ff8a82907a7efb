//! Messages of the control socket.

use serde::{Deserialize, Serialize};

use mimm_mm::{Counters, Sample, Thresholds};

/// Longest request line accepted.
pub const MAX_REQUEST: usize = 4096;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    Status,
    Prefer {
        iface: Option<String>,
    },
    Handoff {
        iface: String,
    },
    Reload,
    /// netifd's hotplug news of a logical interface: `ifup`, `ifupdate` or
    /// `ifdown`, with the layer-3 device it names.
    Netifd {
        action: String,
        iface: String,
        #[serde(default)]
        device: Option<String>,
    },
    Events {
        #[serde(default)]
        follow: bool,
        /// Also every sample of every interface, each sample period.
        #[serde(default)]
        samples: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Response {
    Ok(Reply),
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reply {
    Done,
    Status(Box<Status>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IfaceStatus {
    pub name: String,
    pub device: String,
    /// primary, standby, down, unreachable, disabled or absent.
    pub state: String,
    pub exists: bool,
    pub up: bool,
    pub carrier: bool,
    /// netifd's word on the logical interface (null until hotplug said one).
    pub netifd_up: Option<bool>,
    /// What the probes say (null without probes).
    pub reachable: Option<bool>,
    pub rtt_ms: Option<f64>,
    pub loss_pct: Option<f64>,
    pub signal_dbm: Option<f64>,
    pub rate_kbps: Option<f64>,
    pub metric: String,
    /// The metric's latest sample, its average and the MM's score.
    pub raw: Option<f64>,
    pub average: Option<f64>,
    pub score: f64,
    /// The five thresholds the average is compared with.
    pub thresholds: Thresholds,
}

/// The most recent switch of traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastHandoff {
    pub ago_s: f64,
    pub from: Option<String>,
    pub to: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub primary: Option<String>,
    /// Seconds since the primary took over.
    pub primary_for_s: Option<f64>,
    pub preferred: Option<String>,
    pub mode: String,
    pub config: String,
    pub uptime_s: f64,
    pub interfaces: Vec<IfaceStatus>,
    pub last_handoff: Option<LastHandoff>,
    pub counters: Counters,
    /// The MIMM server's client, with `config server` enabled.
    #[serde(default)]
    pub server: Option<ServerStatus>,
}

/// What mimmd exchanged with the MIMM server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerStatus {
    pub address: String,
    pub counters: crate::advisor::Counters,
}

/// Something mimmd did or saw, as `events` streams it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Seconds since mimmd started.
    pub t_s: f64,
    /// switch, pre-handoff, post-handoff, activate, deactivate, hook, link,
    /// path, prefer, reload, netifd, error; and `sample` for subscribers that asked.
    pub kind: String,
    pub iface: Option<String>,
    pub detail: String,
    /// For `sample` events: what was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<Sample>,
}
