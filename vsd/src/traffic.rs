//! Whether traffic is dense enough to poll the active member's carrier
//! between frames (both modes: a shadow-MAC member's and an anchored path's
//! device, [`crate::carrier`]). A trickle (mimmd's probes, a keepalive) must
//! not keep the VSD awake a thousand times a second: sparse upstream frames
//! get the carrier read inline before they are sent, which is when a dead
//! member would cost them.
//!
//! The kernel path's sockets see one frame in [`SAMPLE_EVERY`], at random,
//! and none once the carrier is gone (mirred drops what it redirects to a
//! device without one). So the carrier polling must outlast the gaps between
//! samples, or a loss waits for rtnetlink, which the kernel's linkwatch
//! holds back by up to a second after any other link's change on the
//! machine (a 753 ms hole in CI: the last sample had been over 200 ms
//! before, which a 1000 frame/s stream gives 4 % of the time).

use mimm_io::clock::Nanos;

use crate::packet::SAMPLE_EVERY;

/// Frames counted per window...
const WINDOW: Nanos = Nanos(100_000_000);
/// ...from this many on (200 frames/s), traffic is dense...
const DENSE_FRAMES: u32 = 20;
/// ...and the carrier is polled until this long after it last was...
const DENSE_FOR: Nanos = Nanos(200_000_000);
/// ...this often.
pub const CARRIER_CHECK: Nanos = Nanos(1_000_000);
/// Two samples this close (the gap the dense rate gives on average) mean
/// dense traffic; one alone is as likely a trickle's...
const SAMPLE_PAIR_WITHIN: Nanos = Nanos(WINDOW.0 / DENSE_FRAMES as u64 * SAMPLE_EVERY as u64);
/// ...and it stays dense this long after the last: a 1000 frame/s stream
/// goes a second without a sample once in six million.
pub const SAMPLED_DENSE_FOR: Nanos = Nanos(1_000_000_000);

#[derive(Debug, Default)]
pub struct TrafficMeter {
    window_start: Nanos,
    frames: u32,
    dense_until: Nanos,
    carrier_checked: Nanos,
    last_sample: Nanos,
}

impl TrafficMeter {
    pub fn count(&mut self, now: Nanos, frames: usize) {
        if now.saturating_sub(self.window_start) >= WINDOW {
            self.window_start = now;
            self.frames = 0;
        }
        self.frames = self.frames.saturating_add(frames as u32);
        if self.frames >= DENSE_FRAMES {
            self.dense_until = self.dense_until.max(now.saturating_add(DENSE_FOR));
        }
    }

    /// `samples` frames arrived on a sampled socket (each stands for
    /// [`SAMPLE_EVERY`]).
    pub fn count_sampled(&mut self, now: Nanos, samples: usize) {
        let paired = samples > 1 || now.saturating_sub(self.last_sample) <= SAMPLE_PAIR_WITHIN;
        self.last_sample = now;
        if paired {
            self.dense_until = self.dense_until.max(now.saturating_add(SAMPLED_DENSE_FOR));
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

    /// Frames at `rate` a second for `seconds`, each sampled one in
    /// [`SAMPLE_EVERY`] by a fixed-seed generator; the share of the
    /// milliseconds during which the meter was not dense.
    fn sampled_not_dense(rate: u64, seconds: u64) -> f64 {
        let mut m = TrafficMeter::default();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut sampled = || {
            // xorshift64: the kernel's sampler is a random draw as well.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % SAMPLE_EVERY as u64 == 0
        };
        let (start, mut not_dense) = (1_000 * MS, 0u64);
        let mut next_frame = start;
        for ms in 0..seconds * 1000 {
            let now = start + ms * MS;
            while next_frame <= now {
                if sampled() {
                    m.count_sampled(Nanos(next_frame), 1);
                }
                next_frame += 1_000_000_000 / rate;
            }
            if ms >= 2000 && !m.dense(Nanos(now)) {
                not_dense += 1;
            }
        }
        not_dense as f64 / ((seconds - 2) * 1000) as f64
    }

    #[test]
    fn sampled_stream_stays_dense_between_its_sparse_samples() {
        // 1000 frames/s: a sample every 64 ms on average, 200 ms apart 4 % of
        // the time; the meter must not let go in between.
        let at_1k = sampled_not_dense(1000, 600);
        assert!(at_1k < 1e-4, "1000 frames/s: not dense {at_1k}");
        // Dense traffic's own threshold (200 frames/s), mostly dense.
        let at_200 = sampled_not_dense(200, 600);
        assert!(at_200 < 0.3, "200 frames/s: not dense {at_200}");
        // A trickle (mimmd's probes, 10 frames/s): rarely (each time costs
        // a second of polling).
        let trickle = 1.0 - sampled_not_dense(10, 3600);
        assert!(trickle < 0.02, "10 frames/s: dense {trickle}");
    }
}
