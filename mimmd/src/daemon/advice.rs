//! The daemon's side of the MIMM server: the UDP socket around the
//! sans-IO [`Advisor`], what it reports of each link, and what the
//! server's answers and advice become for the Mobility Manager.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use mio::net::UdpSocket;
use mio::{Interest, Registry, Token};

use mimm_io::clock;
use mimm_mm::{Advice, IfaceId, Input, LinkKind, Verdict};
use mimm_proto::mimm;

use crate::advisor::{self, Advisor, Event, LinkReport, Now, Settings};
use crate::config::{MimmConfig, ServerConfig};
use crate::control::proto::{EventKind, ServerStatus};
use crate::daemon::Daemon;
use crate::netlink::Rtnl;

/// The advisor, its socket, and a netlink socket for the addresses a
/// report carries.
pub(super) struct ServerLink {
    pub advisor: Advisor,
    socket: UdpSocket,
    rtnl: Rtnl,
}

/// How a link kind is numbered in an interface report.
fn kind_number(kind: LinkKind) -> u8 {
    match kind {
        LinkKind::Ethernet => 1,
        LinkKind::Wifi => 2,
        LinkKind::Nr => 3,
        LinkKind::Lte => 4,
        LinkKind::Legacy => 5,
        LinkKind::Other => 6,
    }
}

fn settings(cfg: &MimmConfig, server: &ServerConfig) -> Settings {
    Settings {
        server: SocketAddr::V4(server.address),
        spi: server.spi,
        algorithm: server.algorithm,
        key: server.key.clone(),
        vendor: server.enterprise,
        window_s: server.window_s,
        report_ms: u64::from(server.report_s) * 1000,
        retransmit_ms: 500,
        answer_timeout_ms: cfg.mm.timing.advice_timeout_ms,
        sessions: server.sessions.clone(),
    }
}

impl ServerLink {
    /// The server's client, when `config server` is there and enabled.
    pub fn open(
        cfg: &MimmConfig,
        registry: &Registry,
        token: Token,
    ) -> Result<Option<ServerLink>, String> {
        let Some(server) = cfg.server.as_ref().filter(|s| s.enabled) else {
            return Ok(None);
        };
        // Not connected: the source address must follow the primary.
        let mut socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0).into())
            .map_err(|e| format!("server socket: {e}"))?;
        registry
            .register(&mut socket, token, Interest::READABLE)
            .map_err(|e| format!("poll: {e}"))?;
        let rtnl = Rtnl::new().map_err(|e| format!("netlink: {e}"))?;
        Ok(Some(ServerLink {
            advisor: Advisor::new(settings(cfg, server)),
            socket,
            rtnl,
        }))
    }

    /// Whether a reload needs a new link (else the running one, with its
    /// clock offset and replay state, stays).
    pub fn same_settings(&self, cfg: &MimmConfig) -> bool {
        cfg.server
            .as_ref()
            .filter(|s| s.enabled)
            .is_some_and(|s| settings(cfg, s) == *self.advisor.settings())
    }

    pub fn deregister(&mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.socket);
    }

    fn send_queued(&mut self) {
        let to = self.advisor.settings().server;
        while let Some(datagram) = self.advisor.poll_transmit() {
            if let Err(e) = self.socket.send_to(&datagram, to) {
                // No route right now: the advisor retransmits, or the
                // Mobility Manager goes ahead without an answer.
                tracing::debug!("server {to}: {e}");
            }
        }
    }

    fn index_of(&mut self, device: &str) -> Option<u32> {
        let all = crate::netlink::links::dump(&mut self.rtnl).ok()?;
        all.into_iter().find(|l| l.name == device).map(|l| l.index)
    }

    /// The first IPv4 address of each device index, in one netlink dump.
    fn ipv4_addresses(&mut self) -> Vec<(u32, Ipv4Addr)> {
        let all = mimm_netlink::addresses::all(&mut self.rtnl).unwrap_or_default();
        all.into_iter()
            .filter_map(|(index, a)| match a {
                IpAddr::V4(v4) => Some((index, v4)),
                IpAddr::V6(_) => None,
            })
            .collect()
    }
}

impl Daemon {
    fn advice_now(&self) -> Now {
        Now::wall(self.ms(clock::now()))
    }

    /// Each interface as the server hears of it; addresses only when
    /// `with_addresses` (they cost a netlink dump).
    fn link_reports(&mut self, with_addresses: bool) -> Vec<LinkReport> {
        let primary = self.mm.primary().map(|p| p.index());
        let mut links: Vec<LinkReport> = (0..self.ifaces.len())
            .map(|i| {
                let view = self.mm.view(IfaceId(i as u8));
                let average = view.and_then(|v| v.average).unwrap_or(0.0);
                LinkReport {
                    name: self.ifaces[i].name.clone(),
                    kind: kind_number(self.cfg.mm.ifaces[i].kind),
                    network: self.cfg.ifaces[i].network.clone(),
                    metric_x100: (average * 100.0).round() as i32,
                    rate_kbps: self.ifaces[i].observed.rate_kbps.unwrap_or(0.0) as u32,
                    attached: self.ifaces[i].observed.attached(),
                    primary: primary == Some(i),
                    address: Ipv4Addr::UNSPECIFIED,
                }
            })
            .collect();
        if with_addresses {
            // In vsd mode the members carry no address: traffic leaves
            // with the VSD's, whichever member is active.
            let vsd = self.cfg.vsd.as_ref().map(|v| v.name.clone());
            let indexes: Vec<Option<u32>> = self
                .ifaces
                .iter()
                .map(|rt| rt.observed.link.as_ref().map(|l| l.index))
                .collect();
            if let Some(server) = self.server.as_mut() {
                let vsd_index = vsd.and_then(|name| server.index_of(&name));
                let addresses = server.ipv4_addresses();
                for (link, index) in links.iter_mut().zip(indexes) {
                    let Some(index) = vsd_index.or(index) else {
                        continue;
                    };
                    if let Some((_, a)) = addresses.iter().find(|(i, _)| *i == index) {
                        link.address = *a;
                    }
                }
            }
        }
        links
    }

    /// Reports when due or when something changed; retransmissions; sends.
    pub(super) fn advise_tick(&mut self) {
        if self.server.is_none() {
            return;
        }
        let now = self.advice_now();
        let due = deadline(self.server.as_ref()).is_some_and(|t| t <= now.mono);
        let links = self.link_reports(false);
        let wants = self
            .server
            .as_ref()
            .is_some_and(|s| s.advisor.wants_report(now, &links));
        if wants {
            let links = self.link_reports(true);
            if let Some(server) = self.server.as_mut() {
                server.advisor.update(now, &links);
            }
        }
        if let Some(server) = self.server.as_mut() {
            if due {
                server.advisor.handle_timeout(now);
            }
            server.send_queued();
        }
    }

    pub(super) fn server_status(&self) -> Option<ServerStatus> {
        self.server.as_ref().map(|s| ServerStatus {
            address: s.advisor.settings().server.to_string(),
            counters: s.advisor.counters(),
        })
    }

    /// The Mobility Manager asks before a voluntary handoff to `iface`.
    pub(super) fn request_advice(&mut self, iface: IfaceId) {
        if self.server.is_none() {
            // No server: every handoff is allowed.
            let now = self.ms(clock::now());
            self.mm.handle(
                now,
                Input::Advice(Advice::Handoff {
                    iface,
                    verdict: Verdict::Allow,
                }),
            );
            return;
        }
        let now = self.advice_now();
        let links = self.link_reports(true);
        let target = &links[iface.index()];
        let detail = format!("asking the server about network {}", target.network);
        if let Some(server) = self.server.as_mut() {
            server.advisor.request_handoff(now, iface.index(), &links);
            server.send_queued();
        }
        self.event(EventKind::Advice, Some(iface.index()), detail);
    }

    /// The server's socket is readable.
    pub(super) fn on_server(&mut self) {
        let mut buf = [0u8; 2048];
        loop {
            let now = self.advice_now();
            let Some(server) = self.server.as_mut() else {
                return;
            };
            let (len, from) = match server.socket.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::debug!("server socket: {e}");
                    break;
                }
            };
            tracing::debug!("server: {len} bytes from {from}");
            server.advisor.handle_datagram(now, &buf[..len]);
            server.send_queued();
        }
        while let Some(event) = self.server.as_mut().and_then(|s| s.advisor.poll_event()) {
            self.on_advice(event);
        }
    }

    /// Tells the Mobility Manager every avoidance still running, for the
    /// time left: on advice, and after a reload (a new Mobility Manager;
    /// advice holds until it expires or mimmd restarts, not until a reload).
    pub(super) fn apply_avoidance(&mut self, now: advisor::Millis) {
        self.avoided
            .retain(|(_, until)| until.is_none_or(|u| u > now));
        for (network, until) in &self.avoided {
            let ms = until.map_or(-1, |u| (u - now) as i64);
            for (i, d) in self.cfg.ifaces.iter().enumerate() {
                if d.network == *network {
                    let iface = IfaceId(i as u8);
                    self.mm
                        .handle(now, Input::Advice(Advice::Avoid { iface, ms }));
                }
            }
        }
    }

    fn on_advice(&mut self, event: Event) {
        let now = self.ms(clock::now());
        match event {
            Event::Answer {
                iface,
                verdict,
                reason,
                alternative,
            } => {
                let (word, verdict) = match verdict {
                    mimm::Verdict::Allow => ("allows", Verdict::Allow),
                    mimm::Verdict::Deny => ("denies", Verdict::Deny),
                    mimm::Verdict::RetryAfter(s) => (
                        "defers",
                        Verdict::RetryAt(now.saturating_add(u64::from(s) * 1000)),
                    ),
                };
                // An answer asked before a reload may name an interface
                // that is gone.
                let Some(name) = self.ifaces.get(iface).map(|rt| rt.name.clone()) else {
                    return;
                };
                let also = alternative.map_or(String::new(), |a| format!(" (try network {a})"));
                self.event(
                    EventKind::Advice,
                    Some(iface),
                    format!("server {word} the handoff to {name}: {reason}{also}"),
                );
                let iface = IfaceId(iface as u8);
                self.mm
                    .handle(now, Input::Advice(Advice::Handoff { iface, verdict }));
            }
            Event::Avoid {
                network,
                reason,
                expiry_s,
                alternative,
            } => {
                let on: Vec<usize> = (0..self.ifaces.len())
                    .filter(|&i| self.cfg.ifaces[i].network == network)
                    .collect();
                let span = if expiry_s < 0 {
                    "until mimmd restarts".to_string()
                } else {
                    format!("for {expiry_s} s")
                };
                let also = alternative.map_or(String::new(), |a| format!(" (try network {a})"));
                if on.is_empty() {
                    self.event(
                        EventKind::Advice,
                        None,
                        format!("server: avoid network {network} {span}: {reason}; no interface is on it"),
                    );
                }
                for &i in &on {
                    self.event(
                        EventKind::Advice,
                        Some(i),
                        format!("server: avoid network {network} {span}: {reason}{also}"),
                    );
                }
                let until = (expiry_s >= 0).then(|| now.saturating_add(expiry_s as u64 * 1000));
                self.avoided.retain(|(n, _)| *n != network);
                self.avoided.push((network, until));
                self.apply_avoidance(now);
            }
            Event::Refused { code } => {
                let why = match code {
                    131 => "failed authentication: check spi, key and algorithm",
                    133 => "identification mismatch: the clocks differ too much",
                    134 => "poorly formed: check enterprise",
                    _ => "refused",
                };
                self.event(
                    EventKind::Server,
                    None,
                    format!("the server answered code {code} ({why})"),
                );
            }
            Event::Resynchronised { offset_s } => {
                tracing::info!("server: its clock is {offset_s} s from ours; following it");
            }
        }
    }
}

/// The earliest time the advisor wants to run (MM milliseconds).
pub(super) fn deadline(server: Option<&ServerLink>) -> Option<advisor::Millis> {
    server.and_then(|s| s.advisor.poll_timeout())
}
