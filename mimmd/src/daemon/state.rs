//! What the daemon keeps per interface: its names, what was observed, its
//! prober and its signal source.

use mimm_io::clock::Nanos;
use mimm_mm::Millis;

use crate::config::MimmConfig;
use crate::monitor::Observed;
use crate::monitor::probe::{PathStats, ProbeTiming, Prober};
use crate::monitor::source::{Ask, Opening, Source, SourceStatus, Tally, Update};

/// An interface's sources: its signal source and its probes.
pub const SLOTS: usize = 2;
const SIGNAL: usize = 0;
const PROBES: usize = 1;

pub(crate) struct IfaceRuntime {
    pub name: String,
    pub device: String,
    pub observed: Observed,
    pub prober: Prober,
    signal: Box<dyn Source>,
    tallies: [Tally; SLOTS],
    /// Anchored vsd mode: the path as the VSD's keepalives to the anchor
    /// measure it (it replaces the probes), and the binding for status.
    pub anchor_path: Option<PathStats>,
    pub binding: Option<String>,
}

impl IfaceRuntime {
    pub fn source(&self, slot: usize) -> &dyn Source {
        match slot {
            SIGNAL => &*self.signal,
            _ => &self.prober,
        }
    }

    pub fn source_mut(&mut self, slot: usize) -> &mut dyn Source {
        match slot {
            SIGNAL => &mut *self.signal,
            _ => &mut self.prober,
        }
    }

    /// Asks the sources for this sample; what the signal source answers
    /// now is taken (the others answer through the loop).
    pub fn sample(&mut self, now: Nanos, ms: Millis) {
        let ask = Ask {
            now,
            ms,
            link: self.observed.link.as_ref(),
        };
        let update = self.signal.sample(&ask);
        self.take(SIGNAL, update);
        self.read_path(now);
    }

    /// Counts what source `slot` said and keeps a signal reading; a change
    /// of the path's reachability is returned for the loop to act on.
    pub fn take(&mut self, slot: usize, update: Option<Update>) -> Option<bool> {
        let update = update?;
        let kind = self.source(slot).kind();
        self.tallies[slot].note(&self.name, kind, &update);
        match update {
            Update::Signal(r) => {
                self.observed.signal_dbm = r.signal_dbm;
                self.observed.rate_kbps = r.rate_kbps;
            }
            Update::Failed(_) => {
                self.observed.signal_dbm = None;
                self.observed.rate_kbps = None;
            }
            Update::Path { reachable } => {
                self.observed.path = Some(self.prober.stats());
                return Some(reachable);
            }
        }
        None
    }

    /// The probes' measurement now (the last one while they are paused).
    fn read_path(&mut self, now: Nanos) {
        if let Some(anchored) = self.anchor_path {
            self.observed.path = Some(anchored);
        } else if self.prober.is_paused() {
            self.observed.path = Some(self.prober.paused_stats(now));
        } else if let Some(path) = self.observed.path.as_mut() {
            *path = self.prober.stats();
        } else if self.prober.has_targets() {
            self.observed.path = Some(self.prober.stats());
        }
    }

    /// Each source's state, for `mimmctl status`; the probes only when
    /// there are any.
    pub fn sources_status(&self) -> Vec<SourceStatus> {
        (0..SLOTS)
            .filter(|&slot| slot != PROBES || self.prober.has_targets())
            .map(|slot| self.tallies[slot].status(self.source(slot)))
            .collect()
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
            let opening = Opening {
                iface: &d.name,
                now,
            };
            let signal = (d.signal_source.kind.open)(&d.signal_source.arg, &opening)
                .map_err(|e| format!("interface {}: {e}", d.name))?;
            Ok(IfaceRuntime {
                name: d.name.clone(),
                device: d.device.clone(),
                observed: Observed::default(),
                // The id tells this interface's probe answers from the others'.
                // In vsd mode members carry no address: probes go through the
                // VSD, for whichever member is active (see Daemon::follow_primary).
                prober: Prober::new(
                    cfg.vsd.as_ref().map_or(&d.device, |v| &v.name),
                    d.probes.clone(),
                    timing,
                    0x4d00 | i as u16,
                ),
                signal,
                tallies: Default::default(),
                anchor_path: None,
                binding: None,
            })
        })
        .collect()
}
