//! The daemon's part of the configuration: how it watches each interface and
//! how it acts.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;

use mimm_uci::{Pos, Section};

use mimm_uci::ConfigError;

use crate::config::Fields;
use crate::monitor::source::{self, KINDS, Kind};

pub(crate) const GLOBAL_OPTIONS: &[&str] = &[
    "sample_ms",
    "socket",
    "mode",
    "route_table",
    "rule_priority",
    "conntrack_flush",
    "hook_timeout_ms",
    "probe_interval_ms",
    "probe_timeout_ms",
    "probe_fail",
    "probe_ok",
    "log_level",
    "vsd",
];

pub(crate) const IFACE_OPTIONS: &[&str] = &[
    "device",
    "gateway",
    "signal_source",
    "probe",
    "pre_handoff",
    "post_handoff",
    "up_cmd",
    "down_cmd",
    "preferred",
    "network",
];

/// How traffic is moved to the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A default route in mimmd's own table, selected by a rule.
    Route,
    /// The virtual subnet device switches its active member.
    Vsd,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Globals {
    /// How often every interface is sampled and the MM fed, ms.
    pub sample_ms: u64,
    /// The control socket.
    pub socket: PathBuf,
    pub mode: Mode,
    /// Route mode: the table holding the default route via the primary...
    pub route_table: u32,
    /// ...and the priority of the rule that selects it.
    pub rule_priority: u32,
    /// Route mode: forget connection tracking on a handoff, so NATed flows
    /// pick the new interface's address at once.
    pub conntrack_flush: bool,
    pub hook_timeout_ms: u64,
    pub probe_interval_ms: u64,
    /// A probe without an answer this long (or three smoothed round trips,
    /// if longer) counts as lost.
    pub probe_timeout_ms: u64,
    /// Lost probes in a row before the path counts as lost (a blackhole).
    pub probe_fail: u32,
    /// Answered probes in a row before a lost path counts as back.
    pub probe_ok: u32,
    pub log_level: String,
    /// Mode vsd: which `config vsd` section (needed when there are several).
    pub vsd: Option<String>,
}

impl Default for Globals {
    fn default() -> Globals {
        Globals {
            sample_ms: 1000,
            socket: PathBuf::from("/var/run/mimmd.sock"),
            mode: Mode::Route,
            route_table: 220,
            rule_priority: 9000,
            conntrack_flush: true,
            hook_timeout_ms: 10_000,
            probe_interval_ms: 150,
            probe_timeout_ms: 300,
            probe_fail: 3,
            probe_ok: 2,
            log_level: "info".into(),
            vsd: None,
        }
    }
}

/// Where an interface's signal comes from: a kind from
/// [`crate::monitor::source::KINDS`] and what followed its `:`.
#[derive(Clone)]
pub struct SignalSource {
    pub kind: &'static Kind,
    pub arg: String,
}

impl SignalSource {
    /// No signal source: the probes are the measure.
    pub fn none() -> SignalSource {
        SignalSource {
            kind: &KINDS[0],
            arg: String::new(),
        }
    }

    pub fn is_none(&self) -> bool {
        self.kind.name == "none"
    }
}

/// As configured: `KIND[:ARG]`.
impl std::fmt::Display for SignalSource {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self.arg.as_str() {
            "" => f.write_str(self.kind.name),
            arg => write!(f, "{}:{arg}", self.kind.name),
        }
    }
}

impl std::fmt::Debug for SignalSource {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl PartialEq for SignalSource {
    fn eq(&self, other: &SignalSource) -> bool {
        self.to_string() == other.to_string()
    }
}

/// What an interface's probes ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeTarget {
    /// ICMP echo (`198.51.100.1`).
    Icmp(Ipv4Addr),
    /// UDP echo, RFC 862 (`udp:198.51.100.1:7`).
    Udp(SocketAddrV4),
}

#[derive(Debug, Clone, PartialEq)]
pub struct IfaceDaemon {
    pub name: String,
    /// The kernel device (defaults to the interface name).
    pub device: String,
    /// Route mode next hop; learned from the kernel's routes when absent.
    pub gateway: Option<Ipv4Addr>,
    pub signal_source: SignalSource,
    pub probes: Vec<ProbeTarget>,
    /// Run in order before traffic moves to this interface.
    pub pre_handoff: Vec<PathBuf>,
    /// Run in order after traffic moved to this interface.
    pub post_handoff: Vec<PathBuf>,
    pub up_cmd: Option<String>,
    pub down_cmd: Option<String>,
    /// The user's preference when mimmd starts (`mimmctl prefer` changes it).
    pub preferred: bool,
    /// The network id the MIMM server knows this link's network by (PLMN,
    /// SSID, ...); the interface name when not given.
    pub network: String,
}

fn parse_source(text: &str) -> Result<SignalSource, String> {
    let (name, arg) = text.split_once(':').unwrap_or((text, ""));
    let Some(kind) = source::kind(name) else {
        let forms: Vec<&str> = KINDS.iter().map(|k| k.usage).collect();
        return Err(format!(
            "signal_source {name:?}: one of {}",
            forms.join(", ")
        ));
    };
    match (kind.arg, arg.is_empty()) {
        (Some(what), true) => Err(format!("signal_source {name} needs {what} after ':'")),
        (None, false) => Err(format!("signal_source {name} takes nothing after ':'")),
        _ => Ok(SignalSource {
            kind,
            arg: arg.into(),
        }),
    }
}

fn parse_probe(text: &str) -> Result<ProbeTarget, String> {
    if let Some(rest) = text.strip_prefix("udp:") {
        return rest
            .parse::<SocketAddrV4>()
            .map(ProbeTarget::Udp)
            .map_err(|_| format!("probe {text:?}: expected udp:ADDRESS:PORT"));
    }
    let addr = text.strip_prefix("icmp:").unwrap_or(text);
    addr.parse::<Ipv4Addr>()
        .map(ProbeTarget::Icmp)
        .map_err(|_| format!("probe {text:?}: expected an IPv4 address or udp:ADDRESS:PORT"))
}

impl Fields<'_> {
    pub(crate) fn daemon_globals(&self, s: &Section) -> Result<Globals, ConfigError> {
        let what = "globals";
        let mut g = Globals::default();
        for (name, field) in [
            ("sample_ms", &mut g.sample_ms),
            ("hook_timeout_ms", &mut g.hook_timeout_ms),
            ("probe_interval_ms", &mut g.probe_interval_ms),
            ("probe_timeout_ms", &mut g.probe_timeout_ms),
        ] {
            if let Some(v) = self.value::<u64>(s, what, name, "a whole number of ms")? {
                if v == 0 {
                    let pos = s.option(name).map_or(s.pos, |o| o.pos);
                    return Err(
                        self.fail(pos, format!("{what}: option {name} must be more than 0"))
                    );
                }
                *field = v;
            }
        }
        for (name, field) in [
            ("route_table", &mut g.route_table),
            ("rule_priority", &mut g.rule_priority),
            ("probe_fail", &mut g.probe_fail),
            ("probe_ok", &mut g.probe_ok),
        ] {
            if let Some(v) = self.value::<u32>(s, what, name, "a whole number")? {
                *field = v;
            }
        }
        if let Some(v) = self.absolute_path(s, what, "socket")? {
            g.socket = v;
        }
        g.vsd = self.string(s, what, "vsd")?;
        if let Some(v) = self.string(s, what, "log_level")? {
            if crate::logging::parse_level(&v).is_none() {
                return Err(self.fail(
                    s.option("log_level").map_or(s.pos, |o| o.pos),
                    format!(
                        "{what}: log_level {v:?} must be one of {}",
                        crate::logging::LEVELS.join(", ")
                    ),
                ));
            }
            g.log_level = v;
        }
        if let Some(v) = self.flag(s, what, "conntrack_flush")? {
            g.conntrack_flush = v;
        }
        if let Some(opt) = s.option("mode") {
            g.mode = match opt.value.as_str() {
                Some("route") => Mode::Route,
                Some("vsd") => Mode::Vsd,
                _ => {
                    return Err(
                        self.fail(opt.pos, format!("{what}: option mode must be route or vsd"))
                    );
                }
            };
        }
        // mimmd's rules sit at rule_priority - 1 and rule_priority.
        if !(2..=32_765).contains(&g.rule_priority) {
            let pos = s.option("rule_priority").map_or(s.pos, |o| o.pos);
            return Err(self.fail(pos, format!("{what}: rule_priority must be 2..32765")));
        }
        // 253..255 are the kernel's default, main and local tables.
        if g.route_table == 0 || (253..=255).contains(&g.route_table) {
            let pos = s.option("route_table").map_or(s.pos, |o| o.pos);
            return Err(self.fail(
                pos,
                format!(
                    "{what}: route_table {} is reserved (0, 253 default, 254 main, 255 local)",
                    g.route_table
                ),
            ));
        }
        if g.probe_fail == 0 || g.probe_ok == 0 {
            return Err(self.fail(
                s.pos,
                format!("{what}: probe_fail and probe_ok must be at least 1"),
            ));
        }
        Ok(g)
    }

    pub(crate) fn daemon_interface(
        &self,
        s: &Section,
        name: &str,
    ) -> Result<IfaceDaemon, ConfigError> {
        let what = format!("interface {name}");
        let what = what.as_str();
        let at = |option: &str| s.option(option).map_or(s.pos, |o| o.pos);
        let device = self
            .string(s, what, "device")?
            .unwrap_or_else(|| name.to_string());
        if device.is_empty() || device.len() > 15 || device.contains(['/', ' ']) {
            return Err(self.fail(
                at("device"),
                format!("{what}: device {device:?} is not a kernel interface name"),
            ));
        }
        let gateway = match self.string(s, what, "gateway")? {
            None => None,
            Some(g) => Some(g.parse::<Ipv4Addr>().map_err(|_| {
                self.fail(
                    at("gateway"),
                    format!("{what}: gateway {g:?} is not an IPv4 address"),
                )
            })?),
        };
        let signal_source = match self.string(s, what, "signal_source")? {
            None => SignalSource::none(),
            Some(text) => parse_source(&text)
                .map_err(|e| self.fail(at("signal_source"), format!("{what}: {e}")))?,
        };
        let (probe_texts, probe_pos) = self.list(s, "probe");
        let probes = probe_texts
            .iter()
            .map(|p| parse_probe(p).map_err(|e| self.fail(probe_pos, format!("{what}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let hooks = |option: &str| -> Result<Vec<PathBuf>, ConfigError> {
            let (items, pos) = self.list(s, option);
            items
                .into_iter()
                .map(|h| self.hook(&h, pos, what, option))
                .collect()
        };
        let pre_handoff = hooks("pre_handoff")?;
        let post_handoff = hooks("post_handoff")?;
        Ok(IfaceDaemon {
            name: name.to_string(),
            device,
            gateway,
            signal_source,
            probes,
            pre_handoff,
            post_handoff,
            up_cmd: self.string(s, what, "up_cmd")?,
            down_cmd: self.string(s, what, "down_cmd")?,
            preferred: self.flag(s, what, "preferred")?.unwrap_or(false),
            network: self
                .string(s, what, "network")?
                .unwrap_or_else(|| name.to_string()),
        })
    }

    /// A hook must be an absolute path to an executable file.
    fn hook(&self, text: &str, pos: Pos, what: &str, option: &str) -> Result<PathBuf, ConfigError> {
        use std::os::unix::fs::PermissionsExt;
        let path = PathBuf::from(text);
        let problem = if !path.is_absolute() {
            Some("is not an absolute path")
        } else {
            match std::fs::metadata(&path) {
                Err(_) => Some("does not exist"),
                Ok(m) if !m.is_file() || m.permissions().mode() & 0o111 == 0 => {
                    Some("is not an executable file")
                }
                Ok(_) => None,
            }
        };
        match problem {
            Some(p) => Err(self.fail(pos, format!("{what}: {option} {text:?} {p}"))),
            None => Ok(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_and_probes_parse() {
        assert_eq!(parse_source("none"), Ok(SignalSource::none()));
        let shown = |text| parse_source(text).map(|s| (s.kind.name, s.arg));
        assert_eq!(
            shown("trace:/tmp/a.csv:cell"),
            Ok(("trace", "/tmp/a.csv:cell".into()))
        );
        assert_eq!(shown("mmcli:0"), Ok(("mmcli", "0".into())));
        assert!(parse_source("uqmi").unwrap_err().contains("needs a device"));
        assert!(
            parse_source("nl80211:x")
                .unwrap_err()
                .contains("takes nothing")
        );
        assert_eq!(
            parse_source("gps").unwrap_err(),
            "signal_source \"gps\": one of none, nl80211, uqmi:DEV, mmcli:N, at:PORT, trace:FILE[:IFACE]"
        );
        assert_eq!(
            parse_probe("198.51.100.1"),
            Ok(ProbeTarget::Icmp(Ipv4Addr::new(198, 51, 100, 1)))
        );
        assert_eq!(
            parse_probe("udp:198.51.100.1:7"),
            Ok(ProbeTarget::Udp("198.51.100.1:7".parse().unwrap()))
        );
        assert!(parse_probe("udp:198.51.100.1").is_err());
        assert!(parse_probe("example.org").is_err());
    }
}
