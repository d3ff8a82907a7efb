//! What the daemon keeps per interface: its names, what was observed, its
//! prober and its signal source.

use mimm_io::clock::Nanos;
use mimm_mm::Millis;

use crate::config::{MimmConfig, SignalSource};
use crate::monitor::Observed;
use crate::monitor::at::AtSource;
use crate::monitor::command::CommandSource;
use crate::monitor::nl80211::Nl80211;
use crate::monitor::probe::{ProbeTiming, Prober};
use crate::monitor::trace_source::TraceSource;

pub(crate) enum Source {
    None,
    Trace(TraceSource),
    /// uqmi or mmcli, run each sample period.
    Command(CommandSource),
    At(AtSource),
    /// `None` while nl80211 cannot be reached (no Wi-Fi driver).
    Nl80211(Option<Nl80211>),
}

pub(crate) struct IfaceRuntime {
    pub name: String,
    pub device: String,
    pub observed: Observed,
    pub prober: Prober,
    pub source: Source,
}

impl IfaceRuntime {
    /// Takes the signal source's current values into `observed` (sources
    /// that answer later are asked by the loop and answer through it).
    pub fn read_source(&mut self, now: Millis) {
        match &mut self.source {
            Source::Trace(t) => {
                let (signal, rate) = t.at(now);
                self.observed.signal_dbm = signal;
                self.observed.rate_kbps = rate;
            }
            Source::Nl80211(Some(nl)) => {
                let station = self.observed.link.as_ref().map(|l| nl.station(l.index));
                match station {
                    Some(Ok(s)) => {
                        self.observed.signal_dbm = s.signal_avg_dbm.or(s.signal_dbm);
                        self.observed.rate_kbps = s.tx_bitrate_kbps;
                    }
                    Some(Err(e)) => {
                        tracing::debug!("{}: {e}", self.name);
                        self.observed.signal_dbm = None;
                    }
                    None => {}
                }
            }
            _ => {}
        }
        if self.prober.is_paused() {
            self.observed.path = Some(self.prober.paused_stats(mimm_io::clock::now()));
        } else if let Some(path) = self.observed.path.as_mut() {
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
                SignalSource::Uqmi { device } => Source::Command(CommandSource::uqmi(device)),
                SignalSource::Mmcli { modem } => Source::Command(CommandSource::mmcli(modem)),
                SignalSource::At { port } => Source::At(AtSource::new(port)),
                SignalSource::Nl80211 => Source::Nl80211(match Nl80211::open() {
                    Ok(n) => Some(n),
                    Err(e) => {
                        tracing::warn!("interface {}: {e}; probes only", d.name);
                        None
                    }
                }),
            };
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
                source,
            })
        })
        .collect()
}
