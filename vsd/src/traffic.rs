//! Whether traffic is dense enough to poll the active member's carrier
//! between frames (both modes: a shadow-MAC member's and an anchored path's
//! device, [`crate::carrier`]). A trickle (mimmd's probes, a keepalive) must
//! not keep the VSD awake a thousand times a second: sparse upstream frames
//! get the carrier read inline before they are sent, which is when a dead
//! member would cost them.

use mimm_io::clock::Nanos;

/// Frames counted per window...
const WINDOW: Nanos = Nanos(100_000_000);
/// ...from this many on (200 frames/s), traffic is dense...
const DENSE_FRAMES: u32 = 20;
/// ...and the carrier is polled until this long after it last was...
const DENSE_FOR: Nanos = Nanos(200_000_000);
/// ...this often.
pub const CARRIER_CHECK: Nanos = Nanos(1_000_000);

#[derive(Debug, Default)]
pub struct TrafficMeter {
    window_start: Nanos,
    frames: u32,
    dense_until: Nanos,
    carrier_checked: Nanos,
}

impl TrafficMeter {
    pub fn count(&mut self, now: Nanos, frames: usize) {
        if now.saturating_sub(self.window_start) >= WINDOW {
            self.window_start = now;
            self.frames = 0;
        }
        self.frames = self.frames.saturating_add(frames as u32);
        if self.frames >= DENSE_FRAMES {
            self.dense_until = now.saturating_add(DENSE_FOR);
        }
    }

    pub fn dense(&self, now: Nanos) -> bool {
        now < self.dense_until
    }

    /// Whether the carrier is due to be read again (at most once per
    /// [`CARRIER_CHECK`]); if so, it counts as read now.
    pub fn carrier_due(&mut self, now: Nanos) -> bool {
        if now.saturating_sub(self.carrier_checked) < CARRIER_CHECK {
            return false;
        }
        self.carrier_checked = now;
        true
    }

    /// When to wake to read the carrier again: while traffic is dense (a
    /// download's frames may all be arriving on a member that just died);
    /// with a trickle or none, never.
    pub fn carrier_wake(&self, now: Nanos) -> Option<Nanos> {
        self.dense(now).then(|| now.saturating_add(CARRIER_CHECK))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_trickle_is_not_dense_a_stream_is_for_a_while() {
        let mut m = TrafficMeter::default();
        // Probes and their answers: 2 frames every 150 ms.
        for i in 1..100 {
            m.count(Nanos(i * 150 * MS), 2);
            assert!(!m.dense(Nanos(i * 150 * MS)));
        }
        // A 1 kHz stream: dense within 20 ms, and for 200 ms after it stops.
        let start = 20_000 * MS;
        for i in 0..50 {
            m.count(Nanos(start + i * MS), 1);
        }
        assert!(m.dense(Nanos(start + 50 * MS)));
        assert!(m.dense(Nanos(start + 49 * MS + 199 * MS)));
        assert!(!m.dense(Nanos(start + 49 * MS + 201 * MS)));
    }
}
