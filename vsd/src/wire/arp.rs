//! ARP for IPv4 over Ethernet (RFC 826), the only kind the VSD speaks: it
//! announces its address after a switch (RFC 5227 ARP Announcement: a
//! request whose sender and target address are both its own).

use std::net::Ipv4Addr;

use super::{Mac, Malformed, Result, put_u16, u16_at};

mod field {
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: usize = 8;
    pub const SPA: usize = 14;
    pub const THA: usize = 18;
    pub const TPA: usize = 24;
    pub const END: usize = 28;
}

pub const PACKET_LEN: usize = field::END;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Request,
    Reply,
}

impl Operation {
    fn code(self) -> u16 {
        match self {
            Operation::Request => 1,
            Operation::Reply => 2,
        }
    }
}

pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        if buffer.as_ref().len() < PACKET_LEN {
            return Err(Malformed);
        }
        Ok(Packet { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn hardware_type(&self) -> u16 {
        u16_at(self.b(), field::HTYPE)
    }

    pub fn protocol_type(&self) -> u16 {
        u16_at(self.b(), field::PTYPE)
    }

    pub fn operation(&self) -> u16 {
        u16_at(self.b(), field::OPER)
    }

    fn mac(&self, at: usize) -> Mac {
        let mut m = [0; 6];
        m.copy_from_slice(&self.b()[at..at + 6]);
        m
    }

    fn ip(&self, at: usize) -> Ipv4Addr {
        let b = self.b();
        Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub operation: Operation,
    pub sender_mac: Mac,
    pub sender_ip: Ipv4Addr,
    pub target_mac: Mac,
    pub target_ip: Ipv4Addr,
}

impl Repr {
    /// An announcement of `ip` at `mac` (RFC 5227 section 2.3).
    pub fn announcement(mac: Mac, ip: Ipv4Addr) -> Repr {
        Repr {
            operation: Operation::Request,
            sender_mac: mac,
            sender_ip: ip,
            target_mac: [0; 6],
            target_ip: ip,
        }
    }

    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        let b = p.b();
        if p.hardware_type() != 1
            || p.protocol_type() != super::ethernet::ETHERTYPE_IPV4
            || b[field::HLEN] != 6
            || b[field::PLEN] != 4
        {
            return Err(Malformed);
        }
        let operation = match p.operation() {
            1 => Operation::Request,
            2 => Operation::Reply,
            _ => return Err(Malformed),
        };
        Ok(Repr {
            operation,
            sender_mac: p.mac(field::SHA),
            sender_ip: p.ip(field::SPA),
            target_mac: p.mac(field::THA),
            target_ip: p.ip(field::TPA),
        })
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        let b = p.buffer.as_mut();
        put_u16(b, field::HTYPE, 1);
        put_u16(b, field::PTYPE, super::ethernet::ETHERTYPE_IPV4);
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
        put_u16(b, field::OPER, self.operation.code());
        b[field::SHA..field::SHA + 6].copy_from_slice(&self.sender_mac);
        b[field::SPA..field::SPA + 4].copy_from_slice(&self.sender_ip.octets());
        b[field::THA..field::THA + 6].copy_from_slice(&self.target_mac);
        b[field::TPA..field::TPA + 4].copy_from_slice(&self.target_ip.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gratuitous ARP request as Linux sends it (`arping -A`-style
    /// announcement), from a capture: 192.168.1.10 at 02:00:00:00:00:01.
    const ANNOUNCE: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 192,
        168, 1, 10, 0, 0, 0, 0, 0, 0, 192, 168, 1, 10,
    ];

    #[test]
    fn announcement_bytes_parse_and_emit() {
        let repr = Repr::parse(&Packet::new_checked(&ANNOUNCE[..]).unwrap()).unwrap();
        assert_eq!(
            repr,
            Repr::announcement([2, 0, 0, 0, 0, 1], Ipv4Addr::new(192, 168, 1, 10))
        );
        let mut out = [0u8; 28];
        repr.emit(&mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, ANNOUNCE);
    }

    #[test]
    fn other_hardware_or_lengths_are_refused() {
        assert!(Packet::new_checked(&ANNOUNCE[..27]).is_err());
        let mut bad = ANNOUNCE;
        bad[4] = 8;
        assert!(Repr::parse(&Packet::new_checked(&bad[..]).unwrap()).is_err());
        let mut bad = ANNOUNCE;
        bad[7] = 9;
        assert!(Repr::parse(&Packet::new_checked(&bad[..]).unwrap()).is_err());
    }
}
