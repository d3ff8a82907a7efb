//! Wi-Fi signal from nl80211: the station the client is associated with,
//! asked each sample and read when its answer arrives, so the loop never
//! waits on the driver.

use std::os::fd::RawFd;

use mimm_io::clock::Nanos;
use mimm_netlink::nl80211::{Nl80211, StationQuery};

use crate::monitor::source::{Ask, Reading, Source, Update};

/// The driver answers within this, or the question is dropped.
const TIMEOUT: Nanos = Nanos(1_000_000_000);

pub struct WifiSource {
    /// `Err` where nl80211 cannot be reached (no Wi-Fi driver): probes only.
    nl: Result<Nl80211, String>,
    asked: Option<(StationQuery, Nanos)>,
    /// The socket is open and the loop does not watch it yet.
    unwatched: bool,
}

impl WifiSource {
    pub fn open() -> WifiSource {
        let nl = Nl80211::open().map_err(|e| format!("{e}; probes only"));
        WifiSource {
            unwatched: nl.is_ok(),
            nl,
            asked: None,
        }
    }
}

impl Source for WifiSource {
    fn kind(&self) -> &'static str {
        "nl80211"
    }

    fn detail(&self) -> String {
        "station info".into()
    }

    /// Without nl80211 every sample fails, for `mimmctl status` to say why.
    fn sample(&mut self, ask: &Ask) -> Option<Update> {
        let nl = match &mut self.nl {
            Ok(nl) => nl,
            Err(e) => return Some(Update::Failed(e.clone())),
        };
        let link = ask.link?;
        if self.asked.is_some() {
            return None;
        }
        match nl.ask_station(link.index) {
            Ok(query) => {
                self.asked = Some((query, ask.now.saturating_add(TIMEOUT)));
                None
            }
            Err(e) => Some(Update::Failed(e)),
        }
    }

    fn take_new_fds(&mut self) -> Vec<RawFd> {
        match (&self.nl, std::mem::take(&mut self.unwatched)) {
            (Ok(nl), true) => vec![nl.fd()],
            _ => Vec::new(),
        }
    }

    fn on_readable(&mut self, _now: Nanos) -> Option<Update> {
        let (Ok(nl), Some((query, _))) = (&mut self.nl, self.asked.as_mut()) else {
            return None;
        };
        let answer = nl.read_station(query)?;
        self.asked = None;
        Some(match answer {
            Ok(s) => Update::Signal(Reading {
                signal_dbm: s.signal_avg_dbm.or(s.signal_dbm),
                rate_kbps: s.tx_bitrate_kbps,
            }),
            Err(e) => Update::Failed(e),
        })
    }

    fn deadline(&self) -> Option<Nanos> {
        self.asked.as_ref().map(|(_, deadline)| *deadline)
    }

    fn expire(&mut self, now: Nanos) -> Option<Update> {
        if self.asked.as_ref().is_some_and(|(_, d)| now >= *d) {
            self.asked = None;
            return Some(Update::Failed("nl80211: no answer in time".into()));
        }
        None
    }

    fn waiting(&self) -> bool {
        self.asked.is_some()
    }
}
