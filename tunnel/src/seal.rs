//! Sealing and opening tunnel packets in place, one direction of one
//! binding each: no allocation, and nothing unauthenticated gets through.
//! The opener checks the sequence number against its replay window before
//! the cipher runs (cheap drops for replays) and records it only after the
//! tag verified, so forged packets cannot move the window.
//!
//! With [`Cipher::None`] the same calls make and take clear packets: the
//! inner packet is still written at [`SEALED_HEADER`] and the packet still
//! starts at 0 (the inner packet moves up to the shorter header: one copy
//! of at most an MTU, far cheaper than the cipher it replaces), and opening
//! checks the form and flags only.

use core::ops::Range;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};

use crate::cipher::Cipher;
use crate::keys::KEY_LEN;
use crate::packet::{
    CLEAR_HEADER, MAX_SEQUENCE, Malformed, Packet, SEALED_HEADER, SEALED_OVERHEAD, TAG_LEN,
};
use crate::replay_window::{ReplayWindow, Verdict};

/// The AEAD of a sealed binding; `None` for a clear one.
fn aead(cipher: Cipher, key: &[u8; KEY_LEN]) -> Option<ChaCha20Poly1305> {
    match cipher {
        Cipher::ChaCha20Poly1305 => Some(ChaCha20Poly1305::new(Key::from_slice(key))),
        Cipher::None => None,
    }
}

/// The nonce: the sequence number, unique per key (one key per direction
/// and binding).
fn nonce(sequence: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&sequence.to_be_bytes());
    n.into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealError {
    /// The buffer cannot hold the header, the inner packet and the tag.
    TooSmall,
    /// Every sequence number was used: register again for new keys.
    Exhausted,
}

pub struct Sealer {
    aead: Option<ChaCha20Poly1305>,
    next: u64,
}

impl Sealer {
    /// A sealer with ChaCha20-Poly1305.
    pub fn new(key: &[u8; KEY_LEN]) -> Sealer {
        Sealer::with(Cipher::ChaCha20Poly1305, key)
    }

    pub fn with(cipher: Cipher, key: &[u8; KEY_LEN]) -> Sealer {
        Sealer {
            aead: aead(cipher, key),
            next: 0,
        }
    }

    /// Seals the inner packet already written at
    /// `buf[SEALED_HEADER..SEALED_HEADER + inner_len]`; the packet's length.
    pub fn seal(&mut self, buf: &mut [u8], inner_len: usize) -> Result<usize, SealError> {
        self.seal_flagged(buf, inner_len, 0)
    }

    /// [`Sealer::seal`] with header flags (`packet::FLAG_*`).
    pub fn seal_flagged(
        &mut self,
        buf: &mut [u8],
        inner_len: usize,
        flags: u8,
    ) -> Result<usize, SealError> {
        let Some(aead) = self.aead.as_ref() else {
            return clear(buf, inner_len, flags);
        };
        let len = inner_len + SEALED_OVERHEAD;
        if buf.len() < len {
            return Err(SealError::TooSmall);
        }
        if self.next > MAX_SEQUENCE {
            return Err(SealError::Exhausted);
        }
        let sequence = self.next;
        self.next += 1;
        Packet::new_unchecked(&mut buf[..]).set_sealed_header(sequence, flags);
        let (header, rest) = buf.split_at_mut(SEALED_HEADER);
        let (body, tag) = rest[..inner_len + TAG_LEN].split_at_mut(inner_len);
        let t = aead
            .encrypt_in_place_detached(&nonce(sequence), header, body)
            .map_err(|_| SealError::TooSmall)?;
        tag.copy_from_slice(&t);
        Ok(len)
    }

    /// Seals again, in place, a packet [`Opener::open_range`] opened to
    /// `inner` and the caller rewrote there (a keepalive's answer): the
    /// packet's length.
    pub fn seal_opened(
        &mut self,
        packet: &mut [u8],
        inner: Range<usize>,
    ) -> Result<usize, SealError> {
        if self.aead.is_some() {
            return self.seal(packet, inner.len());
        }
        // A clear packet opened where it lay: its header is still in front.
        Packet::new_unchecked(&mut packet[..]).set_clear_header(0);
        Ok(inner.end)
    }
}

/// The clear packet of the inner packet at `buf[SEALED_HEADER..][..inner_len]`,
/// moved up to follow the shorter header.
fn clear(buf: &mut [u8], inner_len: usize, flags: u8) -> Result<usize, SealError> {
    if buf.len() < SEALED_HEADER + inner_len {
        return Err(SealError::TooSmall);
    }
    buf.copy_within(SEALED_HEADER..SEALED_HEADER + inner_len, CLEAR_HEADER);
    Packet::new_unchecked(&mut buf[..]).set_clear_header(flags);
    Ok(CLEAR_HEADER + inner_len)
}

impl Sealer {
    /// Copies `inner` after the header in `out` and seals it there (for
    /// packets not already read into place: keepalives, tests).
    pub fn seal_into(&mut self, inner: &[u8], out: &mut [u8]) -> Result<usize, SealError> {
        let room = out
            .get_mut(SEALED_HEADER..SEALED_HEADER + inner.len())
            .ok_or(SealError::TooSmall)?;
        room.copy_from_slice(inner);
        self.seal(out, inner.len())
    }
}

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    Malformed(Malformed),
    /// A clear packet where the binding is sealed: unauthenticated.
    Clear,
    /// A sealed packet where the binding is clear (the ends disagree).
    Sealed,
    /// Seen already (or its duplicate on the other path).
    Replayed,
    /// Older than the replay window.
    TooOld,
    /// The tag did not verify: forged, corrupted, or another binding's.
    Forged,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenCounters {
    pub opened: u64,
    pub malformed: u64,
    pub clear: u64,
    pub sealed: u64,
    pub replayed: u64,
    pub too_old: u64,
    pub forged: u64,
}

pub struct Opener {
    aead: Option<ChaCha20Poly1305>,
    window: ReplayWindow,
    counters: OpenCounters,
}

impl Opener {
    /// An opener for ChaCha20-Poly1305.
    pub fn new(key: &[u8; KEY_LEN]) -> Opener {
        Opener::with(Cipher::ChaCha20Poly1305, key)
    }

    pub fn with(cipher: Cipher, key: &[u8; KEY_LEN]) -> Opener {
        Opener {
            aead: aead(cipher, key),
            window: ReplayWindow::default(),
            counters: OpenCounters::default(),
        }
    }

    pub fn counters(&self) -> OpenCounters {
        self.counters
    }

    /// Opens a sealed packet in place: the inner packet, or why it was
    /// dropped (counted).
    pub fn open<'a>(&mut self, packet: &'a mut [u8]) -> Result<&'a [u8], Dropped> {
        let inner = self.open_range(packet)?;
        Ok(&packet[inner])
    }

    /// [`Opener::open`]: where in `packet` the inner packet lies (after
    /// the header, whose length depends on the cipher).
    pub fn open_range(&mut self, packet: &mut [u8]) -> Result<Range<usize>, Dropped> {
        let result = self.try_open(packet);
        let c = &mut self.counters;
        match result {
            Ok(_) => c.opened += 1,
            Err(Dropped::Malformed(_)) => c.malformed += 1,
            Err(Dropped::Clear) => c.clear += 1,
            Err(Dropped::Sealed) => c.sealed += 1,
            Err(Dropped::Replayed) => c.replayed += 1,
            Err(Dropped::TooOld) => c.too_old += 1,
            Err(Dropped::Forged) => c.forged += 1,
        }
        result
    }

    fn try_open(&mut self, packet: &mut [u8]) -> Result<Range<usize>, Dropped> {
        let view = Packet::new_checked(&packet[..]).map_err(Dropped::Malformed)?;
        let Some(aead) = self.aead.as_ref() else {
            return if view.is_sealed() {
                Err(Dropped::Sealed)
            } else {
                Ok(view.payload_range())
            };
        };
        if !view.is_sealed() {
            return Err(Dropped::Clear);
        }
        let sequence = view.sequence();
        let body = view.payload_range();
        match self.window.check(sequence) {
            Verdict::Fresh => {}
            Verdict::Duplicate => return Err(Dropped::Replayed),
            Verdict::TooOld => return Err(Dropped::TooOld),
        }
        let (header, rest) = packet.split_at_mut(SEALED_HEADER);
        let inner_len = body.len();
        let (ciphertext, tag) = rest.split_at_mut(inner_len);
        let tag = *Tag::from_slice(tag);
        aead.decrypt_in_place_detached(&nonce(sequence), header, ciphertext, &tag)
            .map_err(|_| Dropped::Forged)?;
        // Only now, authenticated, does it move the window.
        if self.window.accept(sequence) != Verdict::Fresh {
            return Err(Dropped::Replayed);
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests;
