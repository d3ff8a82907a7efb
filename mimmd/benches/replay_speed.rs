//! Replay speed: samples through the Mobility Manager per second, one core.
//! A synthetic three-interface trace (random-walk RSRP/RSSI and throughput,
//! outages) of 1.2 million rows; run with `cargo bench -p mimm-mimmd`.
//! `MIMM_BENCH_SHORT=1`: 20 000 rows per interface and one timed run (CI).

use std::time::Instant;

use mimm_mimmd::replay::{self, Options, Policy};
use mimm_trace::{Row, Trace};

const ROWS_PER_IFACE: u64 = 400_000;
const SHORT_ROWS_PER_IFACE: u64 = 20_000;

fn synthetic(rows_per_iface: u64) -> Trace {
    let mut trace = Trace::default();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let ifaces = [
        ("lte", "lte", -95.0),
        ("nr", "5g", -100.0),
        ("wifi", "wifi", -65.0),
    ];
    let mut level = ifaces.map(|(_, _, l)| l);
    for t in 0..rows_per_iface {
        for (k, (name, kind, base)) in ifaces.iter().enumerate() {
            level[k] =
                (level[k] + (next() - 0.5) * 4.0 + (base - level[k]) * 0.02).clamp(-140.0, -30.0);
            let mut row = Row::new(t * 1000, *name);
            row.kind = Some(kind.to_string());
            row.signal_dbm = Some((level[k] * 10.0).round() / 10.0);
            row.rate_kbps = Some(((level[k] + 130.0) * 1500.0).max(0.0).round());
            row.up = Some(next() > 0.0005);
            trace.rows.push(row);
        }
    }
    trace
}

fn main() {
    let short = std::env::var("MIMM_BENCH_SHORT").is_ok_and(|v| v == "1");
    let (rows_per_iface, timed_runs) = if short {
        (SHORT_ROWS_PER_IFACE, 1)
    } else {
        (ROWS_PER_IFACE, 3)
    };
    let trace = synthetic(rows_per_iface);
    let samples = trace.rows.len() as f64;
    let cfg = replay::derive_config(&trace);
    println!(
        "replay speed, {} samples of {} interfaces, {}",
        trace.rows.len(),
        cfg.ifaces.len(),
        if short {
            "one timed run (short)"
        } else {
            "best of three"
        }
    );
    for policy in Policy::ALL {
        let options = Options {
            policy,
            ..Options::default()
        };
        // One warm-up run, then the best of three (one when short).
        let _ = replay::run(&trace, &cfg, options).unwrap();
        let mut best = f64::MAX;
        let mut handoffs = 0;
        for _ in 0..timed_runs {
            let start = Instant::now();
            let r = replay::run(&trace, &cfg, options).unwrap();
            best = best.min(start.elapsed().as_secs_f64());
            handoffs = r.summary.handoffs;
        }
        println!(
            "{policy:9} {:>12.0} samples/s  ({best:.3} s, {handoffs} handoffs)",
            samples / best
        );
    }
}
