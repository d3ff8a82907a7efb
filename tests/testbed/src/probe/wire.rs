//! The loss meter's packet, smoltcp style: a checked view over bytes and a
//! parsed representation. All fields are big-endian.
//!
//! ```text
//!  0      4    5     6       8         12        20          28          36
//!  +------+----+-----+-------+---------+---------+-----------+-----------+---- - -
//!  | MMP1 |kind|flags|reservd| stream  |   seq   |  sent_ns  | echoed_ns | padding
//!  +------+----+-----+-------+---------+---------+-----------+-----------+---- - -
//! ```

use std::fmt;

mod field {
    use std::ops::Range;
    pub const MAGIC: Range<usize> = 0..4;
    pub const KIND: usize = 4;
    pub const STREAM: Range<usize> = 8..12;
    pub const SEQ: Range<usize> = 12..20;
    pub const SENT: Range<usize> = 20..28;
    pub const ECHOED: Range<usize> = 28..36;
}

pub const HEADER_LEN: usize = field::ECHOED.end;
pub const MAGIC: [u8; 4] = *b"MMP1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A stream packet.
    Data = 1,
    /// A stream packet reflected back to its sender.
    Echo = 2,
    /// Opens the path through the router's NAT (inside → outside).
    Hello = 3,
    HelloAck = 4,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Kind> {
        Some(match v {
            1 => Kind::Data,
            2 => Kind::Echo,
            3 => Kind::Hello,
            4 => Kind::HelloAck,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    Truncated,
    BadMagic,
    UnknownKind(u8),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => write!(f, "shorter than {HEADER_LEN} bytes"),
            Error::BadMagic => f.write_str("not a probe packet"),
            Error::UnknownKind(k) => write!(f, "unknown kind {k}"),
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

    /// Checks the length once, so the accessors below never index out of range.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> Result<(), Error> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    fn u64_at(&self, range: std::ops::Range<usize>) -> u64 {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&self.buffer.as_ref()[range]);
        u64::from_be_bytes(bytes)
    }

    pub fn magic(&self) -> &[u8] {
        &self.buffer.as_ref()[field::MAGIC]
    }

    pub fn kind(&self) -> u8 {
        self.buffer.as_ref()[field::KIND]
    }

    pub fn stream(&self) -> u32 {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(&self.buffer.as_ref()[field::STREAM]);
        u32::from_be_bytes(bytes)
    }

    pub fn seq(&self) -> u64 {
        self.u64_at(field::SEQ)
    }

    pub fn sent_ns(&self) -> u64 {
        self.u64_at(field::SENT)
    }

    pub fn echoed_ns(&self) -> u64 {
        self.u64_at(field::ECHOED)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_magic(&mut self) {
        self.buffer.as_mut()[field::MAGIC].copy_from_slice(&MAGIC);
    }

    pub fn set_kind(&mut self, kind: Kind) {
        self.buffer.as_mut()[field::KIND] = kind as u8;
    }

    pub fn set_stream(&mut self, stream: u32) {
        self.buffer.as_mut()[field::STREAM].copy_from_slice(&stream.to_be_bytes());
    }

    pub fn set_seq(&mut self, seq: u64) {
        self.buffer.as_mut()[field::SEQ].copy_from_slice(&seq.to_be_bytes());
    }

    pub fn set_sent_ns(&mut self, t: u64) {
        self.buffer.as_mut()[field::SENT].copy_from_slice(&t.to_be_bytes());
    }

    pub fn set_echoed_ns(&mut self, t: u64) {
        self.buffer.as_mut()[field::ECHOED].copy_from_slice(&t.to_be_bytes());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub kind: Kind,
    pub stream: u32,
    pub seq: u64,
    pub sent_ns: u64,
    pub echoed_ns: u64,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr, Error> {
        packet.check_len()?;
        if packet.magic() != MAGIC {
            return Err(Error::BadMagic);
        }
        let kind = Kind::from_u8(packet.kind()).ok_or(Error::UnknownKind(packet.kind()))?;
        Ok(Repr {
            kind,
            stream: packet.stream(),
            seq: packet.seq(),
            sent_ns: packet.sent_ns(),
            echoed_ns: packet.echoed_ns(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header; bytes after it (padding) are left as they are.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_magic();
        packet.set_kind(self.kind);
        packet.buffer.as_mut()[5..8].fill(0);
        packet.set_stream(self.stream);
        packet.set_seq(self.seq);
        packet.set_sent_ns(self.sent_ns);
        packet.set_echoed_ns(self.echoed_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BYTES: [u8; 36] = [
        b'M', b'M', b'P', b'1', 2, 0, 0, 0, // magic, kind echo
        0xde, 0xad, 0xbe, 0xef, // stream
        0, 0, 0, 0, 0, 0, 0x01, 0x02, // seq 258
        0, 0, 0, 0, 0x3b, 0x9a, 0xca, 0x00, // sent 1 s
        0, 0, 0, 0, 0x77, 0x35, 0x94, 0x00, // echoed 2 s
    ];

    #[test]
    fn parses_and_emits_the_same_bytes() {
        let repr = Repr::parse(&Packet::new_checked(&BYTES[..]).unwrap()).unwrap();
        assert_eq!(
            repr,
            Repr {
                kind: Kind::Echo,
                stream: 0xdead_beef,
                seq: 258,
                sent_ns: 1_000_000_000,
                echoed_ns: 2_000_000_000,
            }
        );
        let mut out = [0xffu8; 40];
        repr.emit(&mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out[..36], BYTES);
        assert_eq!(out[36..], [0xff; 4]);
    }

    #[test]
    fn rejects_without_panicking() {
        assert_eq!(
            Packet::new_checked(&BYTES[..35]).err(),
            Some(Error::Truncated)
        );
        let mut bad = BYTES;
        bad[0] = b'X';
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&bad[..])),
            Err(Error::BadMagic)
        );
        bad = BYTES;
        bad[4] = 9;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&bad[..])),
            Err(Error::UnknownKind(9))
        );
        // Unchecked views of short buffers are still safe through parse.
        for len in 0..36 {
            assert!(Repr::parse(&Packet::new_unchecked(&BYTES[..len])).is_err());
        }
    }
}
