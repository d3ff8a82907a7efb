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
            REPORT => {
                let mut sequence = None;
                let mut sessions = heapless::Vec::new();
                for item in tlv::walk(value) {
                    match item? {
                        (1, v) => sequence = Some(u32_of(v, "report sequence")?),
                        (2, v) => {
                            let s = <[u8; 6]>::try_from(v)
                                .map_err(|_| Error::BadValue("report session"))?;
                            let session = Session {
                                kind: s[0],
                                realtime: match s[1] {
                                    0 => false,
                                    1 => true,
                                    _ => return Err(Error::BadValue("session realtime")),
                                },
                                kbps: u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
                            };
                            sessions
                                .push(session)
                                .map_err(|_| Error::TooMany("sessions"))?;
                        }
                        _ => {}
                    }
                }
                Ok(Message::Report(Report {
                    sequence: required(sequence, "report sequence")?,
                    sessions,
                }))
            }
            IFACE_REPORT => {
                let (mut name, mut ikind, mut network) = (None, None, None);
                let (mut metric, mut rate, mut load, mut flags) = (None, None, None, None);
                for item in tlv::walk(value) {
                    match item? {
                        (1, v) => name = Some(str_of(v, "interface name")?),
                        (2, v) => ikind = Some(u8_of(v, "interface kind")?),
                        (3, v) => network = Some(str_of(v, "network id")?),
                        (4, v) => metric = Some(i32_of(v, "metric")?),
                        (5, v) => rate = Some(u32_of(v, "rate")?),
                        (6, v) => load = Some(u8_of(v, "load")?),
                        (7, v) => flags = Some(u8_of(v, "interface flags")?),
                        _ => {}
                    }
                }
                let flags = flags.unwrap_or(0);
                if flags & !3 != 0 {
                    return Err(Error::BadValue("interface flags"));
                }
                Ok(Message::IfaceReport(IfaceReport {
                    name: required(name, "interface name")?,
                    kind: ikind.unwrap_or(0),
                    network: network.unwrap_or(""),
                    metric_x100: metric.unwrap_or(0),
                    rate_kbps: rate.unwrap_or(0),
                    load_pct: load.unwrap_or(0),
                    attached: flags & 1 != 0,
                    primary: flags & 2 != 0,
                }))
            }
            REQUEST_HANDOFF => {
                let (mut network, mut iface, mut care_of) = (None, None, None);
                for item in tlv::walk(value) {
                    match item? {
                        (1, v) => network = Some(str_of(v, "target network")?),
                        (2, v) => iface = Some(str_of(v, "target interface")?),
                        (3, v) => {
                            care_of = Some(Ipv4Addr::from(
                                <[u8; 4]>::try_from(v).map_err(|_| Error::BadValue("care-of"))?,
                            ))
                        }
                        _ => {}
                    }
                }
                Ok(Message::RequestHandoff(RequestHandoff {
                    target_network: required(network, "target network")?,
                    target_iface: iface.unwrap_or(""),
                    care_of: care_of.unwrap_or(Ipv4Addr::UNSPECIFIED),
                }))
            }
            HANDOFF_ADVICE => {
                let (mut verdict, mut retry, mut reason) = (None, None, None);
                let (mut alternative, mut binding) = (None, false);
                for item in tlv::walk(value) {
                    match item? {
                        (1, v) => verdict = Some(u8_of(v, "verdict")?),
                        (2, v) => retry = Some(u32_of(v, "retry after")?),
                        (3, v) => reason = Some(str_of(v, "reason")?),
                        (4, v) => alternative = Some(str_of(v, "alternative")?),
                        (5, v) => binding = u8_of(v, "binding done")? != 0,
                        _ => {}
                    }
                }
                let verdict = match (required(verdict, "verdict")?, retry) {
                    (0, _) => Verdict::Allow,
                    (1, _) => Verdict::Deny,
                    (2, Some(s)) => Verdict::RetryAfter(s),
                    _ => return Err(Error::BadValue("verdict")),
                };
                Ok(Message::HandoffAdvice(HandoffAdvice {
                    verdict,
                    reason: reason.unwrap_or(""),
                    alternative,
                    binding_done: binding,
                }))
            }
            REACTIVE_ADVICE => {
                let (mut id, mut network, mut reason) = (None, None, None);
                let (mut expiry, mut alternative) = (None, None);
                for item in tlv::walk(value) {
                    match item? {
                        (1, v) => id = Some(u32_of(v, "advice id")?),
                        (2, v) => network = Some(str_of(v, "network")?),
                        (3, v) => reason = Some(str_of(v, "reason")?),
                        (4, v) => expiry = Some(i32_of(v, "expiry")?),
                        (5, v) => alternative = Some(str_of(v, "alternative")?),
                        _ => {}
                    }
                }
                let expiry_s = required(expiry, "expiry")?;
                if expiry_s < -1 {
                    return Err(Error::BadValue("expiry"));
                }
                Ok(Message::ReactiveAdvice(ReactiveAdvice {
                    id: required(id, "advice id")?,
                    network: required(network, "network")?,
                    reason: reason.unwrap_or(""),
                    expiry_s,
                    alternative,
                }))
            }
            ACK => {
                let mut id = None;
                for item in tlv::walk(value) {
                    if let (1, v) = item? {
                        id = Some(u32_of(v, "ack id")?);
                    }
                }
                Ok(Message::Ack {
                    id: required(id, "ack id")?,
                })
            }
            _ => Err(Error::BadValue("MIMM message type")),
        }
    }

    /// The TLVs of this message (the vendor extension's value).
    pub fn emit(&self, w: &mut Writer) -> Result<()> {
        match self {
            Message::Report(r) => {
                put_u32(w, 1, r.sequence)?;
                for s in &r.sessions {
                    let k = s.kbps.to_be_bytes();
                    put(
                        w,
                        2,
                        &[s.kind, u8::from(s.realtime), k[0], k[1], k[2], k[3]],
                    )?;
                }
                Ok(())
            }
            Message::IfaceReport(i) => {
                put_str(w, 1, i.name)?;
                put_u8(w, 2, i.kind)?;
                put_str(w, 3, i.network)?;
                put_u32(w, 4, i.metric_x100 as u32)?;
                put_u32(w, 5, i.rate_kbps)?;
                put_u8(w, 6, i.load_pct)?;
                put_u8(w, 7, u8::from(i.attached) | (u8::from(i.primary) << 1))
            }
            Message::RequestHandoff(r) => {
                put_str(w, 1, r.target_network)?;
                put_str(w, 2, r.target_iface)?;
                put(w, 3, &r.care_of.octets())
            }
            Message::HandoffAdvice(a) => {
                match a.verdict {
                    Verdict::Allow => put_u8(w, 1, 0)?,
                    Verdict::Deny => put_u8(w, 1, 1)?,
                    Verdict::RetryAfter(s) => {
                        put_u8(w, 1, 2)?;
                        put_u32(w, 2, s)?;
                    }
                }
                put_str(w, 3, a.reason)?;
                if let Some(alt) = a.alternative {
                    put_str(w, 4, alt)?;
                }
                put_u8(w, 5, u8::from(a.binding_done))
            }
            Message::ReactiveAdvice(a) => {
                if a.expiry_s < -1 {
                    return Err(Error::BadValue("expiry"));
                }
                put_u32(w, 1, a.id)?;
                put_str(w, 2, a.network)?;
                put_str(w, 3, a.reason)?;
                put_u32(w, 4, a.expiry_s as u32)?;
                if let Some(alt) = a.alternative {
                    put_str(w, 5, alt)?;
                }
                Ok(())
            }
            Message::Ack { id } => put_u32(w, 1, *id),
        }
    }
}
