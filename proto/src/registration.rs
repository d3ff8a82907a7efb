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
use core::ops::Range;

use crate::error::{Error, Result};
use crate::field::{Writer, ipv4_at, u8_at, u16_at, u64_at};

mod field {
    use core::ops::Range;

    pub const TYPE: usize = 0;
    /// The Request's flags; the Reply's code sits in the same byte.
    pub const FLAGS: usize = 1;
    pub const CODE: usize = 1;
    pub const LIFETIME: usize = 2;
    pub const HOME_ADDRESS: usize = 4;
    pub const HOME_AGENT: usize = 8;
    /// Request only.
    pub const CARE_OF: usize = 12;
    pub const REQUEST_ID: Range<usize> = 16..24;
    pub const REPLY_ID: Range<usize> = 12..20;
}

pub const REQUEST: u8 = 1;
pub const REPLY: u8 = 3;
pub const REQUEST_LEN: usize = field::REQUEST_ID.end;
pub const REPLY_LEN: usize = field::REPLY_ID.end;

/// A registration message's fixed header, checked to be whole for its
/// type; its extensions follow. Getters on an unchecked view of a short
/// buffer read zeros rather than panic.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A Request or Reply long enough for its header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        let need = match u8_at(p.b(), field::TYPE)? {
            REQUEST => REQUEST_LEN,
            REPLY => REPLY_LEN,
            other => return Err(Error::NotRegistration(other)),
        };
        if p.b().len() < need {
            return Err(Error::Truncated);
        }
        Ok(p)
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn msg_type(&self) -> u8 {
        u8_at(self.b(), field::TYPE).unwrap_or(0)
    }

    pub fn is_request(&self) -> bool {
        self.msg_type() == REQUEST
    }

    pub fn flags(&self) -> Flags {
        Flags(u8_at(self.b(), field::FLAGS).unwrap_or(0))
    }

    pub fn code(&self) -> u8 {
        u8_at(self.b(), field::CODE).unwrap_or(0)
    }

    pub fn lifetime(&self) -> u16 {
        u16_at(self.b(), field::LIFETIME).unwrap_or(0)
    }

    pub fn home_address(&self) -> Ipv4Addr {
        ipv4_at(self.b(), field::HOME_ADDRESS).unwrap_or(Ipv4Addr::UNSPECIFIED)
    }

    pub fn home_agent(&self) -> Ipv4Addr {
        ipv4_at(self.b(), field::HOME_AGENT).unwrap_or(Ipv4Addr::UNSPECIFIED)
    }

    pub fn care_of(&self) -> Ipv4Addr {
        ipv4_at(self.b(), field::CARE_OF).unwrap_or(Ipv4Addr::UNSPECIFIED)
    }

    fn id_field(&self) -> Range<usize> {
        if self.is_request() {
            field::REQUEST_ID
        } else {
            field::REPLY_ID
        }
    }

    pub fn identification(&self) -> u64 {
        u64_at(self.b(), self.id_field().start).unwrap_or(0)
    }

    /// Where the extensions begin.
    pub fn header_len(&self) -> usize {
        self.id_field().end
    }

    pub fn extensions(&self) -> &[u8] {
        self.b().get(self.header_len()..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn put(&mut self, at: usize, bytes: &[u8]) {
        self.buffer.as_mut()[at..at + bytes.len()].copy_from_slice(bytes);
    }

    pub fn set_msg_type(&mut self, kind: u8) {
        self.put(field::TYPE, &[kind]);
    }

    pub fn set_flags(&mut self, flags: Flags) {
        self.put(field::FLAGS, &[flags.0]);
    }

    pub fn set_code(&mut self, code: u8) {
        self.put(field::CODE, &[code]);
    }

    pub fn set_lifetime(&mut self, lifetime: u16) {
        self.put(field::LIFETIME, &lifetime.to_be_bytes());
    }

    pub fn set_home_address(&mut self, a: Ipv4Addr) {
        self.put(field::HOME_ADDRESS, &a.octets());
    }

    pub fn set_home_agent(&mut self, a: Ipv4Addr) {
        self.put(field::HOME_AGENT, &a.octets());
    }

    pub fn set_care_of(&mut self, a: Ipv4Addr) {
        self.put(field::CARE_OF, &a.octets());
    }

    /// After the type is set (it decides where the field is).
    pub fn set_identification(&mut self, id: u64) {
        let at = self.id_field().start;
        self.put(at, &id.to_be_bytes());
    }
}

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
    /// The home agent does not carry the encapsulation asked for (here:
    /// the client's tunnel cipher is not the anchor's).
    pub const ENCAPSULATION_UNAVAILABLE: u8 = 139;
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
        let p = Packet::new_checked(b)?;
        Ok((Header::from_packet(&p), p.header_len()))
    }

    /// The header a checked view holds.
    pub fn from_packet<T: AsRef<[u8]>>(p: &Packet<T>) -> Header {
        if p.is_request() {
            Header::Request(RequestHeader {
                flags: p.flags(),
                lifetime: p.lifetime(),
                home_address: p.home_address(),
                home_agent: p.home_agent(),
                care_of: p.care_of(),
                identification: p.identification(),
            })
        } else {
            Header::Reply(ReplyHeader {
                code: p.code(),
                lifetime: p.lifetime(),
                home_address: p.home_address(),
                home_agent: p.home_agent(),
                identification: p.identification(),
            })
        }
    }

    pub fn header_len(&self) -> usize {
        match self {
            Header::Request(_) => REQUEST_LEN,
            Header::Reply(_) => REPLY_LEN,
        }
    }

    /// Writes the header into a buffer at least [`Header::header_len`] long.
    pub fn emit_into<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        match self {
            Header::Request(h) => {
                p.set_msg_type(REQUEST);
                p.set_flags(h.flags);
                p.set_lifetime(h.lifetime);
                p.set_home_address(h.home_address);
                p.set_home_agent(h.home_agent);
                p.set_care_of(h.care_of);
                p.set_identification(h.identification);
            }
            Header::Reply(h) => {
                p.set_msg_type(REPLY);
                p.set_code(h.code);
                p.set_lifetime(h.lifetime);
                p.set_home_address(h.home_address);
                p.set_home_agent(h.home_agent);
                p.set_identification(h.identification);
            }
        }
    }

    pub fn emit(&self, w: &mut Writer) -> Result<()> {
        let mut p = Packet::new_unchecked(w.take(self.header_len())?);
        self.emit_into(&mut p);
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_reads_what_the_repr_wrote_and_refuses_short_headers() {
        let request = Header::Request(RequestHeader {
            flags: Flags(Flags::S | Flags::D),
            lifetime: 600,
            home_address: Ipv4Addr::new(10, 64, 0, 2),
            home_agent: Ipv4Addr::new(192, 0, 2, 1),
            care_of: Ipv4Addr::new(100, 64, 1, 7),
            identification: 0x0102_0304_0506_0708,
        });
        let reply = match request {
            Header::Request(r) => Header::Reply(r.reply(code::ACCEPTED)),
            Header::Reply(_) => unreachable!(),
        };
        for header in [request, reply] {
            let mut buf = [0xffu8; 32];
            let mut w = Writer::new(&mut buf);
            header.emit(&mut w).unwrap();
            let len = w.len();
            assert_eq!(len, header.header_len());
            let p = Packet::new_checked(&buf[..]).unwrap();
            assert_eq!(Header::from_packet(&p), header);
            assert_eq!(p.extensions(), &[0xffu8; 32][len..]);
            for short in 0..len {
                assert!(Packet::new_checked(&buf[..short]).is_err(), "{short}");
            }
        }
        // An unchecked view of nothing reads zeros.
        let empty = Packet::new_unchecked(&[][..]);
        assert_eq!((empty.msg_type(), empty.identification()), (0, 0));
        assert_eq!(
            Packet::new_checked(&[2u8; 24][..]).unwrap_err(),
            Error::NotRegistration(2)
        );
    }
}
