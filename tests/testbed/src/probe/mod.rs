//! The loss meter (`mimm-testbed probe`): a UDP stream at a set rate with
//! sequence numbers and send timestamps, from one namespace through the router
//! to another. The receiver counts sent, received, lost, duplicated and
//! reordered packets, the longest gap between arrivals, and a per-second
//! timeline; with `echo` it reflects every packet so round trips are measured.
//!
//! Both ends run in this process (sockets opened inside their namespaces), so
//! one clock stamps send and arrival and one-way delay is exact.

mod session;
pub mod stats;
pub mod wire;

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use session::{ProbeHandle, run, start};
pub use stats::{Cost, RttReport, StreamReport, Summary};

#[derive(Debug, Clone)]
pub struct Options {
    /// Namespace role that sends (e.g. `lan`, `router`, `inet`).
    pub from: String,
    /// Namespace role that receives.
    pub to: String,
    pub rate_pps: u32,
    pub duration: Duration,
    /// UDP payload bytes (at least the 36-byte header).
    pub size: usize,
    /// Reflect every packet back to measure round trips.
    pub echo: bool,
    /// How long to wait for stragglers after the last packet is sent.
    pub drain: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            from: "lan".into(),
            to: "inet".into(),
            rate_pps: 1000,
            duration: Duration::from_secs(10),
            size: 64,
            echo: false,
            drain: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub from: String,
    pub to: String,
    pub rate_pps: u32,
    pub size: usize,
    pub duration_s: f64,
    #[serde(flatten)]
    pub stream: StreamReport,
    /// Round trips, when echo was on.
    pub rtt: Option<RttReport>,
}

/// Holes listed in the text report (the JSON has them all).
const SHOWN_HOLES: usize = 8;

fn summary_line(label: &str, s: &Option<Summary>) -> String {
    match s {
        Some(s) => format!(
            "{label} ms: min {:.3}  avg {:.3}  p50 {:.3}  p99 {:.3}  max {:.3}\n",
            s.min_ms, s.avg_ms, s.p50_ms, s.p99_ms, s.max_ms
        ),
        None => format!("{label}: no packets\n"),
    }
}

impl ProbeReport {
    /// The human-readable report: summary, then the per-second timeline.
    pub fn to_text(&self) -> String {
        let s = &self.stream;
        let mut out = format!(
            "probe {} -> {}: {} packets/s of {} bytes for {:.1} s\n",
            self.from, self.to, self.rate_pps, self.size, self.duration_s
        );
        let _ = writeln!(
            out,
            "sent {}  received {}  lost {} ({:.3} %)  duplicated {}  reordered {}",
            s.sent, s.received, s.lost, s.loss_pct, s.duplicated, s.reordered
        );
        let _ = writeln!(
            out,
            "longest gap {:.3} ms (ended at {:.3} s)  received {:.1} kbit/s (IP)",
            s.longest_gap_ms, s.longest_gap_end_s, s.rx_kbps
        );
        let _ = write!(
            out,
            "holes (silences of {:.3} ms or more): {}",
            2.0 * s.interval_ms,
            s.gaps.len()
        );
        // The packets a hole swallowed left one one-way delay before it.
        let owd_s = s.owd_ms.map_or(0.0, |o| o.min_ms / 1e3);
        for g in s.gaps.iter().take(SHOWN_HOLES) {
            let lost = s.lost_between(g.start_s - owd_s, g.end_s - owd_s);
            let _ = write!(
                out,
                "  {:.3}-{:.3} s {:.3} ms ({lost} lost)",
                g.start_s, g.end_s, g.gap_ms
            );
        }
        if s.gaps.len() > SHOWN_HOLES {
            out.push_str("  ...");
        }
        out.push('\n');
        out.push_str(&summary_line("one-way delay", &s.owd_ms));
        if let Some(rtt) = &self.rtt {
            let _ = writeln!(
                out,
                "echo: {} round trips, {} lost ({:.3} %)",
                rtt.received, rtt.lost, rtt.loss_pct
            );
            out.push_str(&summary_line("rtt", &rtt.rtt_ms));
        }
        out.push_str("  t_s    sent    recv    lost  dup   gap_ms  owd_avg  owd_max\n");
        for t in &s.timeline {
            let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
            let _ = writeln!(
                out,
                "{:5} {:7} {:7} {:7} {:4} {:8.2} {:>8} {:>8}",
                t.t_s,
                t.sent,
                t.received,
                t.lost,
                t.duplicated,
                t.gap_ms,
                ms(t.owd_avg_ms),
                ms(t.owd_max_ms)
            );
        }
        out
    }
}
