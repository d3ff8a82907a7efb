//! mimmd as the MIMM server's client, sans-IO: it reports the links
//! (periodically and when something that matters to the server changes),
//! asks before a voluntary handoff, and takes the server's pushed Reactive
//! Advice, acknowledging it. Fed datagrams and time, it queues datagrams
//! for the server and events for the daemon; the daemon owns the socket
//! and the Mobility Manager (see `daemon/advice.rs`).
//!
//! Every request carries a fresh Identification (RFC 5944 timestamps):
//! a retransmission is a new request, since the server refuses a repeated
//! Identification as a replay. A code-133 reply, signed by the server,
//! gives the server's clock; the offset is kept and the request sent again.

use std::net::{Ipv4Addr, SocketAddr};

use mimm_proto::auth::Algorithm;
use mimm_proto::message::{self, Builder, OneKey};
use mimm_proto::mimm::{self as msg, IfaceReport, Message, Report, Session};
use mimm_proto::registration::{Flags, Header, ReplyHeader, RequestHeader, code};
use mimm_proto::replay::{self, Guard};

pub type Millis = u64;

/// Largest datagram mimmd sends (a report of 16 interfaces fits easily).
const MAX_DATAGRAM: usize = 1400;
/// Reactive Advice ids remembered, to acknowledge a retransmission again
/// without acting on it twice.
const SEEN_ADVICE: usize = 32;
/// Code-133 answers in a row for one request before it is given up.
const MAX_RESYNC: u32 = 3;

/// The two clocks: monotonic for timers, the wall clock as an RFC 5944
/// Identification (NTP format) for replay protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub mono: Millis,
    pub id: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub server: SocketAddr,
    pub spi: u32,
    pub algorithm: Algorithm,
    pub key: Vec<u8>,
    /// IANA enterprise number of the MIMM vendor extensions.
    pub vendor: u32,
    /// How far the server's pushed Identifications may be from our clock.
    pub window_s: u32,
    /// A report at least this often (it also keeps NAT state alive for
    /// the server's pushes).
    pub report_ms: Millis,
    /// First retransmission of an unanswered request; doubles after.
    pub retransmit_ms: Millis,
    /// An unanswered Request Handoff is dropped after this long (the
    /// Mobility Manager has gone ahead on its own by then).
    pub answer_timeout_ms: Millis,
    /// The users' sessions the client declares (admission weighs them).
    pub sessions: Vec<Session>,
}

/// One interface as the server hears of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkReport {
    pub name: String,
    pub kind: u8,
    /// PLMN, SSID or the configured network id.
    pub network: String,
    pub metric_x100: i32,
    pub rate_kbps: u32,
    pub attached: bool,
    pub primary: bool,
    /// Its IPv4 address (unspecified when it has none).
    pub address: Ipv4Addr,
}

/// What the daemon must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server's answer to [`Advisor::request_handoff`] for interface `iface`.
    Answer {
        iface: usize,
        verdict: msg::Verdict,
        reason: String,
        alternative: Option<String>,
    },
    /// Leave and avoid `network` for `expiry_s` seconds (-1: until restart).
    Avoid {
        network: String,
        reason: String,
        expiry_s: i32,
        alternative: Option<String>,
    },
    /// The server refused a request: wrong SPI or key, malformed.
    Refused { code: u8 },
    /// Our clock differs from the server's; Identifications now carry
    /// this offset.
    Resynchronised { offset_s: i32 },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    pub reports: u64,
    pub handoff_requests: u64,
    pub retransmissions: u64,
    pub answers: u64,
    pub unanswered: u64,
    pub advice: u64,
    pub acks: u64,
    pub refused: u64,
    pub resyncs: u64,
    /// Datagrams dropped: not from the server, bad authenticator, replayed,
    /// stale, malformed.
    pub dropped: u64,
}

#[derive(Debug, Clone)]
enum Purpose {
    Report,
    Handoff { iface: usize, care_of: Ipv4Addr },
}

/// A request waiting for its reply.
#[derive(Debug, Clone)]
struct Outstanding {
    purpose: Purpose,
    /// Identifications of every transmission (a late reply to an earlier
    /// one answers it too).
    ids: Vec<u64>,
    links: Vec<LinkReport>,
    next_at: Millis,
    interval: Millis,
    deadline: Millis,
    resyncs: u32,
}

pub struct Advisor {
    s: Settings,
    /// Seconds added to our clock's Identification (the server's clock).
    offset_s: i32,
    last_id: u64,
    sequence: u32,
    /// What the last report said that matters between periodic reports.
    reported: Vec<(String, String, bool, bool)>,
    next_report: Millis,
    outstanding: Vec<Outstanding>,
    guard: Guard,
    seen_advice: Vec<u32>,
    out: Vec<Vec<u8>>,
    events: Vec<Event>,
    counters: Counters,
}

/// The parts of a report whose change is news to the server at once.
fn essentials(links: &[LinkReport]) -> Vec<(String, String, bool, bool)> {
    links
        .iter()
        .map(|l| (l.name.clone(), l.network.clone(), l.attached, l.primary))
        .collect()
}

impl Advisor {
    pub fn new(settings: Settings) -> Advisor {
        Advisor {
            s: settings,
            offset_s: 0,
            last_id: 0,
            sequence: 0,
            reported: Vec::new(),
            next_report: 0,
            outstanding: Vec::new(),
            guard: Guard::default(),
            seen_advice: Vec::new(),
            out: Vec::new(),
            events: Vec::new(),
            counters: Counters::default(),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.s
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The server's clock, as an Identification.
    fn server_clock(&self, now: Now) -> u64 {
        now.id
            .wrapping_add((i64::from(self.offset_s) as u64).wrapping_shl(32))
    }

    /// A fresh Identification: the server's clock, strictly increasing.
    fn next_id(&mut self, now: Now) -> u64 {
        let id = self.server_clock(now).max(self.last_id.wrapping_add(1));
        self.last_id = id;
        id
    }

    /// Whether [`Advisor::update`] would send a report now: something the
    /// server must know changed (which is primary, attached, network) or
    /// the period is up. Lets the caller look up addresses only then.
    pub fn wants_report(&self, now: Now, links: &[LinkReport]) -> bool {
        now.mono >= self.next_report
            || links.len() != self.reported.len()
            || links.iter().zip(&self.reported).any(|(l, r)| {
                (&l.name, &l.network, l.attached, l.primary) != (&r.0, &r.1, r.2, r.3)
            })
    }

    /// Reports the links when [`Advisor::wants_report`].
    pub fn update(&mut self, now: Now, links: &[LinkReport]) {
        if !self.wants_report(now, links) {
            return;
        }
        self.reported = essentials(links);
        self.next_report = now.mono.saturating_add(self.s.report_ms);
        // A newer report replaces one still waiting.
        self.outstanding
            .retain(|o| !matches!(o.purpose, Purpose::Report));
        self.counters.reports += 1;
        self.start(now, Purpose::Report, links, self.s.report_ms);
    }

    /// Asks whether traffic may move to interface `iface` (its entry in
    /// `links`); the answer comes as [`Event::Answer`], or never.
    pub fn request_handoff(&mut self, now: Now, iface: usize, links: &[LinkReport]) {
        let care_of = links
            .get(iface)
            .map_or(Ipv4Addr::UNSPECIFIED, |l| l.address);
        self.outstanding
            .retain(|o| !matches!(o.purpose, Purpose::Handoff { iface: i, .. } if i == iface));
        self.counters.handoff_requests += 1;
        self.reported = essentials(links);
        let purpose = Purpose::Handoff { iface, care_of };
        self.start(now, purpose, links, self.s.answer_timeout_ms);
    }

    fn start(&mut self, now: Now, purpose: Purpose, links: &[LinkReport], lifetime: Millis) {
        let mut o = Outstanding {
            purpose,
            ids: Vec::new(),
            links: links.to_vec(),
            next_at: 0,
            interval: self.s.retransmit_ms,
            deadline: now.mono.saturating_add(lifetime),
            resyncs: 0,
        };
        self.transmit(now, &mut o);
        o.next_at = now.mono.saturating_add(o.interval);
        self.outstanding.push(o);
    }

    /// Builds and queues one transmission of `o` with a fresh Identification.
    fn transmit(&mut self, now: Now, o: &mut Outstanding) {
        let id = self.next_id(now);
        self.sequence = self.sequence.wrapping_add(1);
        let primary = o.links.iter().find(|l| l.primary);
        let header = Header::Request(RequestHeader {
            flags: Flags(0),
            // Seconds; the server keeps what a report says this long.
            lifetime: (self.s.report_ms.saturating_mul(3) / 1000).min(65_534) as u16,
            home_address: Ipv4Addr::UNSPECIFIED,
            home_agent: match self.s.server.ip() {
                std::net::IpAddr::V4(a) => a,
                std::net::IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
            },
            care_of: primary.map_or(Ipv4Addr::UNSPECIFIED, |l| l.address),
            identification: id,
        });
        let report = Message::Report(Report {
            sequence: self.sequence,
            sessions: self
                .s
                .sessions
                .iter()
                .copied()
                .take(msg::MAX_SESSIONS)
                .collect(),
        });
        let mut buf = [0u8; MAX_DATAGRAM];
        let built = Builder::new(&mut buf, &header, self.s.vendor).and_then(|mut b| {
            b.mimm(&report)?;
            // The message's vendor extensions are bounded: the report, the
            // request and at most MAX_VENDOR - 2 interfaces.
            for l in o.links.iter().take(message::MAX_VENDOR - 2) {
                b.mimm(&Message::IfaceReport(IfaceReport {
                    name: &l.name,
                    kind: l.kind,
                    network: &l.network,
                    metric_x100: l.metric_x100,
                    rate_kbps: l.rate_kbps,
                    load_pct: 0,
                    attached: l.attached,
                    primary: l.primary,
                }))?;
            }
            if let Purpose::Handoff { iface, care_of } = o.purpose {
                let target = o.links.get(iface);
                b.mimm(&Message::RequestHandoff(msg::RequestHandoff {
                    target_network: target.map_or("", |l| &l.network),
                    target_iface: target.map_or("", |l| &l.name),
                    care_of,
                }))?;
            }
            b.sign(self.s.spi, self.s.algorithm, &self.s.key)
        });
        match built {
            Ok(bytes) => {
                o.ids.push(id);
                self.out.push(bytes.to_vec());
            }
            Err(e) => tracing::warn!("server: cannot build a request: {e}"),
        }
    }

    /// Retransmits unanswered requests (backing off) and drops expired ones.
    pub fn handle_timeout(&mut self, now: Now) {
        let mut outstanding = std::mem::take(&mut self.outstanding);
        outstanding.retain_mut(|o| {
            if now.mono >= o.deadline {
                if matches!(o.purpose, Purpose::Handoff { .. }) {
                    self.counters.unanswered += 1;
                }
                return false;
            }
            if now.mono >= o.next_at {
                self.counters.retransmissions += 1;
                self.transmit(now, o);
                o.interval = o.interval.saturating_mul(2);
                o.next_at = now.mono.saturating_add(o.interval);
            }
            true
        });
        // Requests started meanwhile (none today) stay after the old ones.
        outstanding.append(&mut self.outstanding);
        self.outstanding = outstanding;
    }

    pub fn poll_timeout(&self) -> Option<Millis> {
        self.outstanding
            .iter()
            .map(|o| o.next_at.min(o.deadline))
            .min()
    }

    /// The next datagram for the server.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        (!self.out.is_empty()).then(|| self.out.remove(0))
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        (!self.events.is_empty()).then(|| self.events.remove(0))
    }

    /// A datagram from the socket. Its source address is not checked: on
    /// the way back through an operator's NAT the server may appear under
    /// another address; the authenticator and the Identification are what
    /// make a message believed.
    pub fn handle_datagram(&mut self, now: Now, bytes: &[u8]) {
        let Ok((header, _)) = Header::parse(bytes) else {
            self.counters.dropped += 1;
            return;
        };
        let keys = OneKey {
            spi: self.s.spi,
            algorithm: self.s.algorithm,
            key: &self.s.key,
        };
        let reg = match message::parse(bytes, self.s.vendor, &keys) {
            Ok(reg) => reg,
            Err(_) => {
                // An unsigned refusal (the server could not authenticate
                // us) is news for the log, but changes nothing here.
                match header {
                    Header::Reply(h)
                        if h.code != code::ACCEPTED && self.answers(h.identification) =>
                    {
                        self.counters.refused += 1;
                        self.events.push(Event::Refused { code: h.code });
                    }
                    _ => self.counters.dropped += 1,
                }
                return;
            }
        };
        match header {
            Header::Reply(h) => self.on_reply(now, &h, &reg),
            Header::Request(h) => self.on_push(now, &h, &reg),
        }
    }

    /// Whether a reply Identification answers an outstanding request (a
    /// code-133 reply keeps only the low 32 bits of the request's).
    fn answers(&self, id: u64) -> bool {
        self.outstanding
            .iter()
            .any(|o| o.ids.iter().any(|i| *i & 0xffff_ffff == id & 0xffff_ffff))
    }

    fn on_reply(&mut self, now: Now, h: &ReplyHeader, reg: &message::Registration) {
        let position = if h.code == code::IDENTIFICATION_MISMATCH {
            self.outstanding.iter().position(|o| {
                o.ids
                    .iter()
                    .any(|i| *i & 0xffff_ffff == h.identification & 0xffff_ffff)
            })
        } else {
            self.outstanding
                .iter()
                .position(|o| o.ids.contains(&h.identification))
        };
        let Some(k) = position else {
            self.counters.dropped += 1;
            return;
        };
        if h.code == code::IDENTIFICATION_MISMATCH {
            let mut o = self.outstanding.remove(k);
            let ours = replay::seconds(now.id);
            let offset = replay::seconds(h.identification).wrapping_sub(ours) as i32;
            o.resyncs += 1;
            if o.resyncs > MAX_RESYNC {
                self.counters.refused += 1;
                self.events.push(Event::Refused { code: h.code });
                return;
            }
            if offset != self.offset_s {
                self.offset_s = offset;
                self.counters.resyncs += 1;
                self.events.push(Event::Resynchronised { offset_s: offset });
            }
            // Our Identifications may have run ahead of the server's clock.
            self.last_id = 0;
            self.transmit(now, &mut o);
            self.outstanding.push(o);
            return;
        }
        let o = self.outstanding.remove(k);
        if h.code != code::ACCEPTED {
            self.counters.refused += 1;
            self.events.push(Event::Refused { code: h.code });
            return;
        }
        let Purpose::Handoff { iface, .. } = o.purpose else {
            return;
        };
        // A plain home agent answers without advice: no answer, so the
        // Mobility Manager goes ahead after its timeout.
        for item in &reg.mimm {
            if let Ok(Message::HandoffAdvice(a)) = item.message() {
                self.counters.answers += 1;
                self.events.push(Event::Answer {
                    iface,
                    verdict: a.verdict,
                    reason: a.reason.to_string(),
                    alternative: a.alternative.map(str::to_string),
                });
                return;
            }
        }
    }

    /// A request the server pushed: Reactive Advice, answered with an Ack.
    fn on_push(&mut self, now: Now, h: &RequestHeader, reg: &message::Registration) {
        let advice: Vec<msg::ReactiveAdvice> = reg
            .mimm
            .iter()
            .filter_map(|i| match i.message() {
                Ok(Message::ReactiveAdvice(a)) => Some(a),
                _ => None,
            })
            .collect();
        match self
            .guard
            .check(h.identification, self.server_clock(now), self.s.window_s)
        {
            replay::Verdict::Fresh => {}
            // The server retransmits the same datagram until it hears the
            // Ack: acknowledge again what was already acted on, nothing more.
            replay::Verdict::Replayed
                if !advice.is_empty()
                    && advice.iter().all(|a| self.seen_advice.contains(&a.id)) => {}
            _ => {
                self.counters.dropped += 1;
                return;
            }
        }
        for a in &advice {
            if self.seen_advice.contains(&a.id) {
                continue;
            }
            if self.seen_advice.len() == SEEN_ADVICE {
                self.seen_advice.remove(0);
            }
            self.seen_advice.push(a.id);
            self.counters.advice += 1;
            self.events.push(Event::Avoid {
                network: a.network.to_string(),
                reason: a.reason.to_string(),
                expiry_s: a.expiry_s,
                alternative: a.alternative.map(str::to_string),
            });
        }
        let reply = Header::Reply(ReplyHeader {
            code: code::ACCEPTED,
            lifetime: 0,
            home_address: h.home_address,
            home_agent: h.home_agent,
            identification: h.identification,
        });
        let mut buf = [0u8; MAX_DATAGRAM];
        let built = Builder::new(&mut buf, &reply, self.s.vendor).and_then(|mut b| {
            for a in &advice {
                b.mimm(&Message::Ack { id: a.id })?;
            }
            b.sign(self.s.spi, self.s.algorithm, &self.s.key)
        });
        if let Ok(bytes) = built {
            self.counters.acks += advice.len() as u64;
            self.out.push(bytes.to_vec());
        }
    }
}

#[cfg(test)]
mod tests;
