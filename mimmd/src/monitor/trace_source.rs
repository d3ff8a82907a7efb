//! A signal source that plays one interface of a trace file in real time:
//! what the testbed and the demo give mimmd instead of a modem.

use std::path::Path;

use mimm_mm::Millis;
use mimm_trace::Trace;

use crate::monitor::source::{Ask, Opening, Reading, Source, Update};

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

    /// The row in force at `now` (the first row before the trace starts, the
    /// last one after it ends).
    pub fn at(&self, now: Millis) -> (Option<f64>, Option<f64>) {
        let t = now.saturating_sub(self.start);
        let i = self.rows.partition_point(|r| r.0 <= t).saturating_sub(1);
        let (_, signal, rate) = self.rows[i];
        (signal, rate)
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

    #[test]
    fn rows_hold_until_the_next() {
        let dir = std::env::temp_dir().join(format!("mimmd-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.csv");
        std::fs::write(
            &path,
            "t_ms,iface,signal_dbm,rate_kbps\n0,a,-80,100\n0,b,-50,\n1000,a,-90,\n",
        )
        .unwrap();
        let s = TraceSource::load(&path, "a", 5_000).unwrap();
        assert_eq!(s.at(0), (Some(-80.0), Some(100.0)));
        assert_eq!(s.at(5_999), (Some(-80.0), Some(100.0)));
        assert_eq!(s.at(6_000), (Some(-90.0), None));
        assert_eq!(s.at(60_000), (Some(-90.0), None));
        assert!(
            TraceSource::load(&path, "c", 0)
                .unwrap_err()
                .contains("it has a, b")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
