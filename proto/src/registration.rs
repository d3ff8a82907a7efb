//! The fixed part of Mobile IPv4 Registration Requests and Replies
//! (RFC 5944, sections 3.3 and 3.4). All fields are in network byte order.
//!
//! ```text
//! Request (type 1, 24 bytes): type | S B D M G r T x | lifetime(2)
//!                             home address(4) | home agent(4) | care-of address(4)
//!                             identification(8) | extensions...
//! Reply   (type 3, 20 bytes): type | code | lifetime(2)
//!                             home address(4) | home agent(4)
//!                             identification(8) | extensions...
//! ```

use core::net::Ipv4Addr;

use crate::error::{Error, Result};
use crate::field::{Writer, ipv4_at, u8_at, u16_at, u64_at};

pub const REQUEST: u8 = 1;
pub const REPLY: u8 = 3;
pub const REQUEST_LEN: usize = 24;
pub const REPLY_LEN: usize = 20;

/// The Request's flag byte: S B D M G r T x, most significant bit first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// Simultaneous bindings.
    pub const S: u8 = 0x80;
    /// Broadcast datagrams.
    pub const B: u8 = 0x40;
    /// Decapsulation by the mobile node (co-located care-of address).
    pub const D: u8 = 0x20;
    /// Minimal encapsulation.
    pub const M: u8 = 0x10;
    /// GRE encapsulation.
    pub const G: u8 = 0x08;
    /// Reserved, sent as zero.
    pub const R: u8 = 0x04;
    /// Reverse tunnelling.
    pub const T: u8 = 0x02;
    /// Reserved, sent as zero.
    pub const X: u8 = 0x01;

    pub fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }
}

/// Reply codes this side sends or acts on (RFC 5944 section 3.4).
pub mod code {
    pub const ACCEPTED: u8 = 0;
    pub const DENIED: u8 = 128;
    pub const ADMINISTRATIVELY_PROHIBITED: u8 = 129;
    pub const INSUFFICIENT_RESOURCES: u8 = 130;
    pub const FAILED_AUTHENTICATION: u8 = 131;
    pub const IDENTIFICATION_MISMATCH: u8 = 133;
    pub const POORLY_FORMED: u8 = 134;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHeader {
    pub flags: Flags,
    pub lifetime: u16,
    pub home_address: Ipv4Addr,
    pub home_agent: Ipv4Addr,
    pub care_of: Ipv4Addr,
    pub identification: u64,
}

impl RequestHeader {
    /// The reply to this request (RFC 5944 3.4): home address, home agent and
    /// identification echoed; the lifetime granted only when accepted.
    pub fn reply(&self, code: u8) -> ReplyHeader {
        ReplyHeader {
            code,
            lifetime: if code == code::ACCEPTED {
                self.lifetime
            } else {
                0
            },
            home_address: self.home_address,
            home_agent: self.home_agent,
            identification: self.identification,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyHeader {
    pub code: u8,
    pub lifetime: u16,
    pub home_address: Ipv4Addr,
    pub home_agent: Ipv4Addr,
    pub identification: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    Request(RequestHeader),
    Reply(ReplyHeader),
}

impl Header {
    /// The header at the start of `b` and its length (where the extensions
    /// begin).
    pub fn parse(b: &[u8]) -> Result<(Header, usize)> {
        match u8_at(b, 0)? {
            REQUEST => {
                if b.len() < REQUEST_LEN {
                    return Err(Error::Truncated);
                }
                let h = RequestHeader {
                    flags: Flags(u8_at(b, 1)?),
                    lifetime: u16_at(b, 2)?,
                    home_address: ipv4_at(b, 4)?,
                    home_agent: ipv4_at(b, 8)?,
                    care_of: ipv4_at(b, 12)?,
                    identification: u64_at(b, 16)?,
                };
                Ok((Header::Request(h), REQUEST_LEN))
            }
            REPLY => {
                if b.len() < REPLY_LEN {
                    return Err(Error::Truncated);
                }
                let h = ReplyHeader {
                    code: u8_at(b, 1)?,
                    lifetime: u16_at(b, 2)?,
                    home_address: ipv4_at(b, 4)?,
                    home_agent: ipv4_at(b, 8)?,
                    identification: u64_at(b, 12)?,
                };
                Ok((Header::Reply(h), REPLY_LEN))
            }
            other => Err(Error::NotRegistration(other)),
        }
    }

    pub fn emit(&self, w: &mut Writer) -> Result<()> {
        match self {
            Header::Request(h) => {
                w.u8(REQUEST)?;
                w.u8(h.flags.0)?;
                w.u16(h.lifetime)?;
                w.bytes(&h.home_address.octets())?;
                w.bytes(&h.home_agent.octets())?;
                w.bytes(&h.care_of.octets())?;
                w.u64(h.identification)
            }
            Header::Reply(h) => {
                w.u8(REPLY)?;
                w.u8(h.code)?;
                w.u16(h.lifetime)?;
                w.bytes(&h.home_address.octets())?;
                w.bytes(&h.home_agent.octets())?;
                w.u64(h.identification)
            }
        }
    }

    pub fn identification(&self) -> u64 {
        match self {
            Header::Request(h) => h.identification,
            Header::Reply(h) => h.identification,
        }
    }

    pub fn home_address(&self) -> Ipv4Addr {
        match self {
            Header::Request(h) => h.home_address,
            Header::Reply(h) => h.home_address,
        }
    }
}
