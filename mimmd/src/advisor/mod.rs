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
use mimm_proto::mimm::{self as msg, Session};
use mimm_proto::replay::Guard;

mod receive;
mod send;

pub use mimm_io::clock::Millis;

/// Largest datagram mimmd sends (a report of 16 interfaces fits easily).
const MAX_DATAGRAM: usize = 1400;
/// Pushes remembered (by Identification), to acknowledge a retransmission
/// again without acting on it twice.
const SEEN_PUSHES: usize = 32;
/// Code-133 answers in a row for one request before it is given up.
const MAX_RESYNC: u32 = 3;

/// Monotonic milliseconds and the wall clock as an Identification.
pub use mimm_proto::replay::Now;

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
    seen_pushes: Vec<u64>,
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
            seen_pushes: Vec::new(),
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
}

#[cfg(test)]
mod tests;
