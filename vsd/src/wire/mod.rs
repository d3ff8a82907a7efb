//! The frames the VSD builds and looks into, smoltcp-style: a checked view
//! over bytes (`new_checked` once, then accessors that cannot panic) and a
//! parsed representation with `parse`/`emit`. No allocation, no panics on
//! any input.

pub mod arp;
pub mod ethernet;
pub mod icmpv6;
pub mod ipv6;

/// A frame or packet too short (or otherwise malformed) for its view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("malformed frame")
    }
}

impl std::error::Error for Malformed {}

pub type Result<T> = std::result::Result<T, Malformed>;

pub type Mac = [u8; 6];

pub const BROADCAST: Mac = [0xff; 6];

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// The Internet checksum (RFC 1071) of `data` added to `sum`, not yet folded.
pub fn checksum_add(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

/// The Internet checksum (RFC 1071) of `data`: the one for every header
/// the project builds (IPv4, ICMP, ICMPv6 with its pseudo-header added).
pub fn checksum(data: &[u8]) -> u16 {
    checksum_fold(checksum_add(0, data))
}

/// Folds a running sum into the one's complement checksum.
pub fn checksum_fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
