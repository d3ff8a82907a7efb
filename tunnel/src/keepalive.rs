//! Keepalives through the tunnel: an ICMP Echo Request from the home
//! address to the anchor's own address, sealed like any packet. RFC 3519
//! sends keepalives to hold each path's NAT mapping; these also measure the
//! path: the anchor answers on the tunnel the request came in on (not the
//! client's downlink path), so every member, backups too, gets its own
//! round-trip time and loss. The router never hands them to its kernel.
//!
//! A keepalive marked *primary* also tells the anchor that this path now
//! carries the router's traffic: downlink moves to it. One marked
//! *duplicate* asks for a copy of every downlink packet over its path too
//! (selective duplication, see [`crate::duplicate`]); the next one without
//! the mark ends it. The router sends one
//! the moment it switches, so the downlink follows within half a round trip
//! even when no uplink packet would have shown the way.
//!
//! ```text
//! IPv4 (20, protocol 1) | type 8/0 | code 0 | checksum | id | seq | path (2) | flags (1) | pad (5)
//! ```

use std::net::Ipv4Addr;

mod field {
    use core::ops::Range;
    pub const VERSION_IHL: usize = 0;
    pub const TOTAL_LEN: Range<usize> = 2..4;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const IP_CHECKSUM: Range<usize> = 10..12;
    pub const SOURCE: Range<usize> = 12..16;
    pub const DESTINATION: Range<usize> = 16..20;
    pub const ICMP: usize = 20;
    pub const ICMP_TYPE: usize = 20;
    pub const ICMP_CODE: usize = 21;
    pub const ICMP_CHECKSUM: Range<usize> = 22..24;
    pub const ID: Range<usize> = 24..26;
    pub const SEQ: Range<usize> = 26..28;
    pub const PATH: Range<usize> = 28..30;
    pub const FLAGS: usize = 30;
}

/// A keepalive's length: headers and an 8-byte payload.
pub const ECHO_LEN: usize = 36;
const ECHO_REQUEST: u8 = 8;
const ECHO_REPLY: u8 = 0;
const PROTOCOL_ICMP: u8 = 1;
const FLAG_PRIMARY: u8 = 1;
const FLAG_DUPLICATE: u8 = 2;
/// Every keepalive carries this ICMP identifier ("mm"): a ping of the
/// anchor's address that an application sends through the tunnel has its
/// own, and the anchor's kernel answers that one.
pub const IDENTIFIER: u16 = 0x6d6d;

/// The Internet checksum (RFC 1071) of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum = data.chunks(2).fold(0u32, |s, c| {
        s + u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
    });
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn addr(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

fn fix_checksums(p: &mut [u8]) {
    p[field::IP_CHECKSUM].fill(0);
    let ip = checksum(&p[..field::ICMP]);
    p[field::IP_CHECKSUM].copy_from_slice(&ip.to_be_bytes());
    p[field::ICMP_CHECKSUM].fill(0);
    let icmp = checksum(&p[field::ICMP..ECHO_LEN]);
    p[field::ICMP_CHECKSUM].copy_from_slice(&icmp.to_be_bytes());
}

/// One keepalive: which path of the router sent it, its number, and
/// whether that path carries the router's traffic now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    pub path: u16,
    pub seq: u16,
    pub primary: bool,
    pub duplicate: bool,
}

/// Writes keepalive `k` into `out` (at least [`ECHO_LEN`] bytes); its length.
pub fn request(out: &mut [u8], home: Ipv4Addr, anchor: Ipv4Addr, k: Keepalive) -> usize {
    let p = &mut out[..ECHO_LEN];
    p.fill(0);
    p[field::VERSION_IHL] = 0x45;
    p[field::TOTAL_LEN].copy_from_slice(&(ECHO_LEN as u16).to_be_bytes());
    p[field::TTL] = 64;
    p[field::PROTOCOL] = PROTOCOL_ICMP;
    p[field::SOURCE].copy_from_slice(&home.octets());
    p[field::DESTINATION].copy_from_slice(&anchor.octets());
    p[field::ICMP_TYPE] = ECHO_REQUEST;
    p[field::ID].copy_from_slice(&IDENTIFIER.to_be_bytes());
    p[field::SEQ].copy_from_slice(&k.seq.to_be_bytes());
    p[field::PATH].copy_from_slice(&k.path.to_be_bytes());
    p[field::FLAGS] =
        if k.primary { FLAG_PRIMARY } else { 0 } | if k.duplicate { FLAG_DUPLICATE } else { 0 };
    fix_checksums(p);
    ECHO_LEN
}

/// A whole keepalive of `kind` (request or reply) with good checksums.
fn is_keepalive(p: &[u8], kind: u8) -> bool {
    p.len() == ECHO_LEN
        && p[field::VERSION_IHL] == 0x45
        && p[field::PROTOCOL] == PROTOCOL_ICMP
        && p[field::ICMP_TYPE] == kind
        && p[field::ICMP_CODE] == 0
        && p[field::ID] == IDENTIFIER.to_be_bytes()
        && checksum(&p[..field::ICMP]) == 0
        && checksum(&p[field::ICMP..]) == 0
}

fn read(p: &[u8]) -> Keepalive {
    let be = |r: core::ops::Range<usize>| u16::from_be_bytes([p[r.start], p[r.start + 1]]);
    Keepalive {
        path: be(field::PATH),
        seq: be(field::SEQ),
        primary: p[field::FLAGS] & FLAG_PRIMARY != 0,
        duplicate: p[field::FLAGS] & FLAG_DUPLICATE != 0,
    }
}

/// The anchor's side: when `packet` is a keepalive from `home` to `own`,
/// turns it into its answer in place and returns what it said.
pub fn answer_in_place(packet: &mut [u8], home: Ipv4Addr, own: Ipv4Addr) -> Option<Keepalive> {
    if !is_keepalive(packet, ECHO_REQUEST)
        || addr(&packet[field::SOURCE]) != home
        || addr(&packet[field::DESTINATION]) != own
    {
        return None;
    }
    let k = read(packet);
    packet[field::SOURCE].copy_from_slice(&own.octets());
    packet[field::DESTINATION].copy_from_slice(&home.octets());
    packet[field::ICMP_TYPE] = ECHO_REPLY;
    fix_checksums(packet);
    Some(k)
}

/// The router's side: the keepalive the anchor answered with `packet`.
pub fn answered(packet: &[u8], home: Ipv4Addr, anchor: Ipv4Addr) -> Option<Keepalive> {
    let ok = is_keepalive(packet, ECHO_REPLY)
        && addr(&packet[field::SOURCE]) == anchor
        && addr(&packet[field::DESTINATION]) == home;
    ok.then(|| read(packet))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: Ipv4Addr = Ipv4Addr::new(10, 64, 0, 2);
    const ANCHOR: Ipv4Addr = Ipv4Addr::new(10, 64, 0, 1);

    #[test]
    fn a_keepalive_is_answered_once_and_read_back() {
        let mut p = [0u8; 64];
        let k = Keepalive {
            path: 2,
            seq: 77,
            primary: true,
            duplicate: true,
        };
        let len = request(&mut p, HOME, ANCHOR, k);
        let p = &mut p[..len];
        assert_eq!(answered(p, HOME, ANCHOR), None, "a request is no answer");
        let elsewhere = Ipv4Addr::new(10, 64, 0, 3);
        assert_eq!(answer_in_place(p, elsewhere, ANCHOR), None, "not from home");
        assert_eq!(answer_in_place(p, HOME, ANCHOR), Some(k));
        assert_eq!(
            answer_in_place(p, HOME, ANCHOR),
            None,
            "an answer is not answered"
        );
        assert_eq!(answered(p, HOME, ANCHOR), Some(k));
        let mut broken = p.to_vec();
        broken[31] ^= 1;
        assert_eq!(answered(&broken, HOME, ANCHOR), None, "checksum");
        assert_eq!(answered(&p[..20], HOME, ANCHOR), None);
    }

    #[test]
    fn the_checksum_matches_rfc_1071s_example() {
        // RFC 1071 section 3: 0001 f203 f4f5 f6f7 sums to ddf2.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
    }

    #[test]
    fn no_input_panics() {
        for len in 0..ECHO_LEN + 2 {
            let mut p = vec![0x45u8; len];
            let _ = answered(&p, HOME, ANCHOR);
            let _ = answer_in_place(&mut p, HOME, ANCHOR);
        }
    }
}
