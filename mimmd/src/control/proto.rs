//! Messages of the control socket.

use serde::{Deserialize, Serialize};

use mimm_mm::{Counters, Sample, Thresholds};

/// Longest request line accepted.
pub const MAX_REQUEST: usize = 4096;

/// Read through [`FlatRequest`], as the VSD's requests are (serde's reader
/// for an internally tagged enum buffers the whole object and cost ~10 KiB).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case", try_from = "FlatRequest")]
pub enum Request {
    Status,
    /// `iface` null or absent: no preference.
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
        device: Option<String>,
    },
    Events {
        follow: bool,
        /// Also every sample of every interface, each sample period.
        samples: bool,
    },
    /// The last minutes of averaged metrics (LuCI's chart).
    Recent,
}

/// Every field any request has; fields a command does not take are ignored.
#[derive(Deserialize)]
struct FlatRequest {
    cmd: String,
    iface: Option<String>,
    action: Option<String>,
    device: Option<String>,
    follow: Option<bool>,
    samples: Option<bool>,
}

impl TryFrom<FlatRequest> for Request {
    type Error = String;

    fn try_from(flat: FlatRequest) -> Result<Request, String> {
        let cmd = flat.cmd.as_str();
        let iface = || flat.iface.clone().ok_or(format!("{cmd} needs an iface"));
        Ok(match cmd {
            "status" => Request::Status,
            "prefer" => Request::Prefer {
                iface: flat.iface.clone(),
            },
            "handoff" => Request::Handoff { iface: iface()? },
            "reload" => Request::Reload,
            "netifd" => Request::Netifd {
                action: flat.action.clone().ok_or("netifd needs an action")?,
                iface: iface()?,
                device: flat.device.clone(),
            },
            "events" => Request::Events {
                follow: flat.follow.unwrap_or(false),
                samples: flat.samples.unwrap_or(false),
            },
            "recent" => Request::Recent,
            other => {
                return Err(format!(
                    "unknown cmd {other:?}: status, prefer, handoff, reload, netifd, events or recent"
                ));
            }
        })
    }
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
    Recent(Box<RecentSamples>),
}

/// One sample period of [`RecentSamples`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartPoint {
    /// Seconds since mimmd started (the events' clock).
    pub t_s: f64,
    /// Index into `interfaces` of the primary.
    pub primary: Option<usize>,
    /// Each interface's averaged metric, in `interfaces` order.
    pub average: Vec<Option<f64>>,
}

/// The last sample periods, oldest first (at most 10 minutes' worth).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentSamples {
    pub interfaces: Vec<String>,
    pub points: Vec<ChartPoint>,
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
    /// The signal source's and the probes' own state.
    #[serde(default)]
    pub sources: Vec<SourceStatus>,
    /// Anchored vsd mode: the home address and this member's care-of
    /// address and binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
}

/// A source's state (see `monitor::source`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceStatus {
    /// `nl80211`, `uqmi`, `mmcli`, `at`, `trace`, `none` or `probes`.
    pub kind: String,
    /// What it reads (a device, a port, a file, the probe targets).
    pub detail: String,
    /// A question is open.
    pub waiting: bool,
    /// Readings it gave (for the probes: changes of reachability).
    pub updates: u64,
    pub failures: u64,
    /// Why the last reading failed, until one succeeds again.
    pub error: Option<String>,
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

/// What an event is about, serialised as the name `events` streams
/// (`mimmctl events`, rpcd, LuCI). README's list is checked against
/// [`EventKind::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    Switch,
    PreHandoff,
    PostHandoff,
    Activate,
    Deactivate,
    Hook,
    Link,
    Path,
    Prefer,
    Reload,
    Netifd,
    Advice,
    Server,
    Error,
    /// Every interface's sample, for the followers that asked.
    Sample,
}

impl EventKind {
    pub const ALL: [EventKind; 15] = [
        EventKind::Switch,
        EventKind::PreHandoff,
        EventKind::PostHandoff,
        EventKind::Activate,
        EventKind::Deactivate,
        EventKind::Hook,
        EventKind::Link,
        EventKind::Path,
        EventKind::Prefer,
        EventKind::Reload,
        EventKind::Netifd,
        EventKind::Advice,
        EventKind::Server,
        EventKind::Error,
        EventKind::Sample,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::Switch => "switch",
            EventKind::PreHandoff => "pre-handoff",
            EventKind::PostHandoff => "post-handoff",
            EventKind::Activate => "activate",
            EventKind::Deactivate => "deactivate",
            EventKind::Hook => "hook",
            EventKind::Link => "link",
            EventKind::Path => "path",
            EventKind::Prefer => "prefer",
            EventKind::Reload => "reload",
            EventKind::Netifd => "netifd",
            EventKind::Advice => "advice",
            EventKind::Server => "server",
            EventKind::Error => "error",
            EventKind::Sample => "sample",
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Something mimmd did or saw, as `events` streams it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Seconds since mimmd started.
    pub t_s: f64,
    pub kind: EventKind,
    pub iface: Option<String>,
    pub detail: String,
    /// For `sample` events: what was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<Sample>,
}

#[cfg(test)]
mod tests {
    use super::{EventKind, Request};

    #[test]
    fn requests_read_as_documented_and_refusals_say_what_is_missing() {
        let read = |text: &str| serde_json::from_str::<Request>(text).map_err(|e| e.to_string());
        assert_eq!(
            read(r#"{"cmd":"prefer"}"#),
            Ok(Request::Prefer { iface: None })
        );
        assert_eq!(
            read(r#"{"cmd":"prefer","iface":null}"#),
            Ok(Request::Prefer { iface: None })
        );
        assert_eq!(
            read(r#"{"cmd":"netifd","action":"ifdown","iface":"wan"}"#),
            Ok(Request::Netifd {
                action: "ifdown".into(),
                iface: "wan".into(),
                device: None
            })
        );
        assert_eq!(
            read(r#"{"cmd":"events","follow":true}"#),
            Ok(Request::Events {
                follow: true,
                samples: false
            })
        );
        let refused = |text: &str| read(text).unwrap_err();
        assert!(refused(r#"{"cmd":"handoff"}"#).starts_with("handoff needs an iface"));
        assert!(refused(r#"{"cmd":"netifd","iface":"wan"}"#).starts_with("netifd needs an action"));
        assert!(refused(r#"{"cmd":"fly"}"#).starts_with("unknown cmd \"fly\": status, prefer"));
        assert!(refused(r#"{"iface":"wan"}"#).contains("missing field `cmd`"));
        assert!(refused("[1]").contains("invalid type"));
        // What mimmctl and rpcd send is what mimmd reads.
        for r in [
            Request::Status,
            Request::Reload,
            Request::Recent,
            Request::Handoff {
                iface: "lte".into(),
            },
            Request::Prefer {
                iface: Some("wifi".into()),
            },
        ] {
            assert_eq!(read(&serde_json::to_string(&r).unwrap()), Ok(r));
        }
    }

    #[test]
    fn kinds_serialise_as_their_names_and_readme_lists_them_all() {
        mimm_requires::names_are_listed(&EventKind::ALL, |k| k.name(), "Event kinds (mimmd):");
    }
}
