//! The MIMM messages, each the value of one vendor extension under the
//! configured IANA enterprise number, as TLVs (see [`crate::tlv`]).
//!
//! | vendor type | message | rides in | TLVs |
//! |---|---|---|---|
//! | 1 | Report | NVSE | 1 sequence u32; 2 session (repeated): kind u8, realtime u8, kbps u32 |
//! | 2 | Interface report | NVSE (one per interface) | 1 name; 2 kind u8; 3 network id (PLMN, SSID); 4 metric ×100 i32; 5 rate kbps u32; 6 load % u8; 7 flags u8 (1 attached, 2 primary) |
//! | 3 | Request Handoff | NVSE | 1 target network; 2 target interface; 3 care-of address (4 bytes) |
//! | 4 | Handoff Advice | CVSE | 1 verdict u8 (0 allow, 1 deny, 2 retry); 2 retry after s u32; 3 reason; 4 alternative network; 5 binding done u8 |
//! | 5 | Reactive Advice | CVSE | 1 advice id u32; 2 network; 3 reason; 4 expiry s i32 (-1: the whole session); 5 alternative network |
//! | 6 | Ack | NVSE | 1 advice id u32 |
//!
//! Why these carriers: an NVSE may be skipped by a peer that does not know
//! it, a CVSE may not (RFC 3115: the whole message is then discarded or
//! refused). Reports, handoff requests and acks are information: a plain
//! home agent that skips them still registers the client, and the client,
//! seeing no advice, goes ahead on its own after its timeout, which is the
//! right outcome. Handoff Advice and Reactive Advice change what the
//! receiver must do: a receiver that cannot understand "deny" or "leave
//! this network" must not take the message as an ordinary accepted
//! registration, so they are critical.

use core::net::Ipv4Addr;

use crate::error::{Error, Result};
use crate::field::Writer;
use crate::tlv::{self, i32_of, put, put_str, put_u8, put_u32, str_of, u8_of, u32_of};
use tlv_type::{ack, handoff_advice, iface_report, reactive_advice, report, request_handoff};

/// The TLV types inside each message, by message.
pub mod tlv_type {
    pub mod report {
        pub const SEQUENCE: u8 = 1;
        /// Repeated; see [`super::super::session`].
        pub const SESSION: u8 = 2;
    }
    pub mod iface_report {
        pub const NAME: u8 = 1;
        pub const KIND: u8 = 2;
        pub const NETWORK: u8 = 3;
        pub const METRIC_X100: u8 = 4;
        pub const RATE_KBPS: u8 = 5;
        pub const LOAD_PCT: u8 = 6;
        /// [`super::super::iface_flags`].
        pub const FLAGS: u8 = 7;
    }
    pub mod request_handoff {
        pub const TARGET_NETWORK: u8 = 1;
        pub const TARGET_IFACE: u8 = 2;
        pub const CARE_OF: u8 = 3;
    }
    pub mod handoff_advice {
        /// [`super::super::verdict`].
        pub const VERDICT: u8 = 1;
        pub const RETRY_AFTER_S: u8 = 2;
        pub const REASON: u8 = 3;
        pub const ALTERNATIVE: u8 = 4;
        pub const BINDING_DONE: u8 = 5;
    }
    pub mod reactive_advice {
        pub const ID: u8 = 1;
        pub const NETWORK: u8 = 2;
        pub const REASON: u8 = 3;
        pub const EXPIRY_S: u8 = 4;
        pub const ALTERNATIVE: u8 = 5;
    }
    pub mod ack {
        pub const ID: u8 = 1;
    }
}

/// A Report's session TLV value: kind, realtime, kbps.
pub mod session {
    use core::ops::Range;
    pub const KIND: usize = 0;
    pub const REALTIME: usize = 1;
    pub const KBPS: Range<usize> = 2..6;
    pub const LEN: usize = KBPS.end;
}

/// The Interface report's flag bits.
pub mod iface_flags {
    pub const ATTACHED: u8 = 1;
    pub const PRIMARY: u8 = 2;
}

/// Handoff Advice verdict codes.
pub mod verdict {
    pub const ALLOW: u8 = 0;
    pub const DENY: u8 = 1;
    pub const RETRY: u8 = 2;
}

pub const REPORT: u16 = 1;
pub const IFACE_REPORT: u16 = 2;
pub const REQUEST_HANDOFF: u16 = 3;
pub const HANDOFF_ADVICE: u16 = 4;
pub const REACTIVE_ADVICE: u16 = 5;
pub const ACK: u16 = 6;

/// Sessions a Report carries at most.
pub const MAX_SESSIONS: usize = 16;

/// A session of the client's users, as the admission control weighs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// 0 other, 1 voice, 2 video, 3 bulk (documentation only to the server).
    pub kind: u8,
    pub realtime: bool,
    pub kbps: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub sequence: u32,
    pub sessions: heapless::Vec<Session, MAX_SESSIONS>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfaceReport<'a> {
    pub name: &'a str,
    /// The link kind's number (ethernet 1, wifi 2, 5g 3, lte 4, ... as mimmd numbers them).
    pub kind: u8,
    /// PLMN (MCC+MNC) for cellular, SSID for Wi-Fi, anything for others.
    pub network: &'a str,
    /// The averaged metric, times 100.
    pub metric_x100: i32,
    pub rate_kbps: u32,
    pub load_pct: u8,
    pub attached: bool,
    pub primary: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHandoff<'a> {
    pub target_network: &'a str,
    pub target_iface: &'a str,
    pub care_of: Ipv4Addr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny,
    /// Ask again after this many seconds.
    RetryAfter(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandoffAdvice<'a> {
    pub verdict: Verdict,
    pub reason: &'a str,
    pub alternative: Option<&'a str>,
    /// The request was also a home-agent registration and the binding is
    /// already in place.
    pub binding_done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReactiveAdvice<'a> {
    /// Echoed in the Ack; the server retransmits until it comes.
    pub id: u32,
    pub network: &'a str,
    pub reason: &'a str,
    /// Avoid the network this long; -1: for the whole session.
    pub expiry_s: i32,
    pub alternative: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    Report(Report),
    IfaceReport(IfaceReport<'a>),
    RequestHandoff(RequestHandoff<'a>),
    HandoffAdvice(HandoffAdvice<'a>),
    ReactiveAdvice(ReactiveAdvice<'a>),
    Ack { id: u32 },
}

/// Whether a MIMM vendor type must ride in a CVSE.
pub fn is_critical(kind: u16) -> bool {
    matches!(kind, HANDOFF_ADVICE | REACTIVE_ADVICE)
}

pub fn is_known(kind: u16) -> bool {
    (REPORT..=ACK).contains(&kind)
}

fn required<T>(v: Option<T>, what: &'static str) -> Result<T> {
    v.ok_or(Error::BadValue(what))
}

impl<'a> Message<'a> {
    pub fn kind(&self) -> u16 {
        match self {
            Message::Report(_) => REPORT,
            Message::IfaceReport(_) => IFACE_REPORT,
            Message::RequestHandoff(_) => REQUEST_HANDOFF,
            Message::HandoffAdvice(_) => HANDOFF_ADVICE,
            Message::ReactiveAdvice(_) => REACTIVE_ADVICE,
            Message::Ack { .. } => ACK,
        }
    }

    /// The message of vendor type `kind` in `value`.
    pub fn parse(kind: u16, value: &'a [u8]) -> Result<Message<'a>> {
        match kind {
            REPORT => parse_report(value).map(Message::Report),
            IFACE_REPORT => parse_iface_report(value).map(Message::IfaceReport),
            REQUEST_HANDOFF => parse_request_handoff(value).map(Message::RequestHandoff),
            HANDOFF_ADVICE => parse_handoff_advice(value).map(Message::HandoffAdvice),
            REACTIVE_ADVICE => parse_reactive_advice(value).map(Message::ReactiveAdvice),
            ACK => parse_ack(value).map(|id| Message::Ack { id }),
            _ => Err(Error::BadValue("MIMM message type")),
        }
    }

    /// The TLVs of this message (the vendor extension's value).
    pub fn emit(&self, w: &mut Writer) -> Result<()> {
        match self {
            Message::Report(r) => emit_report(r, w),
            Message::IfaceReport(i) => emit_iface_report(i, w),
            Message::RequestHandoff(r) => emit_request_handoff(r, w),
            Message::HandoffAdvice(a) => emit_handoff_advice(a, w),
            Message::ReactiveAdvice(a) => emit_reactive_advice(a, w),
            Message::Ack { id } => put_u32(w, ack::ID, *id),
        }
    }
}

fn parse_session(v: &[u8]) -> Result<Session> {
    let s = <[u8; session::LEN]>::try_from(v).map_err(|_| Error::BadValue("report session"))?;
    let mut kbps = [0; 4];
    kbps.copy_from_slice(&s[session::KBPS]);
    Ok(Session {
        kind: s[session::KIND],
        realtime: match s[session::REALTIME] {
            0 => false,
            1 => true,
            _ => return Err(Error::BadValue("session realtime")),
        },
        kbps: u32::from_be_bytes(kbps),
    })
}

fn parse_report(value: &[u8]) -> Result<Report> {
    let mut sequence = None;
    let mut sessions = heapless::Vec::new();
    for item in tlv::walk(value) {
        match item? {
            (report::SEQUENCE, v) => sequence = Some(u32_of(v, "report sequence")?),
            (report::SESSION, v) => sessions
                .push(parse_session(v)?)
                .map_err(|_| Error::TooMany("sessions"))?,
            _ => {}
        }
    }
    Ok(Report {
        sequence: required(sequence, "report sequence")?,
        sessions,
    })
}

fn emit_report(r: &Report, w: &mut Writer) -> Result<()> {
    put_u32(w, report::SEQUENCE, r.sequence)?;
    for s in &r.sessions {
        let mut v = [0u8; session::LEN];
        v[session::KIND] = s.kind;
        v[session::REALTIME] = u8::from(s.realtime);
        v[session::KBPS].copy_from_slice(&s.kbps.to_be_bytes());
        put(w, report::SESSION, &v)?;
    }
    Ok(())
}

fn parse_iface_report(value: &[u8]) -> Result<IfaceReport<'_>> {
    let (mut name, mut ikind, mut network) = (None, None, None);
    let (mut metric, mut rate, mut load, mut flags) = (None, None, None, None);
    for item in tlv::walk(value) {
        match item? {
            (iface_report::NAME, v) => name = Some(str_of(v, "interface name")?),
            (iface_report::KIND, v) => ikind = Some(u8_of(v, "interface kind")?),
            (iface_report::NETWORK, v) => network = Some(str_of(v, "network id")?),
            (iface_report::METRIC_X100, v) => metric = Some(i32_of(v, "metric")?),
            (iface_report::RATE_KBPS, v) => rate = Some(u32_of(v, "rate")?),
            (iface_report::LOAD_PCT, v) => load = Some(u8_of(v, "load")?),
            (iface_report::FLAGS, v) => flags = Some(u8_of(v, "interface flags")?),
            _ => {}
        }
    }
    let flags = flags.unwrap_or(0);
    if flags & !(iface_flags::ATTACHED | iface_flags::PRIMARY) != 0 {
        return Err(Error::BadValue("interface flags"));
    }
    Ok(IfaceReport {
        name: required(name, "interface name")?,
        kind: ikind.unwrap_or(0),
        network: network.unwrap_or(""),
        metric_x100: metric.unwrap_or(0),
        rate_kbps: rate.unwrap_or(0),
        load_pct: load.unwrap_or(0),
        attached: flags & iface_flags::ATTACHED != 0,
        primary: flags & iface_flags::PRIMARY != 0,
    })
}

fn emit_iface_report(i: &IfaceReport, w: &mut Writer) -> Result<()> {
    put_str(w, iface_report::NAME, i.name)?;
    put_u8(w, iface_report::KIND, i.kind)?;
    put_str(w, iface_report::NETWORK, i.network)?;
    put_u32(w, iface_report::METRIC_X100, i.metric_x100 as u32)?;
    put_u32(w, iface_report::RATE_KBPS, i.rate_kbps)?;
    put_u8(w, iface_report::LOAD_PCT, i.load_pct)?;
    let mut flags = 0;
    if i.attached {
        flags |= iface_flags::ATTACHED;
    }
    if i.primary {
        flags |= iface_flags::PRIMARY;
    }
    put_u8(w, iface_report::FLAGS, flags)
}

fn parse_request_handoff(value: &[u8]) -> Result<RequestHandoff<'_>> {
    let (mut network, mut iface, mut care_of) = (None, None, None);
    for item in tlv::walk(value) {
        match item? {
            (request_handoff::TARGET_NETWORK, v) => network = Some(str_of(v, "target network")?),
            (request_handoff::TARGET_IFACE, v) => iface = Some(str_of(v, "target interface")?),
            (request_handoff::CARE_OF, v) => {
                let octets = <[u8; 4]>::try_from(v).map_err(|_| Error::BadValue("care-of"))?;
                care_of = Some(Ipv4Addr::from(octets));
            }
            _ => {}
        }
    }
    Ok(RequestHandoff {
        target_network: required(network, "target network")?,
        target_iface: iface.unwrap_or(""),
        care_of: care_of.unwrap_or(Ipv4Addr::UNSPECIFIED),
    })
}

fn emit_request_handoff(r: &RequestHandoff, w: &mut Writer) -> Result<()> {
    put_str(w, request_handoff::TARGET_NETWORK, r.target_network)?;
    put_str(w, request_handoff::TARGET_IFACE, r.target_iface)?;
    put(w, request_handoff::CARE_OF, &r.care_of.octets())
}

fn parse_handoff_advice(value: &[u8]) -> Result<HandoffAdvice<'_>> {
    let (mut code, mut retry, mut reason) = (None, None, None);
    let (mut alternative, mut binding_done) = (None, false);
    for item in tlv::walk(value) {
        match item? {
            (handoff_advice::VERDICT, v) => code = Some(u8_of(v, "verdict")?),
            (handoff_advice::RETRY_AFTER_S, v) => retry = Some(u32_of(v, "retry after")?),
            (handoff_advice::REASON, v) => reason = Some(str_of(v, "reason")?),
            (handoff_advice::ALTERNATIVE, v) => alternative = Some(str_of(v, "alternative")?),
            (handoff_advice::BINDING_DONE, v) => binding_done = u8_of(v, "binding done")? != 0,
            _ => {}
        }
    }
    let verdict = match (required(code, "verdict")?, retry) {
        (verdict::ALLOW, _) => Verdict::Allow,
        (verdict::DENY, _) => Verdict::Deny,
        (verdict::RETRY, Some(s)) => Verdict::RetryAfter(s),
        _ => return Err(Error::BadValue("verdict")),
    };
    Ok(HandoffAdvice {
        verdict,
        reason: reason.unwrap_or(""),
        alternative,
        binding_done,
    })
}

fn emit_handoff_advice(a: &HandoffAdvice, w: &mut Writer) -> Result<()> {
    match a.verdict {
        Verdict::Allow => put_u8(w, handoff_advice::VERDICT, verdict::ALLOW)?,
        Verdict::Deny => put_u8(w, handoff_advice::VERDICT, verdict::DENY)?,
        Verdict::RetryAfter(s) => {
            put_u8(w, handoff_advice::VERDICT, verdict::RETRY)?;
            put_u32(w, handoff_advice::RETRY_AFTER_S, s)?;
        }
    }
    put_str(w, handoff_advice::REASON, a.reason)?;
    if let Some(alt) = a.alternative {
        put_str(w, handoff_advice::ALTERNATIVE, alt)?;
    }
    put_u8(w, handoff_advice::BINDING_DONE, u8::from(a.binding_done))
}

fn parse_reactive_advice(value: &[u8]) -> Result<ReactiveAdvice<'_>> {
    let (mut id, mut network, mut reason) = (None, None, None);
    let (mut expiry, mut alternative) = (None, None);
    for item in tlv::walk(value) {
        match item? {
            (reactive_advice::ID, v) => id = Some(u32_of(v, "advice id")?),
            (reactive_advice::NETWORK, v) => network = Some(str_of(v, "network")?),
            (reactive_advice::REASON, v) => reason = Some(str_of(v, "reason")?),
            (reactive_advice::EXPIRY_S, v) => expiry = Some(i32_of(v, "expiry")?),
            (reactive_advice::ALTERNATIVE, v) => alternative = Some(str_of(v, "alternative")?),
            _ => {}
        }
    }
    let expiry_s = required(expiry, "expiry")?;
    if expiry_s < -1 {
        return Err(Error::BadValue("expiry"));
    }
    Ok(ReactiveAdvice {
        id: required(id, "advice id")?,
        network: required(network, "network")?,
        reason: reason.unwrap_or(""),
        expiry_s,
        alternative,
    })
}

fn emit_reactive_advice(a: &ReactiveAdvice, w: &mut Writer) -> Result<()> {
    if a.expiry_s < -1 {
        return Err(Error::BadValue("expiry"));
    }
    put_u32(w, reactive_advice::ID, a.id)?;
    put_str(w, reactive_advice::NETWORK, a.network)?;
    put_str(w, reactive_advice::REASON, a.reason)?;
    put_u32(w, reactive_advice::EXPIRY_S, a.expiry_s as u32)?;
    if let Some(alt) = a.alternative {
        put_str(w, reactive_advice::ALTERNATIVE, alt)?;
    }
    Ok(())
}

fn parse_ack(value: &[u8]) -> Result<u32> {
    let mut id = None;
    for item in tlv::walk(value) {
        if let (ack::ID, v) = item? {
            id = Some(u32_of(v, "ack id")?);
        }
    }
    required(id, "ack id")
}
