//! ICMPv6 Neighbor Advertisement (RFC 4861 section 4.4) with the target
//! link-layer address option: after a switch the VSD sends unsolicited ones
//! (Override set) to all nodes, so neighbours learn its MAC on the new path.

use std::net::Ipv6Addr;

use super::ipv6;
use super::{Mac, Malformed, Result, checksum_add, checksum_fold, put_u16, u16_at};

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const FLAGS: usize = 4;
    pub const TARGET: usize = 8;
    pub const OPTION: usize = 24;
    pub const OPTION_MAC: usize = 26;
    pub const END: usize = 32;
}

pub const NA_LEN: usize = field::END;
const TYPE_NEIGHBOR_ADVERTISEMENT: u8 = 136;
const OPTION_TARGET_LINK_LAYER: u8 = 2;
const FLAG_ROUTER: u8 = 0x80;
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;

/// All-nodes multicast (ff02::1) and its Ethernet address (RFC 2464).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
pub const ALL_NODES_MAC: Mac = [0x33, 0x33, 0, 0, 0, 1];

pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        if buffer.as_ref().len() < NA_LEN {
            return Err(Malformed);
        }
        Ok(Packet { buffer })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborAdvertisement {
    pub router: bool,
    pub solicited: bool,
    pub override_: bool,
    pub target: Ipv6Addr,
    pub target_mac: Mac,
}

impl NeighborAdvertisement {
    /// An unsolicited advertisement of `target` at `mac`.
    pub fn unsolicited(target: Ipv6Addr, mac: Mac) -> NeighborAdvertisement {
        NeighborAdvertisement {
            router: false,
            solicited: false,
            override_: true,
            target,
            target_mac: mac,
        }
    }

    /// Parses an advertisement carried in `ip` (checksum checked; RFC 4861
    /// requires hop limit 255, so one from off-link is refused).
    pub fn parse<T: AsRef<[u8]>>(ip: &ipv6::Repr, p: &Packet<T>) -> Result<NeighborAdvertisement> {
        let b = p.buffer.as_ref();
        if ip.next_header != ipv6::NEXT_HEADER_ICMPV6
            || ip.hop_limit != 255
            || usize::from(ip.payload_len) != NA_LEN
            || b[field::TYPE] != TYPE_NEIGHBOR_ADVERTISEMENT
            || b[field::CODE] != 0
            || b[field::OPTION] != OPTION_TARGET_LINK_LAYER
            || b[field::OPTION + 1] != 1
            || checksum_fold(checksum_add(ip.pseudo_header_sum(), &b[..NA_LEN])) != 0
        {
            return Err(Malformed);
        }
        let mut target = [0u8; 16];
        target.copy_from_slice(&b[field::TARGET..field::TARGET + 16]);
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&b[field::OPTION_MAC..field::OPTION_MAC + 6]);
        let flags = b[field::FLAGS];
        Ok(NeighborAdvertisement {
            router: flags & FLAG_ROUTER != 0,
            solicited: flags & FLAG_SOLICITED != 0,
            override_: flags & FLAG_OVERRIDE != 0,
            target: Ipv6Addr::from(target),
            target_mac: mac,
        })
    }

    /// Writes the advertisement and its checksum (`ip` is the header it goes in).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, ip: &ipv6::Repr, p: &mut Packet<T>) {
        let b = p.buffer.as_mut();
        b[..NA_LEN].fill(0);
        b[field::TYPE] = TYPE_NEIGHBOR_ADVERTISEMENT;
        b[field::FLAGS] = (if self.router { FLAG_ROUTER } else { 0 })
            | (if self.solicited { FLAG_SOLICITED } else { 0 })
            | (if self.override_ { FLAG_OVERRIDE } else { 0 });
        b[field::TARGET..field::TARGET + 16].copy_from_slice(&self.target.octets());
        b[field::OPTION] = OPTION_TARGET_LINK_LAYER;
        b[field::OPTION + 1] = 1;
        b[field::OPTION_MAC..field::OPTION_MAC + 6].copy_from_slice(&self.target_mac);
        let sum = checksum_fold(checksum_add(ip.pseudo_header_sum(), &b[..NA_LEN]));
        put_u16(b, field::CHECKSUM, sum);
    }

    pub fn checksum<T: AsRef<[u8]>>(p: &Packet<T>) -> u16 {
        u16_at(p.buffer.as_ref(), field::CHECKSUM)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0x6d, 0x69ff, 0xfe6d, 0x6d01);
    const MAC: Mac = [0x02, 0x6d, 0x69, 0x6d, 0x6d, 0x01];
    /// Computed by an independent implementation (Python, RFC 1071 sum).
    const NA: [u8; 32] = [
        0x88, 0x00, 0xd5, 0x0a, 0x20, 0x00, 0x00, 0x00, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x6d, 0x69, 0xff, 0xfe, 0x6d, 0x6d, 0x01, 0x02, 0x01, 0x02, 0x6d, 0x69, 0x6d,
        0x6d, 0x01,
    ];

    fn ip() -> ipv6::Repr {
        ipv6::Repr {
            source: SOURCE,
            destination: ALL_NODES,
            next_header: ipv6::NEXT_HEADER_ICMPV6,
            hop_limit: 255,
            payload_len: NA_LEN as u16,
        }
    }

    #[test]
    fn unsolicited_advertisement_bytes_and_checksum() {
        let mut out = [0u8; 32];
        let na = NeighborAdvertisement::unsolicited(SOURCE, MAC);
        na.emit(&ip(), &mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, NA);
        let back = NeighborAdvertisement::parse(&ip(), &Packet::new_checked(&NA[..]).unwrap());
        assert_eq!(back, Ok(na));
    }

    #[test]
    fn a_bad_checksum_or_hop_limit_is_refused() {
        let mut bad = NA;
        bad[3] ^= 1;
        let p = Packet::new_checked(&bad[..]).unwrap();
        assert!(NeighborAdvertisement::parse(&ip(), &p).is_err());
        let off_link = ipv6::Repr {
            hop_limit: 64,
            ..ip()
        };
        let p = Packet::new_checked(&NA[..]).unwrap();
        assert!(NeighborAdvertisement::parse(&off_link, &p).is_err());
        assert!(Packet::new_checked(&NA[..31]).is_err());
    }
}
