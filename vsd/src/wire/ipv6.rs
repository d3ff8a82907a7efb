//! The fixed IPv6 header (RFC 8200), without extension headers: enough to
//! carry the neighbour advertisements the VSD sends.

use std::net::Ipv6Addr;

use super::{Malformed, Result, put_u16, u16_at};

mod field {
    pub const VERSION_CLASS_FLOW: usize = 0;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SOURCE: usize = 8;
    pub const DESTINATION: usize = 24;
    pub const PAYLOAD: usize = 40;
}

pub const HEADER_LEN: usize = field::PAYLOAD;
pub const NEXT_HEADER_ICMPV6: u8 = 58;

pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Checks the header and that the payload length fits the buffer.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN
            || b[0] >> 4 != 6
            || HEADER_LEN + usize::from(u16_at(b, field::PAYLOAD_LEN)) > b.len()
        {
            return Err(Malformed);
        }
        Ok(Packet { buffer })
    }

    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    fn addr(&self, at: usize) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[at..at + 16]);
        Ipv6Addr::from(a)
    }

    pub fn source(&self) -> Ipv6Addr {
        self.addr(field::SOURCE)
    }

    pub fn destination(&self) -> Ipv6Addr {
        self.addr(field::DESTINATION)
    }

    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[HEADER_LEN..HEADER_LEN + usize::from(u16_at(b, field::PAYLOAD_LEN))]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub source: Ipv6Addr,
    pub destination: Ipv6Addr,
    pub next_header: u8,
    pub hop_limit: u8,
    pub payload_len: u16,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            source: p.source(),
            destination: p.destination(),
            next_header: p.next_header(),
            hop_limit: p.hop_limit(),
            payload_len: p.payload().len() as u16,
        }
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        let b = p.buffer.as_mut();
        b[field::VERSION_CLASS_FLOW..field::VERSION_CLASS_FLOW + 4]
            .copy_from_slice(&[0x60, 0, 0, 0]);
        put_u16(b, field::PAYLOAD_LEN, self.payload_len);
        b[field::NEXT_HEADER] = self.next_header;
        b[field::HOP_LIMIT] = self.hop_limit;
        b[field::SOURCE..field::SOURCE + 16].copy_from_slice(&self.source.octets());
        b[field::DESTINATION..field::DESTINATION + 16].copy_from_slice(&self.destination.octets());
    }

    /// The upper-layer checksum's pseudo-header sum (RFC 8200 section 8.1).
    pub fn pseudo_header_sum(&self) -> u32 {
        let mut sum = super::checksum_add(0, &self.source.octets());
        sum = super::checksum_add(sum, &self.destination.octets());
        sum += u32::from(self.payload_len);
        sum + u32::from(self.next_header)
    }
}
