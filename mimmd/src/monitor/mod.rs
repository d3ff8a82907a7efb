//! The Interface Monitor: what mimmd knows about each interface, from the
//! kernel (netlink link state), from its probes, and from its signal source,
//! turned into the samples the Mobility Manager decides on.

pub mod at;
pub mod command;
pub mod modem;
pub mod probe;
pub mod source;
pub mod trace_source;
pub mod wifi;

pub use mimm_netlink::nl80211;

use mimm_mm::Sample;

use crate::netlink::links::Link;
use probe::PathStats;

/// The latest of everything observed about one interface.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// The kernel's view, `None` while the device does not exist.
    pub link: Option<Link>,
    /// The probes' view, `None` for an interface without probes.
    pub path: Option<PathStats>,
    pub signal_dbm: Option<f64>,
    pub rate_kbps: Option<f64>,
    /// What netifd last said of the logical interface (hotplug ifup/ifdown),
    /// `None` until it said anything: an interface netifd took down carries
    /// no traffic even while its device keeps carrier (lease lost, `ifdown`).
    pub netifd_up: Option<bool>,
}

impl Observed {
    /// Up with carrier, and not taken down by netifd: what the MM calls attached.
    pub fn attached(&self) -> bool {
        self.link.as_ref().is_some_and(|l| l.up && l.carrier) && self.netifd_up != Some(false)
    }

    pub fn sample(&self) -> Sample {
        Sample {
            signal_dbm: self.signal_dbm,
            rate_kbps: self.rate_kbps,
            rtt_ms: self.path.and_then(|p| p.rtt_ms),
            loss_pct: self.path.map(|p| p.loss_pct),
            carrier: Some(self.attached()),
            reachable: self.path.map(|p| p.reachable),
        }
    }
}
