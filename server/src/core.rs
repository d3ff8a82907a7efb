//! The server as a state machine, fed datagrams, alarms, RTS figures and
//! time; it queues the datagrams to send. No I/O here (the loop in main.rs
//! does that), so tests drive it directly and deterministically.

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};

use mimm_proto::auth::Algorithm;
use mimm_proto::error::Error;
use mimm_proto::ext::{Extension, TUNNEL_REPLY_F};
use mimm_proto::message::{self, Builder, Keys, Registration};
use mimm_proto::mimm::{HandoffAdvice, Message, ReactiveAdvice, Verdict};
use mimm_proto::registration::{Flags, Header, ReplyHeader, RequestHeader, code};
use mimm_proto::replay::{self, Guard};

use crate::admission::{self, Decision, NetworkLoad};
use crate::anchor::{self, Anchor, AnchorConfig};

pub use mimm_io::clock::Millis;

/// Largest datagram the server sends.
pub const MAX_DATAGRAM: usize = 1024;
pub type Datagram = heapless::Vec<u8, MAX_DATAGRAM>;

/// Monotonic milliseconds and the wall clock as an Identification.
pub use mimm_proto::replay::Now;

/// Where a datagram came from and which of the server's addresses it was
/// sent to (`None` when the shell does not know: a socket bound to one
/// address). Whatever answers it goes back from that address: a client
/// behind a NAT hears only from the address it sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub addr: SocketAddr,
    pub local: Option<Ipv4Addr>,
}

impl From<SocketAddr> for Peer {
    fn from(addr: SocketAddr) -> Peer {
        Peer { addr, local: None }
    }
}

/// A datagram to send: to whom, from which local address (`None`: the
/// socket's own), and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub to: SocketAddr,
    pub local: Option<Ipv4Addr>,
    pub datagram: Datagram,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKey {
    pub name: String,
    pub spi: u32,
    pub algorithm: Algorithm,
    pub key: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkConfig {
    pub id: String,
    pub capacity_kbps: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// IANA enterprise number the MIMM messages ride under.
    pub vendor: u32,
    /// Replay window: Identification seconds may differ this much from ours.
    pub window_s: u32,
    pub headroom_pct: u32,
    pub clients: Vec<ClientKey>,
    pub networks: Vec<NetworkConfig>,
    /// Reactive Advice retransmission: first interval, doubling up to the max.
    pub retransmit_ms: u64,
    pub retransmit_max_ms: u64,
    pub advice_tries: u32,
    /// While an alarm lasts, clients still reported on its network are
    /// advised again this often (0: only on events and their reports).
    pub advice_repeat_ms: u64,
    /// The anchor (home agent) beside the server: registrations with a UDP
    /// Tunnel Request extension make bindings (see [`crate::anchor`]).
    pub anchor: Option<AnchorConfig>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            vendor: mimm_proto::DOC_ENTERPRISE,
            window_s: 7,
            headroom_pct: 10,
            clients: Vec::new(),
            networks: Vec::new(),
            retransmit_ms: 500,
            retransmit_max_ms: 8000,
            advice_tries: 8,
            advice_repeat_ms: 60_000,
            anchor: None,
        }
    }
}

/// What happened, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub requests: u64,
    pub reports: u64,
    pub handoff_requests: u64,
    pub allowed: u64,
    pub denied: u64,
    pub advice_sent: u64,
    pub advice_retransmitted: u64,
    pub advice_given_up: u64,
    pub acks: u64,
    pub unknown_spi: u64,
    pub bad_authenticator: u64,
    pub replayed: u64,
    pub stale: u64,
    pub malformed: u64,
}

struct Keyring(HashMap<u32, (Algorithm, Vec<u8>)>);

impl Keys for Keyring {
    fn key(&self, spi: u32) -> Option<(Algorithm, &[u8])> {
        self.0.get(&spi).map(|(a, k)| (*a, k.as_slice()))
    }
}

/// What the server knows of one client (by SPI).
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// One replay guard per care-of address (see [`Client::guard`]).
    guards: Vec<(Ipv4Addr, Guard)>,
    /// The newest Identification a guard let go had accepted: a new guard
    /// refuses it and everything older.
    let_go: Option<u64>,
    pub addr: Option<SocketAddr>,
    /// The server's address its last datagram was sent to (Reactive
    /// Advice goes from there).
    pub local: Option<Ipv4Addr>,
    pub home_address: Option<Ipv4Addr>,
    pub home_agent: Option<Ipv4Addr>,
    /// The network of its primary interface, from its last report.
    pub network: Option<String>,
    /// Its real-time sessions' bandwidth.
    pub rt_kbps: u32,
    /// (network, measured rate) of each interface it reported.
    pub links: Vec<(String, u32)>,
}

/// Care-of addresses whose replay guard a client keeps at once (its
/// members, and room for addresses that changed).
const GUARDS: usize = 8;

impl Client {
    /// The replay guard of registrations over `care_of`. One per care-of
    /// address, because a router registers all its members at once and
    /// their requests cross paths of different delays: under one guard the
    /// slower path's (older) Identification would be refused as a replay.
    /// Still no registration is accepted twice: each is over one care-of
    /// address, whose guard has seen it.
    /// A new guard starts above `floor` (the server's start) and above
    /// every guard let go, so that forgetting never lets a replay in.
    fn guard(&mut self, care_of: Ipv4Addr, floor: Option<u64>) -> &mut Guard {
        let i = match self.guards.iter().position(|(a, _)| *a == care_of) {
            Some(i) => i,
            None => {
                if self.guards.len() == GUARDS {
                    let (_, old) = self.guards.remove(0);
                    self.let_go = self.let_go.max(old.last());
                }
                let start = floor.max(self.let_go);
                self.guards.push((care_of, Guard::after(start)));
                self.guards.len() - 1
            }
        };
        &mut self.guards[i].1
    }
}

#[derive(Debug, Clone)]
struct Alarm {
    network: String,
    reason: String,
    expiry_s: i32,
    /// `None`: for the whole session.
    until: Option<Millis>,
}

#[derive(Debug, Clone)]
struct Pending {
    id: u32,
    spi: u32,
    network: String,
    next_at: Millis,
    interval: Millis,
    tries: u32,
    datagram: Datagram,
    to: Peer,
}

pub struct Server {
    cfg: ServerConfig,
    keys: Keyring,
    clients: HashMap<u32, Client>,
    /// Real-time kbit/s of the clients on each network (kept as clients
    /// move, so admission costs the same with 10 or 10 000 clients).
    client_load: HashMap<String, u32>,
    rts: HashMap<String, u32>,
    alarms: Vec<Alarm>,
    pending: Vec<Pending>,
    next_advice: u32,
    /// When clients still on alarmed networks are advised again.
    next_repeat: Option<Millis>,
    counters: Counters,
    out: VecDeque<Transmit>,
    anchor: Option<Anchor>,
    /// The Identification (wall clock) this server started at: a restarted
    /// server remembers no guard, and a registration sent before it
    /// started may be a replay of one its predecessor accepted.
    started: Option<u64>,
}

impl Keyring {
    fn of(cfg: &ServerConfig) -> Keyring {
        Keyring(
            cfg.clients
                .iter()
                .map(|c| (c.spi, (c.algorithm, c.key.clone())))
                .collect(),
        )
    }
}

impl Server {
    pub fn new(cfg: ServerConfig) -> Server {
        let keys = Keyring::of(&cfg);
        Server {
            keys,
            clients: HashMap::new(),
            client_load: HashMap::new(),
            rts: HashMap::new(),
            alarms: Vec::new(),
            pending: Vec::new(),
            next_advice: 1,
            next_repeat: None,
            counters: Counters::default(),
            out: VecDeque::new(),
            anchor: cfg.anchor.clone().map(Anchor::new),
            cfg,
            started: None,
        }
    }

    /// Refuses registrations identified before `id` (the wall clock at
    /// start, from the shell) with code 133, which a real client answers
    /// at once with a fresh one: a replay of one sent to the server before
    /// it was restarted gets nowhere.
    pub fn refuse_before(mut self, id: u64) -> Server {
        self.started = Some(id);
        self
    }

    /// The anchor, when configured: its shell hands it tunnel data packets
    /// (type 4 on the same port) and inner packets for home addresses.
    pub fn anchor_mut(&mut self) -> Option<&mut Anchor> {
        self.anchor.as_mut()
    }

    /// A new configuration for the running server (SIGHUP). What it knows
    /// stays: clients still configured with the same key keep their
    /// address, network, load and replay state; alarms and RTS figures
    /// stay. A client removed, or given another key, is forgotten with its
    /// pending advice (signed with the old key); it is known again at its
    /// next report. Returns how many clients were kept.
    pub fn reconfigure(&mut self, cfg: ServerConfig) -> usize {
        let keys = Keyring::of(&cfg);
        let same = |spi: &u32| {
            keys.0
                .get(spi)
                .is_some_and(|k| self.keys.0.get(spi) == Some(k))
        };
        let kept: Vec<u32> = self
            .clients
            .keys()
            .copied()
            .filter(|spi| same(spi))
            .collect();
        self.pending.retain(|p| kept.contains(&p.spi));
        self.clients.retain(|spi, _| kept.contains(spi));
        self.client_load.clear();
        for c in self.clients.values() {
            if let Some(n) = &c.network {
                *self.client_load.entry(n.clone()).or_default() += c.rt_kbps;
            }
        }
        self.keys = keys;
        // Bindings outlive a reload unless the anchor's own settings
        // changed (then clients bind again at their next registration).
        if cfg.anchor != self.cfg.anchor {
            self.anchor = cfg.anchor.clone().map(Anchor::new);
        }
        self.cfg = cfg;
        kept.len()
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    pub fn client(&self, spi: u32) -> Option<&Client> {
        self.clients.get(&spi)
    }

    /// The RTS feed's real-time load on a network.
    pub fn set_rts(&mut self, network: &str, kbps: u32) {
        self.rts.insert(network.to_string(), kbps);
    }

    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Datagram)> {
        self.poll_transmit_from().map(|t| (t.to, t.datagram))
    }

    /// The next datagram to send, with the local address to send it from.
    pub fn poll_transmit_from(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// When [`Server::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let retransmit = self.pending.iter().map(|p| p.next_at);
        let expiry = self.alarms.iter().filter_map(|a| a.until);
        let bindings = self.anchor.as_ref().and_then(Anchor::poll_timeout);
        retransmit
            .chain(expiry)
            .chain(self.next_repeat)
            .chain(bindings)
            .min()
    }

    /// A network's load, less client `except`'s own share (it is the one
    /// asking to move there).
    fn load(&self, network: &str, except: u32) -> NetworkLoad {
        let own = self
            .clients
            .get(&except)
            .filter(|c| c.network.as_deref() == Some(network))
            .map_or(0, |c| c.rt_kbps);
        let clients = self
            .client_load
            .get(network)
            .copied()
            .unwrap_or(0)
            .saturating_sub(own);
        NetworkLoad {
            capacity_kbps: self
                .cfg
                .networks
                .iter()
                .find(|n| n.id == network)
                .and_then(|n| n.capacity_kbps),
            load_kbps: self.rts.get(network).copied().unwrap_or(0) + clients,
            alarmed: self.alarms.iter().any(|a| a.network == network),
        }
    }

    pub fn handle_datagram(&mut self, now: Now, from: SocketAddr, bytes: &[u8]) {
        self.handle_datagram_from(now, Peer::from(from), bytes);
    }

    /// A datagram from `from`, answered from the local address it came to.
    pub fn handle_datagram_from(&mut self, now: Now, from: Peer, bytes: &[u8]) {
        let Ok((header, _)) = Header::parse(bytes) else {
            self.counters.malformed += 1;
            return;
        };
        match message::parse(bytes, self.cfg.vendor, &self.keys) {
            Ok(reg) => match header {
                Header::Request(h) => self.on_request(now, from, &h, &reg),
                Header::Reply(_) => self.on_reply(&reg),
            },
            Err(e) => {
                let code = match e {
                    Error::UnknownSpi(_) => {
                        self.counters.unknown_spi += 1;
                        code::FAILED_AUTHENTICATION
                    }
                    Error::BadAuthenticator | Error::NoAuthentication => {
                        self.counters.bad_authenticator += 1;
                        code::FAILED_AUTHENTICATION
                    }
                    _ => {
                        self.counters.malformed += 1;
                        code::POORLY_FORMED
                    }
                };
                // Nothing it says is believed: an unsigned refusal, no state.
                if let Header::Request(h) = header {
                    let reply = reply_header(&h, code, h.identification);
                    let mut buf = [0u8; MAX_DATAGRAM];
                    if let Ok(b) = Builder::new(&mut buf, &reply, self.cfg.vendor) {
                        self.send(from, b.unsigned());
                    }
                }
            }
        }
    }

    fn on_request(&mut self, now: Now, from: Peer, h: &RequestHeader, reg: &Registration) {
        self.counters.requests += 1;
        if !self.fresh(now, from, h, reg.spi) {
            return;
        }
        let handoff = self.record(from, h, reg);
        let binding = self.bind(now, from, h, reg);
        self.answer(from, h, reg.spi, handoff.as_deref(), binding);
        self.advise_if_alarmed(now, reg.spi);
    }

    /// The replay check: a stale or repeated Identification is answered
    /// with code 133 and the server's time, and changes nothing else.
    fn fresh(&mut self, now: Now, from: Peer, h: &RequestHeader, spi: u32) -> bool {
        let client = self.clients.entry(spi).or_default();
        match client.guard(h.care_of, self.started).check(
            h.identification,
            now.id,
            self.cfg.window_s,
        ) {
            replay::Verdict::Fresh => return true,
            replay::Verdict::Stale => self.counters.stale += 1,
            _ => self.counters.replayed += 1,
        }
        let id = replay::mismatch_identification(h.identification, now.id);
        let reply = reply_header(h, code::IDENTIFICATION_MISMATCH, id);
        self.reply(from, spi, &reply, None);
        false
    }

    /// What the request tells of its client (address, report, links,
    /// primary network), kept with the per-network load in step; the
    /// network a Request Handoff in it asks for.
    fn record(&mut self, from: Peer, h: &RequestHeader, reg: &Registration) -> Option<String> {
        let client = self.clients.entry(reg.spi).or_default();
        client.addr = Some(from.addr);
        client.local = from.local;
        client.home_address = Some(h.home_address);
        client.home_agent = Some(h.home_agent);
        let mut handoff = None;
        let mut reported = false;
        let (old_network, old_rt) = (client.network.clone(), client.rt_kbps);
        for item in &reg.mimm {
            match item.message() {
                Ok(Message::Report(r)) => {
                    reported = true;
                    client.rt_kbps = r
                        .sessions
                        .iter()
                        .filter(|s| s.realtime)
                        .map(|s| s.kbps)
                        .sum();
                    client.links.clear();
                }
                Ok(Message::IfaceReport(i)) => {
                    client.links.push((i.network.to_string(), i.rate_kbps));
                    if i.primary {
                        client.network = Some(i.network.to_string());
                    }
                }
                Ok(Message::RequestHandoff(r)) => {
                    handoff = Some(r.target_network.to_string());
                }
                _ => {}
            }
        }
        let (new_network, new_rt) = (client.network.clone(), client.rt_kbps);
        if reported {
            self.counters.reports += 1;
        }
        if (&old_network, old_rt) != (&new_network, new_rt) {
            if let Some(l) = old_network.and_then(|n| self.client_load.get_mut(&n)) {
                *l = l.saturating_sub(old_rt);
            }
            if let Some(n) = new_network {
                *self.client_load.entry(n).or_default() += new_rt;
            }
        }
        handoff
    }

    /// A registration that asks for a UDP tunnel is also a binding, when
    /// the anchor runs here: what the binding cache made of it.
    fn bind(
        &mut self,
        now: Now,
        from: Peer,
        h: &RequestHeader,
        reg: &Registration,
    ) -> Option<anchor::Answer> {
        let Some(Extension::UdpTunnelRequest { encapsulation, .. }) = reg.udp_tunnel else {
            return None;
        };
        let SocketAddr::V4(addr) = from.addr else {
            return None;
        };
        let source = anchor::Source {
            addr,
            local: from.local,
        };
        let key = self.keys.0.get(&reg.spi).map(|(_, k)| k.as_slice())?;
        let anchor = self.anchor.as_mut()?;
        if let Some(refused) = anchor.refuse_encapsulation(encapsulation, h.home_address) {
            return Some(refused);
        }
        Some(anchor.register(now.mono, reg.spi, key, h, source))
    }

    /// The accepted reply, with Handoff Advice when a move was asked for
    /// (and, for a binding, the anchor's code, home address, lifetime and
    /// UDP Tunnel Reply).
    fn answer(
        &mut self,
        from: Peer,
        h: &RequestHeader,
        spi: u32,
        handoff: Option<&str>,
        binding: Option<anchor::Answer>,
    ) {
        let admitted = handoff.map(|target| {
            self.counters.handoff_requests += 1;
            let decision = self.admit(spi, target);
            if decision.0 == Verdict::Allow {
                self.counters.allowed += 1;
            } else {
                self.counters.denied += 1;
            }
            decision
        });
        let bound = binding.is_some_and(|b| b.code == code::ACCEPTED);
        let advice = admitted.as_ref().map(|(verdict, reason, alternative)| {
            Message::HandoffAdvice(HandoffAdvice {
                verdict: *verdict,
                reason,
                alternative: alternative.as_deref(),
                binding_done: bound,
            })
        });
        let mut reply = reply_header(h, code::ACCEPTED, h.identification);
        if let (Header::Reply(r), Some(b)) = (&mut reply, binding) {
            r.code = b.code;
            r.home_address = b.home;
            r.lifetime = b.lifetime_s;
        }
        let tunnel = binding.map(|_| TunnelReply {
            code: 0,
            flags: TUNNEL_REPLY_F,
            keepalive_s: KEEPALIVE_S,
        });
        self.reply_with(from, spi, &reply, advice.as_ref(), tunnel);
    }

    /// A client that just reported being on an alarmed network hears of it
    /// (unless that advice is already on its way).
    fn advise_if_alarmed(&mut self, now: Now, spi: u32) {
        let Some(network) = self.clients.get(&spi).and_then(|c| c.network.clone()) else {
            return;
        };
        let Some(alarm) = self.alarms.iter().find(|a| a.network == network).cloned() else {
            return;
        };
        let pending = self
            .pending
            .iter()
            .any(|p| p.spi == spi && p.network == network);
        if !pending {
            self.advise(now, spi, &alarm);
        }
    }

    /// The verdict, its reason and an alternative network for a move of
    /// client `spi` to `target`.
    fn admit(&self, spi: u32, target: &str) -> (Verdict, String, Option<String>) {
        // Borrowed, not cloned: this runs for every Request Handoff.
        let Some(client) = self.clients.get(&spi) else {
            return (Verdict::Allow, "capacity available".into(), None);
        };
        let link = client
            .links
            .iter()
            .find(|(n, _)| n == target)
            .map_or(0, |(_, rate)| *rate);
        let headroom = self.cfg.headroom_pct;
        match admission::decide(&self.load(target, spi), client.rt_kbps, link, headroom) {
            Decision::Allow => (Verdict::Allow, "capacity available".into(), None),
            Decision::Deny(reason) => {
                let alternative = client
                    .links
                    .iter()
                    .map(|(n, _)| n)
                    .filter(|n| n.as_str() != target && Some(*n) != client.network.as_ref())
                    .map(|n| (admission::room(&self.load(n, spi), headroom), n))
                    .filter(|(room, _)| *room >= i64::from(client.rt_kbps))
                    .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1)))
                    .map(|(_, n)| n.clone());
                (Verdict::Deny, reason, alternative)
            }
        }
    }

    fn on_reply(&mut self, reg: &Registration) {
        for item in &reg.mimm {
            if let Ok(Message::Ack { id }) = item.message() {
                let before = self.pending.len();
                self.pending.retain(|p| !(p.id == id && p.spi == reg.spi));
                if self.pending.len() < before {
                    self.counters.acks += 1;
                }
            }
        }
    }

    /// A network alarm: every client on `network` is told to leave it for
    /// `expiry_s` seconds (-1: the whole session). Returns how many.
    pub fn alarm(&mut self, now: Now, network: &str, reason: &str, expiry_s: i32) -> usize {
        let alarm = Alarm {
            network: network.to_string(),
            reason: reason.to_string(),
            expiry_s,
            until: (expiry_s >= 0).then(|| now.mono + expiry_s as u64 * 1000),
        };
        self.alarms.retain(|a| a.network != network);
        self.alarms.push(alarm.clone());
        let on: Vec<u32> = self
            .clients
            .iter()
            .filter(|(_, c)| c.network.as_deref() == Some(network) && c.addr.is_some())
            .map(|(spi, _)| *spi)
            .collect();
        for spi in &on {
            self.pending
                .retain(|p| !(p.spi == *spi && p.network == network));
            self.advise(now, *spi, &alarm);
        }
        if self.cfg.advice_repeat_ms > 0 && self.next_repeat.is_none() {
            self.next_repeat = Some(now.mono + self.cfg.advice_repeat_ms);
        }
        on.len()
    }

    fn advise(&mut self, now: Now, spi: u32, alarm: &Alarm) {
        let Some(client) = self.clients.get(&spi) else {
            return;
        };
        let (Some(addr), Some((algorithm, key))) = (client.addr, self.keys.key(spi)) else {
            return;
        };
        let to = Peer {
            addr,
            local: client.local,
        };
        let id = self.next_advice;
        self.next_advice = self.next_advice.wrapping_add(1).max(1);
        // Seconds left, not the original figure, so a late joiner leaves
        // for the alarm's remaining time.
        let expiry_s = match alarm.until {
            Some(until) => (until.saturating_sub(now.mono) / 1000) as i32,
            None => alarm.expiry_s,
        };
        let header = Header::Request(RequestHeader {
            flags: Flags(0),
            lifetime: 0,
            home_address: client.home_address.unwrap_or(Ipv4Addr::UNSPECIFIED),
            home_agent: client.home_agent.unwrap_or(Ipv4Addr::UNSPECIFIED),
            care_of: Ipv4Addr::UNSPECIFIED,
            identification: now.id,
        });
        let advice = Message::ReactiveAdvice(ReactiveAdvice {
            id,
            network: &alarm.network,
            reason: &alarm.reason,
            expiry_s,
            alternative: None,
        });
        let mut buf = [0u8; MAX_DATAGRAM];
        let signed = Builder::new(&mut buf, &header, self.cfg.vendor).and_then(|mut b| {
            b.mimm(&advice)?;
            b.sign(spi, algorithm, key)
        });
        let Ok(bytes) = signed else {
            return;
        };
        let Ok(datagram) = Datagram::from_slice(bytes) else {
            return;
        };
        self.counters.advice_sent += 1;
        self.push(to, datagram.clone());
        self.pending.push(Pending {
            id,
            spi,
            network: alarm.network.clone(),
            next_at: now.mono + self.cfg.retransmit_ms,
            interval: self.cfg.retransmit_ms,
            tries: 1,
            datagram,
            to,
        });
    }

    pub fn handle_timeout(&mut self, now: Now) {
        if let Some(anchor) = self.anchor.as_mut() {
            anchor.expire(now.mono);
        }
        self.alarms.retain(|a| a.until.is_none_or(|u| u > now.mono));
        if self.alarms.is_empty() {
            self.next_repeat = None;
        }
        if self.next_repeat.is_some_and(|t| t <= now.mono) {
            self.repeat_advice(now);
        }
        let (tries, max) = (self.cfg.advice_tries, self.cfg.retransmit_max_ms);
        let alarmed: Vec<String> = self.alarms.iter().map(|a| a.network.clone()).collect();
        let mut given_up = 0;
        let mut resent = Vec::new();
        self.pending.retain_mut(|p| {
            if !alarmed.contains(&p.network) || p.tries >= tries && p.next_at <= now.mono {
                given_up += u64::from(alarmed.contains(&p.network));
                return false;
            }
            if p.next_at <= now.mono {
                p.tries += 1;
                p.interval = (p.interval * 2).min(max);
                p.next_at = now.mono + p.interval;
                resent.push((p.to, p.datagram.clone()));
            }
            true
        });
        self.counters.advice_given_up += given_up;
        self.counters.advice_retransmitted += resent.len() as u64;
        for (to, datagram) in resent {
            self.push(to, datagram);
        }
    }

    /// The periodic push: every client whose last report puts it on an
    /// alarmed network, and that has no advice in flight, is told again
    /// (a client may have had nowhere else to go, or have come back).
    fn repeat_advice(&mut self, now: Now) {
        let due: Vec<(u32, Alarm)> = self
            .alarms
            .iter()
            .flat_map(|a| {
                self.clients
                    .iter()
                    .filter(|(_, c)| c.network.as_deref() == Some(&a.network) && c.addr.is_some())
                    .map(move |(spi, _)| (*spi, a.clone()))
            })
            .filter(|(spi, a)| {
                !self
                    .pending
                    .iter()
                    .any(|p| p.spi == *spi && p.network == a.network)
            })
            .collect();
        for (spi, alarm) in &due {
            self.advise(now, *spi, alarm);
        }
        self.next_repeat = Some(now.mono + self.cfg.advice_repeat_ms);
    }

    fn reply(&mut self, to: Peer, spi: u32, header: &Header, advice: Option<&Message>) {
        self.reply_with(to, spi, header, advice, None);
    }

    fn reply_with(
        &mut self,
        to: Peer,
        spi: u32,
        header: &Header,
        advice: Option<&Message>,
        tunnel: Option<TunnelReply>,
    ) {
        let Some((algorithm, key)) = self.keys.key(spi) else {
            return;
        };
        let mut buf = [0u8; MAX_DATAGRAM];
        let signed = Builder::new(&mut buf, header, self.cfg.vendor).and_then(|mut b| {
            if let Some(m) = advice {
                b.mimm(m)?;
            }
            if let Some(t) = tunnel {
                b.udp_tunnel_reply(t.code, t.flags, t.keepalive_s)?;
            }
            b.sign(spi, algorithm, key)
        });
        if let Ok(bytes) = signed {
            let bytes = bytes.to_vec();
            self.send(to, &bytes);
        }
    }

    fn send(&mut self, to: Peer, bytes: &[u8]) {
        if let Ok(d) = Datagram::from_slice(bytes) {
            self.push(to, d);
        }
    }

    fn push(&mut self, to: Peer, datagram: Datagram) {
        self.out.push_back(Transmit {
            to: to.addr,
            local: to.local,
            datagram,
        });
    }
}

/// The UDP Tunnel Reply extension a binding's reply carries (RFC 3519).
#[derive(Debug, Clone, Copy)]
struct TunnelReply {
    code: u8,
    flags: u16,
    keepalive_s: u16,
}

/// How often a bound client must send something to keep its NAT mapping
/// (RFC 3519's keepalive interval, in the reply).
const KEEPALIVE_S: u16 = 20;

fn reply_header(h: &RequestHeader, code: u8, identification: u64) -> Header {
    Header::Reply(ReplyHeader {
        identification,
        ..h.reply(code)
    })
}
