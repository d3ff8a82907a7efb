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
    /// Longest silence that ended in this second.
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

    fn contains(&self, seq: u64) -> bool {
        self.bits[(seq / 64) as usize] & (1 << (seq % 64)) != 0
    }
}

/// The receiver's view of a paced stream: packet `seq` is due to leave at
/// `start + seq * interval` (the sender's periodic timer).
///
/// A hole is a silence of two sending intervals or more, the length a single
/// missing packet leaves between its neighbours. The stream is bracketed by
/// two phantom packets, one interval before the first and one after the last
/// sent, arriving with the stream's least one-way delay, so an outage at
/// either end is a hole like any other.
pub struct StreamStats {
    start: Nanos,
    interval: Nanos,
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
    min_owd: Option<Nanos>,
    /// The longest silence between two arrivals, hole or not: (start, end).
    longest: (Nanos, Nanos),
    /// Silences between arrivals of two intervals or more: (start, end).
    holes: Vec<(Nanos, Nanos)>,
    owd_us: Vec<u32>,
    seconds: Vec<Second>,
}

impl StreamStats {
    /// A stream of `total` packets of `ip_len` bytes, one every `interval`
    /// from `start`; its timeline has room for `seconds` seconds (stream and
    /// drain), later ones count in the last.
    pub fn new(
        start: Nanos,
        interval: Nanos,
        total: u64,
        ip_len: usize,
        seconds: u64,
    ) -> StreamStats {
        StreamStats {
            start,
            interval: Nanos(interval.0.max(1)),
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
            min_owd: None,
            longest: (Nanos::ZERO, Nanos::ZERO),
            holes: Vec::new(),
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
            self.on_silence(last, arrival);
        }
        self.first_arrival.get_or_insert(arrival);
        self.last_arrival = Some(arrival);
        let owd = arrival.saturating_sub(sent_at);
        self.min_owd = Some(self.min_owd.map_or(owd, |m| m.min(owd)));
        let owd = (owd.0 / 1_000).min(u32::MAX as u64) as u32;
        self.owd_us.push(owd);
        let second = self.second(sent_at);
        second.received += 1;
        second.owd_sum_us += owd as u64;
        second.owd_max_us = second.owd_max_us.max(owd);
    }

    fn on_silence(&mut self, from: Nanos, to: Nanos) {
        let length = to.saturating_sub(from);
        if length > self.longest.1.saturating_sub(self.longest.0) {
            self.longest = (from, to);
        }
        if self.is_hole(length) {
            self.holes.push((from, to));
        }
        let second = self.second(to);
        second.gap = second.gap.max(length);
    }

    fn is_hole(&self, length: Nanos) -> bool {
        length.0 >= 2 * self.interval.0
    }

    /// The silences before the first arrival and after the last, measured
    /// from the phantom packets; holes only.
    fn edge_holes(&self) -> [Option<(Nanos, Nanos)>; 2] {
        let owd = self.min_owd.unwrap_or(Nanos::ZERO).0;
        let before_first = Nanos((self.start.0 + owd).saturating_sub(self.interval.0));
        let after_last = Nanos(self.start.0 + owd + self.sent * self.interval.0);
        let (first, last) = match (self.first_arrival, self.last_arrival) {
            (Some(first), Some(last)) => (first, last),
            _ => return [Some((before_first, after_last)), None],
        };
        let hole = |from: Nanos, to: Nanos| {
            (to > from && self.is_hole(to.saturating_sub(from))).then_some((from, to))
        };
        [hole(before_first, first), hole(last, after_last)]
    }

    pub fn received(&self) -> u64 {
        self.received
    }

    /// Runs of consecutive sequence numbers sent and never received.
    fn losses(&self) -> Vec<LossRun> {
        let mut runs: Vec<LossRun> = Vec::new();
        for seq in (0..self.sent.min(self.total)).filter(|&s| !self.seen.contains(s)) {
            match runs.last_mut() {
                Some(run) if run.first_seq + run.count == seq => run.count += 1,
                _ => runs.push(LossRun {
                    first_seq: seq,
                    count: 1,
                }),
            }
        }
        runs
    }

    pub fn report(&self) -> StreamReport {
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
        let [head, tail] = self.edge_holes();
        let holes: Vec<(Nanos, Nanos)> = head
            .into_iter()
            .chain(self.holes.iter().copied())
            .chain(tail)
            .collect();
        let mut seconds = self.seconds.clone();
        let mut longest = self.longest;
        for &(from, to) in head.iter().chain(tail.iter()) {
            let index = (to.saturating_sub(self.start).0 / 1_000_000_000) as usize;
            let second = &mut seconds[index.min(self.seconds.len() - 1)];
            second.gap = second.gap.max(to.saturating_sub(from));
            if to.saturating_sub(from) > longest.1.saturating_sub(longest.0) {
                longest = (from, to);
            }
        }
        let used = seconds
            .iter()
            .rposition(|s| s.sent > 0 || s.received > 0 || self.is_hole(s.gap))
            .map_or(0, |i| i + 1);
        let timeline = seconds[..used]
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
        let since_start = |t: Nanos| round3(t.saturating_sub(self.start).as_ms_f64() / 1e3);
        let mut owd_us = self.owd_us.clone();
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
            longest_gap_ms: round3(longest.1.saturating_sub(longest.0).as_ms_f64()),
            longest_gap_end_s: since_start(longest.1),
            rx_kbps: round3(rx_kbps),
            owd_ms: Summary::of(&mut owd_us).map(round_summary),
            interval_ms: self.interval.as_ms_f64(),
            gaps: holes
                .iter()
                .map(|&(from, to)| Gap {
                    start_s: since_start(from),
                    end_s: since_start(to),
                    gap_ms: round3(to.saturating_sub(from).as_ms_f64()),
                })
                .collect(),
            losses: self.losses(),
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
    /// The longest silence: between two arrivals, or before the first or
    /// after the last (see [`StreamStats`]).
    pub longest_gap_ms: f64,
    /// When the longest gap ended, seconds from the stream's start.
    pub longest_gap_end_s: f64,
    /// Received IP-layer throughput between first and last arrival.
    pub rx_kbps: f64,
    /// One-way delay (sender and receiver share this machine's clock).
    pub owd_ms: Option<Summary>,
    /// The sending interval.
    pub interval_ms: f64,
    /// Every hole (a silence of two sending intervals or more), in order.
    pub gaps: Vec<Gap>,
    /// Every run of lost packets, in order.
    pub losses: Vec<LossRun>,
    pub timeline: Vec<SecondReport>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    /// When the silence began and ended, seconds from the stream's start.
    pub start_s: f64,
    pub end_s: f64,
    pub gap_ms: f64,
}

/// What an event cost a stream (see [`StreamReport::cost`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    /// The longest hole, 0 when there was none.
    pub gap_ms: f64,
    pub lost: u64,
}

impl std::fmt::Display for Cost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "longest hole {:.3} ms, {} lost", self.gap_ms, self.lost)
    }
}

/// Packets `first_seq..first_seq + count`, sent and never received.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossRun {
    pub first_seq: u64,
    pub count: u64,
}

impl StreamReport {
    /// The longest hole that overlaps `from_s..=to_s` (seconds from the
    /// stream's start); 0 if none does.
    pub fn longest_gap_between(&self, from_s: f64, to_s: f64) -> f64 {
        self.gaps
            .iter()
            .filter(|g| g.end_s >= from_s && g.start_s <= to_s)
            .map(|g| g.gap_ms)
            .fold(0.0, f64::max)
    }

    /// What this machine's scheduling alone did to the stream: the longest
    /// hole away from the given events (from 0.1 s before each to 0.6 s
    /// after, and not in the first 0.2 s), as a [`Cost`] whose `lost` is
    /// the packets due in it. Near 0 in a quiet run; a loaded CI host once
    /// showed 344 holes of 2-28 ms in a 3 s stream, none of them lost.
    pub fn noise(&self, events_s: &[f64]) -> Cost {
        let near_event = |g: &&Gap| {
            events_s
                .iter()
                .any(|&t| g.end_s >= t - 0.1 && g.start_s <= t + 0.6)
        };
        let gap_ms = self
            .gaps
            .iter()
            .filter(|g| g.start_s >= 0.2)
            .filter(|g| !near_event(g))
            .map(|g| g.gap_ms)
            .fold(0.0, f64::max);
        let lost = if self.interval_ms > 0.0 {
            (gap_ms / self.interval_ms).ceil() as u64
        } else {
            0
        };
        Cost { gap_ms, lost }
    }

    /// What the stream suffered within `from_s..=to_s`: the longest hole
    /// overlapping it and the packets due then that never arrived.
    pub fn cost(&self, from_s: f64, to_s: f64) -> Cost {
        Cost {
            gap_ms: self.longest_gap_between(from_s, to_s),
            lost: self.lost_between(from_s, to_s),
        }
    }

    /// Packets due to be sent within `from_s..=to_s` (seconds from the
    /// stream's start) that never arrived.
    pub fn lost_between(&self, from_s: f64, to_s: f64) -> u64 {
        if self.interval_ms <= 0.0 || to_s < from_s {
            return 0;
        }
        // Sequence numbers due in the window; the tolerance absorbs float
        // rounding at its edges.
        let seq = |t_s: f64| t_s * 1e3 / self.interval_ms;
        let first = seq(from_s).max(0.0);
        let first = (first - 1e-6).ceil() as u64;
        let last = seq(to_s) + 1e-6;
        if last < 0.0 {
            return 0;
        }
        let last = last.floor() as u64;
        self.losses
            .iter()
            .map(|run| {
                let (a, b) = (
                    run.first_seq.max(first),
                    (run.first_seq + run.count).min(last + 1),
                );
                b.saturating_sub(a)
            })
            .sum()
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

    /// A 1 kHz stream of `total` packets; `arrival` says when each arrives,
    /// in ms from the stream's start (None: lost).
    fn stream(total: u64, arrival: impl Fn(u64) -> Option<f64>) -> StreamReport {
        // A clock far from 0, as CLOCK_MONOTONIC is.
        let start = Nanos(1000 * 1000 * MS);
        let at = |ms: f64| Nanos(start.0 + (ms * 1e6).round() as u64);
        let mut s = StreamStats::new(start, Nanos(MS), total, 128, total / 1000 + 2);
        for seq in 0..total {
            let sent = at(seq as f64);
            s.on_sent(sent);
            if let Some(at_ms) = arrival(seq) {
                s.on_arrival(seq, sent, at(at_ms));
            }
        }
        s.report()
    }

    #[test]
    fn counts_loss_gap_duplicates_and_reordering() {
        let mut s = StreamStats::new(Nanos(0), Nanos(MS), 2000, 128, 2);
        for seq in 0..2000u64 {
            let sent = Nanos(seq * MS);
            s.on_sent(sent);
            // 300 packets (500..800) vanish; 1000 arrives twice; 1500/1501 swap.
            if (500..800).contains(&seq) {
                continue;
            }
            let arrival = Nanos(sent.0 + 10 * MS);
            match seq {
                1500 => {}
                1501 => {
                    s.on_arrival(1501, sent, arrival);
                    s.on_arrival(1500, Nanos(1500 * MS), arrival);
                }
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
        assert_eq!(r.lost_between(0.0, 2.0), 300);
        assert_eq!(r.lost_between(0.6, 0.7), 101);
        assert_eq!(r.lost_between(0.8, 2.0), 0);
        assert_eq!(
            r.losses,
            vec![LossRun {
                first_seq: 500,
                count: 300
            }]
        );
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

    /// The hole threshold is two sending intervals whatever the stream's
    /// length (it once came from the timeline's length: 3.2 ms for 5 s).
    #[test]
    fn holes_of_two_intervals_count_shorter_ones_do_not() {
        for (silence_ms, hole) in [(1.5, false), (2.0, true), (3.0, true)] {
            // 5 s at 1 kHz, 1 ms one-way; the packets after 2500 arrive
            // `silence_ms - 1` late, so one silence of `silence_ms` opens.
            let r = stream(5000, |seq| {
                let late = if seq >= 2500 { silence_ms - 1.0 } else { 0.0 };
                Some(seq as f64 + 1.0 + late)
            });
            let want = if hole { silence_ms } else { 0.0 };
            assert_eq!(r.longest_gap_between(2.0, 3.0), want, "{silence_ms} ms");
            assert_eq!(r.gaps.len(), hole as usize, "{silence_ms} ms: {:?}", r.gaps);
            assert_eq!(r.longest_gap_ms, silence_ms);
            assert_eq!(r.lost, 0);
        }
        // One lost packet is a 2 ms hole; three in a row a 4 ms one.
        let r = stream(5000, |seq| {
            (seq != 1000 && !(3000..3003).contains(&seq)).then_some(seq as f64 + 1.0)
        });
        let gaps: Vec<(f64, f64)> = r.gaps.iter().map(|g| (g.end_s, g.gap_ms)).collect();
        assert_eq!(gaps, vec![(1.002, 2.0), (3.004, 4.0)]);
        assert_eq!((r.lost_between(0.9, 1.1), r.lost_between(2.9, 3.1)), (1, 3));
    }

    /// Nothing arrives after the link dies at 3.0 s of a 5 s stream: the
    /// silence until the end of sending is the hole, not the last 1 ms beat.
    #[test]
    fn an_outage_at_the_end_is_a_hole() {
        let r = stream(5000, |seq| (seq < 3000).then_some(seq as f64 + 1.0));
        assert_eq!(r.lost, 2000);
        // Packet 2999 arrived at 3.000 s; the phantom after the last sent
        // (4999) would have arrived at 5.001 s.
        assert_eq!(r.longest_gap_ms, 2001.0);
        assert_eq!(r.longest_gap_end_s, 5.001);
        assert_eq!(r.longest_gap_between(2.9, 3.1), 2001.0);
        assert_eq!(r.lost_between(2.9, 3.1), 101);
        assert_eq!(r.timeline[5].gap_ms, 2001.0);
        // And at the start: the first 500 lost.
        let r = stream(5000, |seq| (seq >= 500).then_some(seq as f64 + 1.0));
        let first = r.gaps[0];
        assert_eq!(
            (first.start_s, first.end_s, first.gap_ms),
            (0.0, 0.501, 501.0)
        );
        assert_eq!(r.lost_between(0.0, 0.1), 101);
        // A stream that never arrives is one hole as long as the stream.
        let r = stream(2000, |_| None);
        assert_eq!((r.lost, r.longest_gap_ms), (2000, 2001.0));
        // A clean stream has none, whatever its one-way delay.
        let r = stream(2000, |seq| Some(seq as f64 + 40.0));
        assert_eq!((r.gaps.len(), r.longest_gap_ms, r.lost), (0, 1.0, 0));
    }

    #[test]
    fn the_report_keeps_every_hole() {
        // 200 single losses: every hole is reported, the last one too.
        let r = stream(5000, |seq| {
            (seq % 25 != 0 || seq == 0).then_some(seq as f64 + 1.0)
        });
        assert_eq!(r.gaps.len(), 199);
        assert_eq!(r.longest_gap_between(4.9, 5.0), 2.0);
    }

    /// The noise is the longest hole away from the events: here a 6 ms
    /// stall at 1.0 s, the switch's 20 lost at 2.0 s not counted, nor the
    /// start's.
    #[test]
    fn noise_is_the_longest_hole_away_from_the_events() {
        let r = stream(3000, |seq| match seq {
            0..50 => None,
            1000..1005 => Some(1005.0 + 1.0),
            2000..2020 => None,
            _ => Some(seq as f64 + 1.0),
        });
        assert_eq!(
            r.noise(&[2.0]),
            Cost {
                gap_ms: 6.0,
                lost: 6
            }
        );
        assert_eq!(
            r.noise(&[1.0, 2.0]),
            Cost {
                gap_ms: 0.0,
                lost: 0
            }
        );
        assert_eq!(r.noise(&[]).gap_ms, 21.0);
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
