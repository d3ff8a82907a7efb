//! Replay protection with timestamps (RFC 5944 section 5.7): the 64-bit
//! Identification is an NTP-format time (seconds since 1900 in the high 32
//! bits, fraction in the low 32). A receiver accepts an Identification
//! within `window` seconds of its own clock and newer than the last one it
//! accepted from the same sender; otherwise it answers code 133 with its own
//! time in the high 32 bits and the request's low 32 bits, so the sender can
//! resynchronise.

use core::time::Duration;

/// Seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix).
pub const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// The Identification for a time since the Unix epoch.
pub fn identification(since_unix_epoch: Duration) -> u64 {
    let secs = (since_unix_epoch.as_secs() + NTP_UNIX_OFFSET) & 0xffff_ffff;
    let frac = (u64::from(since_unix_epoch.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// The wall clock now as an Identification.
pub fn wall_identification() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    identification(since)
}

/// The two clocks a sender and a receiver of registrations need:
/// monotonic milliseconds for their timers, and the wall clock as an
/// Identification for replay checks and the messages they originate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub mono: u64,
    pub id: u64,
}

impl Now {
    /// `mono` with the wall clock read now.
    pub fn wall(mono: u64) -> Now {
        Now {
            mono,
            id: wall_identification(),
        }
    }
}

/// The seconds part of an Identification.
pub fn seconds(id: u64) -> u32 {
    (id >> 32) as u32
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Fresh,
    /// Outside the window of the receiver's clock.
    Stale,
    /// Not newer than the last accepted one: a replay.
    Replayed,
}

/// What one receiver remembers of one sender.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Guard {
    last: Option<u64>,
}

impl Guard {
    /// A guard for a sender not heard from before, refusing every
    /// Identification up to `floor`: what a receiver that forgot (it was
    /// restarted, or let an older guard go) may have accepted already.
    pub fn after(floor: Option<u64>) -> Guard {
        Guard { last: floor }
    }

    /// The last Identification accepted (or the floor it started with).
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// Judges `id` against the receiver's Identification `now` and the
    /// last accepted one; remembers it when fresh.
    pub fn check(&mut self, id: u64, now: u64, window_s: u32) -> Verdict {
        // Differences in the 32-bit seconds space, so 2036's wrap is harmless.
        let skew = seconds(id).wrapping_sub(seconds(now)) as i32;
        if skew.unsigned_abs() > window_s {
            return Verdict::Stale;
        }
        if self.last.is_some_and(|last| id <= last) {
            return Verdict::Replayed;
        }
        self.last = Some(id);
        Verdict::Fresh
    }
}

/// The Identification of a code-133 reply: the receiver's seconds, the
/// request's low 32 bits.
pub fn mismatch_identification(request_id: u64, now: u64) -> u64 {
    (now & 0xffff_ffff_0000_0000) | (request_id & 0xffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_order() {
        let now = identification(Duration::from_secs(1_800_000_000));
        assert_eq!(u64::from(seconds(now)), 1_800_000_000 + NTP_UNIX_OFFSET);
        let mut g = Guard::default();
        let a = identification(Duration::from_millis(1_800_000_000_500));
        assert_eq!(g.check(a, now, 7), Verdict::Fresh);
        assert_eq!(g.check(a, now, 7), Verdict::Replayed);
        let old = identification(Duration::from_secs(1_800_000_000 - 8));
        assert_eq!(g.check(old, now, 7), Verdict::Stale);
        let ahead = identification(Duration::from_secs(1_800_000_000 + 6));
        assert_eq!(g.check(ahead, now, 7), Verdict::Fresh);
        let reply = mismatch_identification(old, now);
        assert_eq!(seconds(reply), seconds(now));
        assert_eq!(reply & 0xffff_ffff, old & 0xffff_ffff);
    }
}
