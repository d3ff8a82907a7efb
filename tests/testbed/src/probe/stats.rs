//! What the loss meter's receiver (and, with echo, its sender) make of the
//! packets they see. Pure: fed sequence numbers and times, so it is tested
//! with made-up arrivals. All storage is sized when the stream starts.

use serde::{Deserialize, Serialize};

use crate::clock::Nanos;

/// Min / average / median / 99th percentile / max, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub min_ms: f64,
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    /// From samples in microseconds (reordered in place).
    fn of(samples: &mut [u32]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let n = samples.len();
        let pick = |q: f64| samples[((n - 1) as f64 * q).round() as usize] as f64 / 1e3;
        let sum: u64 = samples.iter().map(|&s| s as u64).sum();
        Some(Summary {
            min_ms: samples[0] as f64 / 1e3,
            avg_ms: sum as f64 / n as f64 / 1e3,
            p50_ms: pick(0.5),
            p99_ms: pick(0.99),
            max_ms: samples[n - 1] as f64 / 1e3,
        })
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Second {
    sent: u64,
    received: u64,
    duplicated: u64,
    /// Longest gap between arrivals that ended in this second.
    gap: Nanos,
    owd_sum_us: u64,
    owd_max_us: u32,
}

/// One second of the stream, by send time (gap: by arrival time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondReport {
    pub t_s: u64,
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub gap_ms: f64,
    pub owd_avg_ms: Option<f64>,
    pub owd_max_ms: Option<f64>,
}

/// A set of sequence numbers 0..total, for duplicate detection.
struct Seen {
    bits: Vec<u64>,
}

impl Seen {
    fn new(total: u64) -> Seen {
        Seen {
            bits: vec![0; total.div_ceil(64) as usize],
        }
    }

    /// Marks `seq`; false if it was already marked.
    fn insert(&mut self, seq: u64) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        let was = self.bits[word] & (1 << bit) != 0;
        self.bits[word] |= 1 << bit;
        !was
    }
}

pub struct StreamStats {
    start: Nanos,
    total: u64,
    ip_len: usize,
    sent: u64,
    seen: Seen,
    received: u64,
    duplicated: u64,
    reordered: u64,
    stray: u64,
    highest: Option<u64>,
    first_arrival: Option<Nanos>,
    last_arrival: Option<Nanos>,
    longest_gap: Nanos,
    longest_gap_end: Nanos,
    /// Gaps of two sending intervals or more: (ended, length).
    gaps: Vec<(Nanos, Nanos)>,
    /// The sending interval.
    interval: Nanos,
    owd_us: Vec<u32>,
    seconds: Vec<Second>,
}

impl StreamStats {
    /// A stream of `total` packets of `ip_len` bytes starting at `start`, over
    /// `seconds` seconds (plus the drain).
    pub fn new(start: Nanos, total: u64, ip_len: usize, seconds: u64) -> StreamStats {
        StreamStats {
            start,
            total,
            ip_len,
            sent: 0,
            seen: Seen::new(total),
            received: 0,
            duplicated: 0,
            reordered: 0,
            stray: 0,
            highest: None,
            first_arrival: None,
            last_arrival: None,
            longest_gap: Nanos::ZERO,
            longest_gap_end: Nanos::ZERO,
            gaps: Vec::new(),
            interval: Nanos(seconds.max(1) * 1_000_000_000 / total.max(1)),
            owd_us: Vec::with_capacity(total as usize),
            seconds: vec![Second::default(); seconds.max(1) as usize + 1],
        }
    }

    fn second(&mut self, t: Nanos) -> &mut Second {
        let index = (t.saturating_sub(self.start).0 / 1_000_000_000) as usize;
        let last = self.seconds.len() - 1;
        &mut self.seconds[index.min(last)]
    }

    pub fn on_sent(&mut self, sent_at: Nanos) {
        self.sent += 1;
        self.second(sent_at).sent += 1;
    }

    pub fn on_arrival(&mut self, seq: u64, sent_at: Nanos, arrival: Nanos) {
        if seq >= self.total {
            self.stray += 1;
            return;
        }
        if !self.seen.insert(seq) {
            self.duplicated += 1;
            self.second(sent_at).duplicated += 1;
            return;
        }
        self.received += 1;
        if self.highest.is_some_and(|h| seq < h) {
            self.reordered += 1;
        }
        self.highest = Some(self.highest.map_or(seq, |h| h.max(seq)));
        if let Some(last) = self.last_arrival {
            let gap = arrival.saturating_sub(last);
            if gap > self.longest_gap {
                self.longest_gap = gap;
                self.longest_gap_end = arrival;
            }
            // Two sending intervals or more: a hole, not the stream's beat.
            if gap.0 >= 2 * self.interval.0 && self.gaps.len() < MAX_GAPS {
                self.gaps.push((arrival, gap));
            }
            let second = self.second(arrival);
            second.gap = second.gap.max(gap);
        }
        self.first_arrival.get_or_insert(arrival);
        self.last_arrival = Some(arrival);
        let owd = (arrival.saturating_sub(sent_at).0 / 1_000).min(u32::MAX as u64) as u32;
        self.owd_us.push(owd);
        let second = self.second(sent_at);
        second.received += 1;
        second.owd_sum_us += owd as u64;
        second.owd_max_us = second.owd_max_us.max(owd);
    }

    pub fn received(&self) -> u64 {
        self.received
    }

    pub fn report(&mut self) -> StreamReport {
        let lost = self.sent.saturating_sub(self.received);
        let span = match (self.first_arrival, self.last_arrival) {
            (Some(a), Some(b)) if b > a => b.saturating_sub(a).0 as f64 / 1e9,
            _ => 0.0,
        };
        let rx_kbps = if span > 0.0 {
            // n arrivals span n-1 intervals.
            (self.received.saturating_sub(1) * self.ip_len as u64) as f64 * 8.0 / span / 1e3
        } else {
            0.0
        };
        let used = self
            .seconds
            .iter()
            .rposition(|s| s.sent > 0 || s.received > 0)
            .map_or(0, |i| i + 1);
        let timeline = self.seconds[..used]
            .iter()
            .enumerate()
            .map(|(t, s)| SecondReport {
                t_s: t as u64,
                sent: s.sent,
                received: s.received,
                lost: s.sent.saturating_sub(s.received),
                duplicated: s.duplicated,
                gap_ms: round3(s.gap.as_ms_f64()),
                owd_avg_ms: (s.received > 0)
                    .then(|| round3(s.owd_sum_us as f64 / s.received as f64 / 1e3)),
                owd_max_ms: (s.received > 0).then(|| round3(s.owd_max_us as f64 / 1e3)),
            })
            .collect();
        StreamReport {
            sent: self.sent,
            received: self.received,
            lost,
            loss_pct: if self.sent > 0 {
                round3(lost as f64 * 100.0 / self.sent as f64)
            } else {
                0.0
            },
            duplicated: self.duplicated,
            reordered: self.reordered,
            stray: self.stray,
            longest_gap_ms: round3(self.longest_gap.as_ms_f64()),
            longest_gap_end_s: round3(
                self.longest_gap_end.saturating_sub(self.start).as_ms_f64() / 1e3,
            ),
            rx_kbps: round3(rx_kbps),
            owd_ms: Summary::of(&mut self.owd_us).map(round_summary),
            gaps: self
                .gaps
                .iter()
                .map(|&(end, gap)| Gap {
                    end_s: round3(end.saturating_sub(self.start).as_ms_f64() / 1e3),
                    gap_ms: round3(gap.as_ms_f64()),
                })
                .collect(),
            timeline,
        }
    }
}

/// Round trips of echoed packets, seen by the sender.
pub struct RttStats {
    seen: Seen,
    total: u64,
    received: u64,
    rtt_us: Vec<u32>,
}

impl RttStats {
    pub fn new(total: u64) -> RttStats {
        RttStats {
            seen: Seen::new(total),
            total,
            received: 0,
            rtt_us: Vec::with_capacity(total as usize),
        }
    }

    pub fn on_echo(&mut self, seq: u64, sent_at: Nanos, now: Nanos) {
        if seq < self.total && self.seen.insert(seq) {
            self.received += 1;
            let rtt = now.saturating_sub(sent_at).0 / 1_000;
            self.rtt_us.push(rtt.min(u32::MAX as u64) as u32);
        }
    }

    pub fn report(&mut self, sent: u64) -> RttReport {
        let lost = sent.saturating_sub(self.received);
        RttReport {
            received: self.received,
            lost,
            loss_pct: if sent > 0 {
                round3(lost as f64 * 100.0 / sent as f64)
            } else {
                0.0
            },
            rtt_ms: Summary::of(&mut self.rtt_us).map(round_summary),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamReport {
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub loss_pct: f64,
    pub duplicated: u64,
    pub reordered: u64,
    /// Packets with sequence numbers beyond the stream (should stay 0).
    pub stray: u64,
    pub longest_gap_ms: f64,
    /// When the longest gap ended, seconds from the stream's start.
    pub longest_gap_end_s: f64,
    /// Received IP-layer throughput between first and last arrival.
    pub rx_kbps: f64,
    /// One-way delay (sender and receiver share this machine's clock).
    pub owd_ms: Option<Summary>,
    /// Every gap of two sending intervals or more (the first [`MAX_GAPS`]),
    /// to tell an event's gap from a scheduling hiccup elsewhere.
    #[serde(default)]
    pub gaps: Vec<Gap>,
    pub timeline: Vec<SecondReport>,
}

pub const MAX_GAPS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    /// When it ended, seconds from the stream's start.
    pub end_s: f64,
    pub gap_ms: f64,
}

impl StreamReport {
    /// The longest gap that ended between `from_s` and `to_s` (seconds from
    /// the stream's start); 0 if none of two intervals or more did.
    pub fn longest_gap_between(&self, from_s: f64, to_s: f64) -> f64 {
        self.gaps
            .iter()
            .filter(|g| (from_s..=to_s).contains(&g.end_s))
            .map(|g| g.gap_ms)
            .fold(0.0, f64::max)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RttReport {
    pub received: u64,
    pub lost: u64,
    pub loss_pct: f64,
    pub rtt_ms: Option<Summary>,
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn round_summary(s: Summary) -> Summary {
    Summary {
        min_ms: round3(s.min_ms),
        avg_ms: round3(s.avg_ms),
        p50_ms: round3(s.p50_ms),
        p99_ms: round3(s.p99_ms),
        max_ms: round3(s.max_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn counts_loss_gap_duplicates_and_reordering() {
        let mut s = StreamStats::new(Nanos(0), 2000, 128, 2);
        for seq in 0..2000u64 {
            let sent = Nanos(seq * MS);
            s.on_sent(sent);
            // 300 packets (500..800) vanish; 1000 arrives twice; 1500/1501 swap.
            if (500..800).contains(&seq) {
                continue;
            }
            let arrival = Nanos(sent.0 + 10 * MS);
            match seq {
                1500 => s.on_arrival(1501, Nanos(1501 * MS), arrival),
                1501 => s.on_arrival(1500, Nanos(1500 * MS), arrival),
                _ => s.on_arrival(seq, sent, arrival),
            }
            if seq == 1000 {
                s.on_arrival(seq, sent, arrival);
            }
        }
        s.on_arrival(99_999, Nanos(0), Nanos(0));
        let r = s.report();
        assert_eq!((r.sent, r.received, r.lost), (2000, 1700, 300));
        assert_eq!((r.duplicated, r.reordered, r.stray), (1, 1, 1));
        assert_eq!(r.longest_gap_ms, 301.0);
        assert_eq!(r.longest_gap_end_s, 0.81);
        assert_eq!(r.longest_gap_between(0.8, 0.82), 301.0);
        assert_eq!(r.longest_gap_between(0.0, 0.5), 0.0);
        assert_eq!(r.loss_pct, 15.0);
        assert_eq!(r.owd_ms.unwrap().p50_ms, 10.0);
        assert_eq!(r.timeline.len(), 2);
        assert_eq!((r.timeline[0].sent, r.timeline[0].lost), (1000, 300));
        assert_eq!(r.timeline[0].gap_ms, 301.0);
        assert_eq!(r.timeline[1].lost, 0);
        // 1700 packets of 128 bytes from 10 ms to 2009 ms, the gap included.
        let want = 1699.0 * 128.0 * 8.0 / 1.999 / 1e3;
        assert!((r.rx_kbps - want).abs() < 0.01, "{} vs {want}", r.rx_kbps);
    }

    #[test]
    fn rtt_ignores_duplicates_and_strays() {
        let mut r = RttStats::new(10);
        r.on_echo(1, Nanos(0), Nanos(80 * MS));
        r.on_echo(1, Nanos(0), Nanos(90 * MS));
        r.on_echo(11, Nanos(0), Nanos(90 * MS));
        let report = r.report(10);
        assert_eq!((report.received, report.lost), (1, 9));
        assert_eq!(report.rtt_ms.unwrap().avg_ms, 80.0);
    }
}
