//! Tunnel data packets on UDP 434: the RFC 3519 UDP tunnel header (type 4,
//! next header, reserved) and, in the sealed form, a 48-bit sequence
//! number and the inner IPv4 packet encrypted and authenticated with
//! ChaCha20-Poly1305 (RFC 8439), tag last. The first ten bytes are the
//! associated data: authenticated, not encrypted.
//!
//! ```text
//! sealed: 4 | 253 | flags | 0 | sequence (6) | ciphertext ... | tag (16)
//! clear:  4 |   4 | flags | 0 | IPv4 packet ...                      (cipher none)
//! ```
//!
//! RFC 3519's reserved field is ours: its first byte holds flags (in the
//! sealed form authenticated with the rest of the header). A clear packet
//! without flags is plain RFC 3519 IPv4 in UDP. [`FLAG_DUPLICATE`]: the
//! packet was sent over two paths at once, and its (plain)text starts with
//! the duplicate's number (see [`crate::duplicate`]) instead of IPv4.
//!
//! Next header 253 is RFC 3692's experimental number: a plain RFC 3519
//! peer reads the packet as tunnel data it does not decode. tshark 4.0
//! names it "NAT Traversal Tunnel Data", next header "Unknown (253)", and
//! then tries the rest as IPv4 anyway ("Bogus IP version"): nothing of the
//! inner packet shows (`server/tests/tshark_anchored.rs`).
//! With the outer IPv4 and UDP headers a sealed packet costs 54 bytes, a
//! clear one 32.

use core::ops::Range;

mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const NEXT_HEADER: usize = 1;
    pub const FLAGS: usize = 2;
    pub const RESERVED: usize = 3;
    pub const SEQUENCE: Range<usize> = 4..10;
    pub const CLEAR_PAYLOAD: usize = 4;
    pub const SEALED_PAYLOAD: usize = 10;
}

/// RFC 3519's message type for tunnel data (registrations are 1 and 3).
pub const TUNNEL_DATA: u8 = 4;
pub const NEXT_IPV4: u8 = 4;
pub const NEXT_SEALED: u8 = 253;
pub const TAG_LEN: usize = 16;
/// The associated data: everything before the ciphertext.
pub const SEALED_HEADER: usize = field::SEALED_PAYLOAD;
pub const CLEAR_HEADER: usize = field::CLEAR_PAYLOAD;
/// Tunnel bytes around a sealed inner packet (outer IPv4 and UDP not counted).
pub const SEALED_OVERHEAD: usize = SEALED_HEADER + TAG_LEN;
/// Sent over two paths; the plaintext starts with the duplicate's number.
pub const FLAG_DUPLICATE: u8 = 0x01;
const KNOWN_FLAGS: u8 = FLAG_DUPLICATE;
/// The largest sequence number: a binding that used them all registers again.
pub const MAX_SEQUENCE: u64 = (1 << 48) - 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Shorter than its header (and tag).
    Short,
    /// Not tunnel data: another message type on port 434 (a registration).
    NotTunnelData,
    /// Reserved bits set, or a next header this side does not carry.
    Header,
}

/// A tunnel data packet, checked to be whole for its kind.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Packet<T>, Malformed> {
        let b = buffer.as_ref();
        if b.len() < CLEAR_HEADER {
            return Err(Malformed::Short);
        }
        if b[field::TYPE] != TUNNEL_DATA {
            return Err(Malformed::NotTunnelData);
        }
        if b[field::FLAGS] & !KNOWN_FLAGS != 0 || b[field::RESERVED] != 0 {
            return Err(Malformed::Header);
        }
        match b[field::NEXT_HEADER] {
            NEXT_IPV4 => {}
            NEXT_SEALED if b.len() >= SEALED_OVERHEAD => {}
            NEXT_SEALED => return Err(Malformed::Short),
            _ => return Err(Malformed::Header),
        }
        Ok(Packet { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn is_sealed(&self) -> bool {
        self.b().get(field::NEXT_HEADER) == Some(&NEXT_SEALED)
    }

    pub fn flags(&self) -> u8 {
        self.b().get(field::FLAGS).copied().unwrap_or(0)
    }

    /// The sealed packet's sequence number (0 for a clear one).
    pub fn sequence(&self) -> u64 {
        let Some(s) = self.b().get(field::SEQUENCE).filter(|_| self.is_sealed()) else {
            return 0;
        };
        s.iter().fold(0, |n, &byte| (n << 8) | u64::from(byte))
    }

    /// Where the payload (the inner packet, or its ciphertext) sits.
    pub fn payload_range(&self) -> Range<usize> {
        let len = self.b().len();
        if self.is_sealed() {
            SEALED_HEADER..len.saturating_sub(TAG_LEN).max(SEALED_HEADER)
        } else {
            CLEAR_HEADER.min(len)..len
        }
    }

    pub fn payload(&self) -> &[u8] {
        &self.b()[self.payload_range()]
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Writes a sealed header with `sequence` and `flags` (the buffer
    /// holds at least [`SEALED_HEADER`] bytes).
    pub fn set_sealed_header(&mut self, sequence: u64, flags: u8) {
        let b = self.buffer.as_mut();
        b[field::TYPE] = TUNNEL_DATA;
        b[field::NEXT_HEADER] = NEXT_SEALED;
        b[field::FLAGS] = flags;
        b[field::RESERVED] = 0;
        let seq = sequence.to_be_bytes();
        b[field::SEQUENCE].copy_from_slice(&seq[2..]);
    }

    /// Writes a clear header with `flags` (the buffer holds at least
    /// [`CLEAR_HEADER`] bytes).
    pub fn set_clear_header(&mut self, flags: u8) {
        let b = self.buffer.as_mut();
        b[field::TYPE] = TUNNEL_DATA;
        b[field::NEXT_HEADER] = NEXT_IPV4;
        b[field::FLAGS] = flags;
        b[field::RESERVED] = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_written_read_back_and_bad_ones_are_refused() {
        let mut buf = [0u8; 40];
        Packet::new_unchecked(&mut buf[..]).set_sealed_header(0x0102_0304_0506, FLAG_DUPLICATE);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert!(p.is_sealed());
        assert_eq!(p.flags(), FLAG_DUPLICATE);
        let mut unknown_flag = buf;
        unknown_flag[2] = 0x80;
        assert_eq!(
            Packet::new_checked(&unknown_flag[..]).unwrap_err(),
            Malformed::Header
        );
        assert_eq!(p.sequence(), 0x0102_0304_0506);
        assert_eq!(p.payload_range(), 10..24);
        for short in 0..SEALED_OVERHEAD {
            assert!(Packet::new_checked(&buf[..short]).is_err(), "{short}");
        }
        Packet::new_unchecked(&mut buf[..]).set_clear_header(0);
        let p = Packet::new_checked(&buf[..6]).unwrap();
        assert_eq!(
            (p.is_sealed(), p.sequence(), p.payload()),
            (false, 0, &[1u8, 2][..]),
            "the clear payload starts after the four header bytes"
        );
        Packet::new_unchecked(&mut buf[..]).set_clear_header(FLAG_DUPLICATE);
        let p = Packet::new_checked(&buf[..6]).unwrap();
        assert_eq!((p.is_sealed(), p.flags()), (false, FLAG_DUPLICATE));
        let mut unknown_flag = buf;
        unknown_flag[2] = 0x80;
        assert_eq!(
            Packet::new_checked(&unknown_flag[..]).unwrap_err(),
            Malformed::Header
        );
        Packet::new_unchecked(&mut buf[..]).set_clear_header(0);
        let mut registration = buf;
        registration[0] = 1;
        assert_eq!(
            Packet::new_checked(&registration[..]).unwrap_err(),
            Malformed::NotTunnelData
        );
        let mut reserved = buf;
        reserved[3] = 1;
        assert_eq!(
            Packet::new_checked(&reserved[..]).unwrap_err(),
            Malformed::Header
        );
        let mut gre = buf;
        gre[1] = 47;
        assert_eq!(
            Packet::new_checked(&gre[..]).unwrap_err(),
            Malformed::Header
        );
    }
}
