//! The impairment model of one direction of a link, without I/O: what happens to
//! a packet that arrives (lost, queued, refused) and when it leaves the rate
//! shaper and the delay line. The link feeds it times and lengths; tests feed it
//! virtual time.
//!
//! Rate limiting is a token bucket written as GCRA (a virtual scheduling
//! clock): each packet costs `len * 8 / rate` of link time, and a backlog leaves
//! at exactly the configured rate however late the loop wakes up, because
//! departure times are computed, not observed.

use serde::{Deserialize, Serialize};

use crate::clock::Nanos;
use crate::emu::rng::Rng;

/// Configured behaviour of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Rate in bit/s at the IP layer; `None` = unlimited.
    pub rate_bps: Option<u64>,
    /// One-way delay added to every packet.
    pub delay: Nanos,
    /// Loss probability, 0..=1, drawn per packet on arrival.
    pub loss: f64,
    /// Queue before the shaper, as time at the current rate (bufferbloat).
    pub queue: Nanos,
    /// Bucket depth: bytes that may leave back to back after an idle spell.
    pub burst_bytes: u32,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            rate_bps: None,
            delay: Nanos::ZERO,
            loss: 0.0,
            queue: Nanos::from_ms(150),
            burst_bytes: 3000,
        }
    }
}

/// Smallest queue, whatever the rate: a few full-size packets.
pub const MIN_QUEUE_BYTES: usize = 4 * 1514;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Packets that arrived from the device.
    pub arrived: u64,
    /// Packets and IP bytes handed to the other end.
    pub delivered: u64,
    pub delivered_bytes: u64,
    pub lost: u64,
    pub queue_full: u64,
    pub blackholed: u64,
    pub down: u64,
    /// No free slot in the ring (delay × rate larger than the ring holds).
    pub overflow: u64,
    /// The far device refused the packet (the kernel's answer to write()).
    pub send_failed: u64,
}

/// What happens to an arriving packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Queue,
    Lost,
    QueueFull,
    Blackholed,
    Down,
}

#[derive(Debug, Clone)]
pub struct Direction {
    params: Params,
    /// Nothing passes and nothing is queued (link down).
    down: bool,
    /// Arrivals before this instant are dropped (blackhole); `None` = not set.
    blackhole_until: Option<Nanos>,
    /// GCRA theoretical arrival time of the next packet.
    tat: Nanos,
    /// No departure before the last rate change: a packet held while the rate
    /// was 0 must not be sent in the past once it rises.
    not_before: Nanos,
    queued_bytes: usize,
    last_deliver: Nanos,
    rng: Rng,
    pub counters: Counters,
}

impl Direction {
    pub fn new(params: Params, seed: u64) -> Direction {
        Direction {
            params,
            down: false,
            blackhole_until: None,
            tat: Nanos::ZERO,
            not_before: Nanos::ZERO,
            queued_bytes: 0,
            last_deliver: Nanos::ZERO,
            rng: Rng::new(seed),
            counters: Counters::default(),
        }
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    pub fn is_down(&self) -> bool {
        self.down
    }

    pub fn blackhole_until(&self) -> Option<Nanos> {
        self.blackhole_until
    }

    /// Changes parameters at `now`. A rate change restarts the bucket's clock
    /// so that time spent blocked at rate 0 is not credited afterwards.
    pub fn set_params(&mut self, now: Nanos, params: Params) {
        if params.rate_bps != self.params.rate_bps {
            self.tat = self.tat.max(now);
            self.not_before = now;
        }
        self.params = params;
    }

    /// Marks the direction down (the caller flushes its ring) or up again.
    pub fn set_down(&mut self, down: bool, flushed: usize) {
        self.down = down;
        if down {
            self.counters.down += flushed as u64;
            self.queued_bytes = 0;
        }
    }

    /// Drops every arrival until `until` (`None` ends a blackhole at once).
    pub fn set_blackhole(&mut self, until: Option<Nanos>) {
        self.blackhole_until = until;
    }

    /// Ends an expired blackhole; true if one ended.
    pub fn expire_blackhole(&mut self, now: Nanos) -> bool {
        match self.blackhole_until {
            Some(until) if now >= until => {
                self.blackhole_until = None;
                true
            }
            _ => false,
        }
    }

    fn queue_limit(&self) -> usize {
        match self.params.rate_bps {
            Some(rate) => {
                let bytes = rate as u128 * self.params.queue.0 as u128 / 8_000_000_000;
                (bytes as usize).max(MIN_QUEUE_BYTES)
            }
            None => usize::MAX,
        }
    }

    /// Decides the fate of a packet of `len` IP bytes arriving at `now`. For
    /// `Admit::Queue` the caller must keep the packet at the queue's tail.
    /// `control` frames (ARP) are never refused for a full queue: see
    /// [`Link`](crate::emu::link::Link) for why.
    pub fn admit(&mut self, now: Nanos, len: usize, control: bool) -> Admit {
        self.counters.arrived += 1;
        let verdict = if self.down {
            Admit::Down
        } else if self.blackhole_until.is_some_and(|until| now < until) {
            Admit::Blackholed
        } else if self.rng.chance(self.params.loss) {
            Admit::Lost
        } else if !control && self.queued_bytes + len > self.queue_limit() {
            Admit::QueueFull
        } else {
            Admit::Queue
        };
        match verdict {
            Admit::Queue => self.queued_bytes += len,
            Admit::Lost => self.counters.lost += 1,
            Admit::QueueFull => self.counters.queue_full += 1,
            Admit::Blackholed => self.counters.blackholed += 1,
            Admit::Down => self.counters.down += 1,
        }
        verdict
    }

    /// Counts a packet dropped for want of a ring slot (after `admit`).
    pub fn overflowed(&mut self, len: usize) {
        self.queued_bytes -= len;
        self.counters.overflow += 1;
    }

    fn cost(&self, len: usize, rate: u64) -> Nanos {
        Nanos((len as u128 * 8_000_000_000 / rate.max(1) as u128) as u64)
    }

    /// When the queue's head packet (arrived at `arrival`) may leave the
    /// shaper; `None` while the rate is 0. GCRA checks conformance before the
    /// packet's own cost is charged, so its length is not needed here.
    pub fn departure(&self, arrival: Nanos) -> Option<Nanos> {
        let earliest = arrival.max(self.not_before);
        match self.params.rate_bps {
            None => Some(earliest),
            Some(0) => None,
            Some(rate) => {
                let tolerance = self.cost(self.params.burst_bytes as usize, rate);
                Some(earliest.max(self.tat.saturating_sub(tolerance)))
            }
        }
    }

    /// Records that the head packet left the shaper at `at`; returns when it
    /// must be delivered (never before an earlier packet: links do not reorder).
    pub fn depart(&mut self, at: Nanos, len: usize) -> Nanos {
        if let Some(rate) = self.params.rate_bps {
            self.tat = self.tat.max(at).saturating_add(self.cost(len, rate));
        }
        self.queued_bytes -= len;
        let deliver = at.saturating_add(self.params.delay).max(self.last_deliver);
        self.last_deliver = deliver;
        deliver
    }

    /// Counts a packet the far device refused.
    pub fn send_failed(&mut self) {
        self.counters.send_failed += 1;
    }

    /// Counts a packet handed to the far end.
    pub fn delivered(&mut self, len: usize) {
        self.counters.delivered += 1;
        self.counters.delivered_bytes += len as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// Feeds a saturating arrival process and returns (delivered bytes, last
    /// delivery) over `duration`, departing in virtual time.
    fn run(dir: &mut Direction, duration: Nanos, every: Nanos, len: usize) -> (u64, Vec<Nanos>) {
        let mut queue: std::collections::VecDeque<Nanos> = Default::default();
        let mut delivered = Vec::new();
        let mut bytes = 0;
        let mut t = Nanos::ZERO;
        while t < duration {
            if dir.admit(t, len, false) == Admit::Queue {
                queue.push_back(t);
            }
            while let Some(&arrival) = queue.front() {
                match dir.departure(arrival) {
                    Some(at) if at <= t => {
                        queue.pop_front();
                        let deliver = dir.depart(at, len);
                        if deliver < duration {
                            delivered.push(deliver);
                            bytes += len as u64;
                        }
                    }
                    _ => break,
                }
            }
            t = t.saturating_add(every);
        }
        (bytes, delivered)
    }

    #[test]
    fn rate_is_exact_under_backlog() {
        let params = Params {
            rate_bps: Some(20_000_000),
            ..Params::default()
        };
        let mut dir = Direction::new(params, 1);
        // 1500-byte packets every 0.5 ms = 24 Mbit/s offered, wakeups coarse.
        let (bytes, _) = run(&mut dir, Nanos(10_000 * MS), Nanos(MS / 2), 1500);
        let rate = bytes as f64 * 8.0 / 10.0;
        assert!((rate / 20e6 - 1.0).abs() < 0.002, "{rate}");
        assert!(dir.counters.queue_full > 0, "an overloaded queue must drop");
    }

    #[test]
    fn delay_is_added_and_order_kept_when_delay_shrinks() {
        let params = Params {
            delay: Nanos(40 * MS),
            ..Params::default()
        };
        let mut dir = Direction::new(params, 1);
        assert_eq!(dir.admit(Nanos(0), 100, false), Admit::Queue);
        let at = dir.departure(Nanos(0)).unwrap();
        assert_eq!(dir.depart(at, 100), Nanos(40 * MS));
        dir.set_params(
            Nanos(MS),
            Params {
                delay: Nanos(5 * MS),
                ..params
            },
        );
        assert_eq!(dir.admit(Nanos(MS), 100, false), Admit::Queue);
        let at = dir.departure(Nanos(MS)).unwrap();
        assert_eq!(dir.depart(at, 100), Nanos(40 * MS), "must not overtake");
    }

    #[test]
    fn loss_is_close_to_asked_and_reproducible() {
        let params = Params {
            loss: 0.05,
            ..Params::default()
        };
        let mut a = Direction::new(params, 42);
        let mut b = Direction::new(params, 42);
        let verdicts_a: Vec<Admit> = (0..100_000).map(|i| a.admit(Nanos(i), 10, false)).collect();
        let verdicts_b: Vec<Admit> = (0..100_000).map(|i| b.admit(Nanos(i), 10, false)).collect();
        assert_eq!(verdicts_a, verdicts_b);
        let lost = a.counters.lost as f64 / 100_000.0;
        assert!((0.045..0.055).contains(&lost), "{lost}");
    }

    #[test]
    fn control_frames_pass_a_full_queue_but_not_loss() {
        let params = Params {
            rate_bps: Some(8_000),
            loss: 0.0,
            ..Params::default()
        };
        let mut dir = Direction::new(params, 1);
        while dir.admit(Nanos(0), 1500, false) == Admit::Queue {}
        assert_eq!(dir.admit(Nanos(0), 1500, false), Admit::QueueFull);
        assert_eq!(dir.admit(Nanos(0), 28, true), Admit::Queue);
        dir.set_params(
            Nanos(0),
            Params {
                loss: 1.0,
                ..params
            },
        );
        assert_eq!(dir.admit(Nanos(0), 28, true), Admit::Lost);
    }

    #[test]
    fn blackhole_down_and_zero_rate() {
        let mut dir = Direction::new(Params::default(), 1);
        dir.set_blackhole(Some(Nanos(300)));
        assert_eq!(dir.admit(Nanos(299), 10, false), Admit::Blackholed);
        assert!(!dir.expire_blackhole(Nanos(299)));
        assert!(dir.expire_blackhole(Nanos(300)));
        assert_eq!(dir.admit(Nanos(300), 10, false), Admit::Queue);
        dir.set_down(true, 1);
        assert_eq!(dir.admit(Nanos(400), 10, false), Admit::Down);
        assert_eq!(dir.counters.down, 2);
        dir.set_down(false, 0);
        dir.set_params(
            Nanos(500),
            Params {
                rate_bps: Some(0),
                ..Params::default()
            },
        );
        assert_eq!(dir.admit(Nanos(500), 10, false), Admit::Queue);
        assert_eq!(dir.departure(Nanos(500)), None);
        dir.set_params(
            Nanos(9 * MS),
            Params {
                rate_bps: Some(8_000),
                ..Params::default()
            },
        );
        // A packet held while the rate was 0 leaves when the rate rises, not
        // in the past.
        assert_eq!(dir.departure(Nanos(500)), Some(Nanos(9 * MS)));
    }
}
