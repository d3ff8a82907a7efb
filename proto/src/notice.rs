//! The anchor's notice that it holds no binding for the source a tunnel
//! packet came from: it was restarted and remembers none, or a NAT moved
//! the client's mapping. RFC 3519 has no message for it (such a packet is
//! just dropped, and the client finds out when its binding runs out); this
//! is a Mobile IPv4 message of the type RFC 4064 sets aside for
//! experiments (255, "Message for Experimental Use" in tshark), on UDP 434
//! from the anchor's port, as the tunnel packets are.
//!
//! ```text
//! 255 | kind (1: no binding) | reserved (2, zero)
//! ```
//!
//! Unsigned: with no binding the anchor cannot tell whose packet it was,
//! so it has no key to sign with. It is a hint only: the client answers it
//! with a signed registration, rate-limited, and never takes it for the
//! end of a binding, so a forged one costs a renewal at most. Four bytes,
//! never more than the tunnel packet it answers (the shortest is four): the
//! anchor is no amplifier for a spoofed source.

use crate::error::{Error, Result};
use crate::field::{u8_at, u16_at};

mod field {
    pub const TYPE: usize = 0;
    pub const KIND: usize = 1;
    pub const RESERVED: usize = 2;
    pub const END: usize = 4;
}

/// RFC 4064's experimental Mobile IPv4 message type.
pub const EXPERIMENTAL: u8 = 255;
pub const LEN: usize = field::END;

/// What a notice says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No binding for the packet's source: register again.
    NoBinding,
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Kind::NoBinding => 1,
        }
    }
}

/// A notice, checked to be whole.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// An experimental message long enough for a notice.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet { buffer };
        match u8_at(p.b(), field::TYPE)? {
            EXPERIMENTAL if p.b().len() >= LEN => Ok(p),
            EXPERIMENTAL => Err(Error::Truncated),
            _ => Err(Error::BadValue("notice type")),
        }
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn kind(&self) -> u8 {
        u8_at(self.b(), field::KIND).unwrap_or(0)
    }

    pub fn reserved(&self) -> u16 {
        u16_at(self.b(), field::RESERVED).unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub kind: Kind,
}

impl Repr {
    /// A notice of a known kind with its reserved bytes zero; anything
    /// else (another experiment's message) is not one.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        if p.reserved() != 0 {
            return Err(Error::BadValue("notice reserved"));
        }
        match p.kind() {
            1 => Ok(Repr {
                kind: Kind::NoBinding,
            }),
            _ => Err(Error::BadValue("notice kind")),
        }
    }

    /// Writes the notice at the front of `buf`: its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let b = buf.get_mut(..LEN).ok_or(Error::BufferTooSmall)?;
        b[field::TYPE] = EXPERIMENTAL;
        b[field::KIND] = self.kind.code();
        b[field::RESERVED..field::END].fill(0);
        Ok(LEN)
    }
}

/// The notice `datagram` holds, if it is one.
pub fn parse(datagram: &[u8]) -> Result<Repr> {
    Repr::parse(&Packet::new_checked(datagram)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_BINDING: [u8; 4] = [255, 1, 0, 0];

    #[test]
    fn a_notice_reads_back_and_nothing_else_is_one() {
        let repr = Repr {
            kind: Kind::NoBinding,
        };
        let mut buf = [0xaa; 8];
        assert_eq!(repr.emit(&mut buf), Ok(LEN));
        assert_eq!(buf[..LEN], NO_BINDING);
        assert_eq!(parse(&buf[..LEN]), Ok(repr));
        assert_eq!(parse(&buf), Ok(repr), "trailing bytes are not looked at");
        assert_eq!(repr.emit(&mut [0; 3]), Err(Error::BufferTooSmall));
        for short in 0..LEN {
            assert!(parse(&NO_BINDING[..short]).is_err(), "{short}");
        }
        for (at, value) in [(0, 4), (0, 3), (1, 0), (1, 2), (2, 1), (3, 0x80)] {
            let mut other = NO_BINDING;
            other[at] = value;
            assert!(parse(&other).is_err(), "byte {at} = {value}");
        }
    }

    #[test]
    fn no_bytes_make_it_panic() {
        for a in 0..=255u8 {
            for b in [0u8, 1, 2, 255] {
                let bytes = [255, b, a, 0, a];
                for len in 0..=bytes.len() {
                    let _ = parse(&bytes[..len]);
                }
                let _ = parse(&[a]);
            }
        }
    }
}
