//! A signal source that plays one interface of a trace file in real time:
//! what the testbed and the demo give mimmd instead of a modem.
//!
//! Causal, as `mimmd replay` is: the signal is the row in force now, the
//! rate is what a meter would report now, the mean over the last second
//! ([`METER_MS`]); a row's rate is known only once its second is over.

use std::path::Path;

use mimm_mm::Millis;
use mimm_trace::Trace;

use crate::monitor::source::{Ask, Opening, Reading, Source, Update};

/// The rate meter's window: the rate reported is the mean over this long
/// before the sample.
pub const METER_MS: Millis = 1_000;

#[derive(Debug)]
pub struct TraceSource {
    /// (time, signal_dbm, rate_kbps) of each row of the interface.
    rows: Vec<(Millis, Option<f64>, Option<f64>)>,
    start: Millis,
    /// `FILE:IFACE`, as configured.
    what: String,
}

impl TraceSource {
    /// `FILE[:IFACE]` (the interface inside the trace defaults to the
    /// configured one), playing from `at.now`.
    pub fn open(arg: &str, at: &Opening) -> Result<TraceSource, String> {
        let (path, iface) = match arg.rsplit_once(':') {
            Some((p, i)) if !i.contains('/') && !p.is_empty() => (p, i),
            _ => (arg, at.iface),
        };
        TraceSource::load(Path::new(path), iface, at.now)
    }

    /// Loads `path` and keeps the rows of `iface`; plays from `start`.
    pub fn load(path: &Path, iface: &str, start: Millis) -> Result<TraceSource, String> {
        let trace = Trace::from_path(path).map_err(|e| e.to_string())?;
        let rows: Vec<_> = trace
            .rows_of(iface)
            .map(|r| (r.t_ms, r.signal_dbm, r.rate_kbps))
            .collect();
        if rows.is_empty() {
            return Err(format!(
                "{}: no rows for interface {iface:?} (it has {})",
                path.display(),
                trace.ifaces().join(", ")
            ));
        }
        let what = format!("{}:{iface}", path.display());
        Ok(TraceSource { rows, start, what })
    }

    /// The signal in force at `now` (the first row's before the trace
    /// starts, the last one's after it ends), and the rate measured over the
    /// [`METER_MS`] before it (`None` until a whole window has passed).
    pub fn at(&self, now: Millis) -> (Option<f64>, Option<f64>) {
        let t = now.saturating_sub(self.start);
        let i = self.row_at(t);
        let rate = t
            .checked_sub(METER_MS)
            .and_then(|from| self.mean_rate(from, t));
        (self.rows[i].1, rate)
    }

    /// The index of the row in force at trace time `t`.
    fn row_at(&self, t: Millis) -> usize {
        self.rows.partition_point(|r| r.0 <= t).saturating_sub(1)
    }

    /// The time-weighted mean rate over `[from, to)`, over the parts of it
    /// whose rate is known.
    fn mean_rate(&self, from: Millis, to: Millis) -> Option<f64> {
        let (mut kilobits, mut known) = (0.0, 0);
        for i in self.row_at(from)..self.rows.len() {
            let start = self.rows[i].0.max(from);
            let end = self.rows.get(i + 1).map_or(to, |r| r.0.min(to));
            if start >= to {
                break;
            }
            if let (Some(rate), true) = (self.rows[i].2, end > start) {
                kilobits += rate * (end - start) as f64;
                known += end - start;
            }
        }
        (known > 0).then(|| kilobits / known as f64)
    }
}

impl Source for TraceSource {
    fn kind(&self) -> &'static str {
        "trace"
    }

    fn detail(&self) -> String {
        self.what.clone()
    }

    fn sample(&mut self, ask: &Ask) -> Option<Update> {
        let (signal_dbm, rate_kbps) = self.at(ask.ms);
        Some(Update::Signal(Reading {
            signal_dbm,
            rate_kbps,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads `iface` of a trace written to a file for the purpose (and gone again).
    fn load(csv: &str, iface: &str, start: Millis) -> Result<TraceSource, String> {
        let dir = std::env::temp_dir().join(format!(
            "mimmd-trace-{}-{iface}-{start}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.csv");
        std::fs::write(&path, csv).unwrap();
        let loaded = TraceSource::load(&path, iface, start);
        std::fs::remove_dir_all(&dir).unwrap();
        loaded
    }

    #[test]
    fn the_rate_is_the_mean_of_the_second_before() {
        let csv =
            "t_ms,iface,signal_dbm,rate_kbps\n0,a,,1000\n1000,a,,3000\n1250,a,,0\n2000,a,,8000\n";
        let s = load(csv, "a", 0).unwrap();
        assert_eq!(s.at(1_000).1, Some(1000.0));
        // 3000 for 250 ms, 0 for 750 ms.
        assert_eq!(s.at(2_000).1, Some(750.0));
        assert_eq!(s.at(2_500).1, Some(4000.0));
        assert_eq!(s.at(3_000).1, Some(8000.0));
    }

    #[test]
    fn rows_hold_until_the_next() {
        let csv = "t_ms,iface,signal_dbm,rate_kbps\n0,a,-80,100\n0,b,-50,\n1000,a,-90,\n";
        let s = load(csv, "a", 5_000).unwrap();
        // Nothing measured before a whole second of the trace has passed.
        assert_eq!(s.at(0), (Some(-80.0), None));
        assert_eq!(s.at(5_999), (Some(-80.0), None));
        // At 1 s the signal is the new row's, the rate the second before's.
        assert_eq!(s.at(6_000), (Some(-90.0), Some(100.0)));
        // Half the last second at 100, half unknown: the known half's mean.
        assert_eq!(s.at(6_500), (Some(-90.0), Some(100.0)));
        assert_eq!(s.at(7_000), (Some(-90.0), None));
        assert_eq!(s.at(60_000), (Some(-90.0), None));
        assert!(load(csv, "c", 0).unwrap_err().contains("it has a, b"));
    }
}
