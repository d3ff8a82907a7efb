//! Anti-replay for tunnel packets: the sliding window of RFC 4303 section
//! 3.4.3 kept as a bitmap ring (RFC 6479). A receiver accepts a sequence
//! number it has not seen yet that is newer than `highest - WINDOW`.
//!
//! One direction's packets arrive over two members at once while a handoff
//! overlaps or duplication is on, so reordering runs deep (the old path's
//! queue drains behind the new one's): the window is 1024 packets, 128
//! bytes per direction, no allocation. `check` is cheap and runs before the
//! packet is authenticated; only an authenticated packet is `accept`ed, so a
//! forger cannot move the window.

/// Packets behind the highest one still accepted.
pub const WINDOW: u64 = 1024;
const WORDS: usize = (WINDOW / 64) as usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Fresh,
    /// Seen already: a replay, or the duplicate of a duplicated packet.
    Duplicate,
    /// Older than the window: it cannot be told from a replay.
    TooOld,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayWindow {
    /// The highest sequence number accepted (`None`: none yet).
    highest: Option<u64>,
    /// Bit `seq % WINDOW` is set when `seq` (within the window) was seen.
    seen: [u64; WORDS],
}

impl Default for ReplayWindow {
    fn default() -> ReplayWindow {
        ReplayWindow {
            highest: None,
            seen: [0; WORDS],
        }
    }
}

fn slot(seq: u64) -> (usize, u64) {
    let bit = seq % WINDOW;
    ((bit / 64) as usize, 1 << (bit % 64))
}

impl ReplayWindow {
    /// What `seq` would be, without recording it.
    pub fn check(&self, seq: u64) -> Verdict {
        let Some(highest) = self.highest else {
            return Verdict::Fresh;
        };
        if seq > highest {
            return Verdict::Fresh;
        }
        if highest - seq >= WINDOW {
            return Verdict::TooOld;
        }
        let (word, mask) = slot(seq);
        if self.seen[word] & mask != 0 {
            Verdict::Duplicate
        } else {
            Verdict::Fresh
        }
    }

    /// Records an authenticated packet; its verdict says whether to deliver it.
    pub fn accept(&mut self, seq: u64) -> Verdict {
        let verdict = self.check(seq);
        if verdict != Verdict::Fresh {
            return verdict;
        }
        match self.highest {
            Some(highest) if seq <= highest => {}
            Some(highest) if seq - highest < WINDOW => {
                // The slots the window slides over held numbers a whole
                // window older: they are forgotten.
                for old in highest + 1..seq {
                    let (word, mask) = slot(old);
                    self.seen[word] &= !mask;
                }
                let (word, mask) = slot(seq);
                self.seen[word] &= !mask;
                self.highest = Some(seq);
            }
            _ => {
                self.seen = [0; WORDS];
                self.highest = Some(seq);
            }
        }
        let (word, mask) = slot(seq);
        self.seen[word] |= mask;
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn in_order_reordered_duplicate_and_too_old() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.accept(0), Verdict::Fresh);
        assert_eq!(w.accept(0), Verdict::Duplicate);
        assert_eq!(w.accept(5), Verdict::Fresh);
        assert_eq!(w.accept(3), Verdict::Fresh, "late, within the window");
        assert_eq!(w.accept(3), Verdict::Duplicate);
        assert_eq!(w.check(4), Verdict::Fresh, "check records nothing");
        assert_eq!(w.check(4), Verdict::Fresh);
        assert_eq!(w.accept(5 + WINDOW), Verdict::Fresh);
        assert_eq!(w.accept(5), Verdict::TooOld);
        assert_eq!(w.accept(6), Verdict::Fresh, "the oldest in the window");
        assert_eq!(
            w.accept(u64::MAX),
            Verdict::Fresh,
            "a jump clears the window"
        );
        assert_eq!(w.accept(6 + WINDOW), Verdict::TooOld);
        assert_eq!(w.accept(u64::MAX - 1), Verdict::Fresh);
        assert_eq!(w.accept(u64::MAX), Verdict::Duplicate);
    }

    proptest! {
        /// Against the obvious model: every number ever accepted, and the
        /// highest one.
        #[test]
        fn agrees_with_a_set_of_everything_seen(
            steps in proptest::collection::vec((0u64..3000, any::<bool>()), 0..400)
        ) {
            let mut w = ReplayWindow::default();
            let mut seen = std::collections::BTreeSet::new();
            for (seq, record) in steps {
                let highest = seen.last().copied();
                let want = match highest {
                    Some(h) if seq <= h && h - seq >= WINDOW => Verdict::TooOld,
                    _ if seen.contains(&seq) => Verdict::Duplicate,
                    _ => Verdict::Fresh,
                };
                let got = if record { w.accept(seq) } else { w.check(seq) };
                prop_assert_eq!(got, want, "seq {} after highest {:?}", seq, highest);
                if record && want == Verdict::Fresh {
                    seen.insert(seq);
                }
            }
        }
    }
}
