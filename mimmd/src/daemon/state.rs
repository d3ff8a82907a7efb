//! What the daemon keeps per interface: its names, what was observed, its
//! prober and its signal source.

use mimm_io::clock::Nanos;
use mimm_mm::Millis;

use crate::config::{MimmConfig, SignalSource};
use crate::monitor::Observed;
use crate::monitor::probe::{ProbeTiming, Prober};
use crate::monitor::trace_source::TraceSource;

pub(crate) enum Source {
    None,
    Trace(TraceSource),
    /// Sources that need hardware this build cannot reach yet report nothing.
    Unavailable,
}

pub(crate) struct IfaceRuntime {
    pub name: String,
    pub device: String,
    pub observed: Observed,
    pub prober: Prober,
    pub source: Source,
}

impl IfaceRuntime {
    /// Takes the signal source's current values into `observed`.
    pub fn read_source(&mut self, now: Millis) {
        if let Source::Trace(t) = &self.source {
            let (signal, rate) = t.at(now);
            self.observed.signal_dbm = signal;
            self.observed.rate_kbps = rate;
        }
        if let Some(path) = self.observed.path.as_mut() {
            *path = self.prober.stats();
        } else if self.prober.has_targets() {
            self.observed.path = Some(self.prober.stats());
        }
    }
}

/// The runtime state of every configured interface; trace sources start
/// playing at `now`.
pub(crate) fn build(cfg: &MimmConfig, now: Millis) -> Result<Vec<IfaceRuntime>, String> {
    let g = &cfg.globals;
    let timing = ProbeTiming {
        interval: Nanos::from_ms(g.probe_interval_ms),
        timeout: Nanos::from_ms(g.probe_timeout_ms),
        fail: g.probe_fail,
        ok: g.probe_ok,
    };
    cfg.ifaces
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let source = match &d.signal_source {
                SignalSource::None => Source::None,
                SignalSource::Trace { path, iface } => {
                    let name = iface.as_deref().unwrap_or(&d.name);
                    Source::Trace(
                        TraceSource::load(path, name, now)
                            .map_err(|e| format!("interface {}: {e}", d.name))?,
                    )
                }
                other => {
                    tracing::warn!(
                        "interface {}: signal source {other:?} is not supported yet; probes only",
                        d.name
                    );
                    Source::Unavailable
                }
            };
            Ok(IfaceRuntime {
                name: d.name.clone(),
                device: d.device.clone(),
                observed: Observed::default(),
                // The id tells this interface's probe answers from the others'.
                prober: Prober::new(&d.device, d.probes.clone(), timing, 0x4d00 | i as u16),
                source,
            })
        })
        .collect()
}
