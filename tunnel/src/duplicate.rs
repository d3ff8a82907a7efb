//! Selective duplication: while the active path deteriorates, each packet
//! goes over two paths, flagged [`FLAG_DUPLICATE`] and numbered (the first
//! [`ID_LEN`] bytes of its plaintext, so authenticated); the receiver
//! passes the first copy of each number and drops the second. Each path's
//! own replay window cannot see it: the copies have their own keys and
//! sequence numbers.
//!
//! Numbers are 32 bits on the wire, extended here to 64 (nearest to the
//! highest seen) so they never wrap; a sender that restarted (numbers far
//! behind) starts the filter afresh instead of being dropped as old.

use crate::packet::FLAG_DUPLICATE;
use crate::replay_window::{ReplayWindow, Verdict};

/// The duplicate's number in front of the inner packet.
pub const ID_LEN: usize = 4;
/// A number this far behind the highest means the sender restarted.
const RESTART_DISTANCE: u64 = 1 << 20;

/// The numbering of one direction's duplicated packets (the sender's).
#[derive(Debug, Default)]
pub struct DupNumbers {
    next: u32,
}

impl DupNumbers {
    /// Writes the next number into `at` (its first [`ID_LEN`] bytes).
    pub fn stamp(&mut self, at: &mut [u8]) {
        at[..ID_LEN].copy_from_slice(&self.next.to_be_bytes());
        self.next = self.next.wrapping_add(1);
    }
}

#[derive(Debug, Default)]
pub struct DupFilter {
    window: ReplayWindow,
    highest: Option<u64>,
    /// Second copies dropped.
    pub dropped: u64,
}

impl DupFilter {
    /// The number `wire` as the 64-bit one nearest the highest seen.
    fn extend(&self, wire: u32) -> u64 {
        let Some(highest) = self.highest else {
            return u64::from(wire);
        };
        let base = highest & !0xffff_ffff;
        [base.wrapping_sub(1 << 32), base, base + (1 << 32)]
            .into_iter()
            .map(|b| b | u64::from(wire))
            .min_by_key(|&c| c.abs_diff(highest))
            .unwrap_or(u64::from(wire))
    }

    /// Whether the duplicated packet `plaintext` (its number first) is the
    /// first copy; the second is counted and should be dropped.
    pub fn first_copy(&mut self, plaintext: &[u8]) -> bool {
        let Some(wire) = plaintext.get(..ID_LEN) else {
            return false;
        };
        let id = self.extend(u32::from_be_bytes([wire[0], wire[1], wire[2], wire[3]]));
        if self
            .highest
            .is_some_and(|h| h > id && h - id >= RESTART_DISTANCE)
        {
            *self = DupFilter {
                dropped: self.dropped,
                ..DupFilter::default()
            };
        }
        match self.window.accept(id) {
            Verdict::Fresh => {
                self.highest = Some(self.highest.map_or(id, |h| h.max(id)));
                true
            }
            Verdict::Duplicate | Verdict::TooOld => {
                self.dropped += 1;
                false
            }
        }
    }
}

/// Whether a sealed packet's `flags` say it is a duplicate.
pub fn is_duplicate(flags: u8) -> bool {
    flags & FLAG_DUPLICATE != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(n: u32) -> [u8; 8] {
        let mut p = [0u8; 8];
        p[..4].copy_from_slice(&n.to_be_bytes());
        p
    }

    #[test]
    fn the_first_copy_passes_the_second_is_dropped_across_the_wrap_and_a_restart() {
        let mut f = DupFilter::default();
        let mut numbers = DupNumbers { next: u32::MAX - 2 };
        for _ in 0..6 {
            let mut p = [0u8; 8];
            numbers.stamp(&mut p);
            assert!(f.first_copy(&p), "first copy");
            assert!(!f.first_copy(&p), "second copy");
        }
        assert_eq!(f.dropped, 6);
        // Late first copies still pass; a number from before the window does not.
        assert!(!f.first_copy(&numbered(u32::MAX - 2)));
        // The sender restarted: numbers from 0 again are first copies.
        assert!(f.first_copy(&numbered(1_000_000_000)));
        assert!(f.first_copy(&numbered(0)), "far behind: a restart");
        assert!(f.first_copy(&numbered(1)));
        assert!(!f.first_copy(&numbered(1)));
        assert!(!f.first_copy(&[1, 2]), "too short");
    }
}
