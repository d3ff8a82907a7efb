//! Built-in thresholds and averaging per metric and link kind.
//!
//! | metric | kind | available | inactive | deteriorating | active | stable | averaging |
//! |---|---|---|---|---|---|---|---|
//! | signal_dbm (RSRP) | 5G, LTE, older cellular | -124 | -116 | -110 | -104 | -90 | EWMA 0.3 |
//! | signal_dbm (RSSI) | Wi-Fi, other | -85 | -80 | -74 | -70 | -60 | EWMA 0.3 |
//! | rate_kbps | any | 256 | 1000 | 3000 | 5000 | 20000 | EWMA 0.5 |
//! | quality | any | 20 | 40 | 60 | 70 | 90 | moving 4 |
//!
//! RSRP: -90 dBm and better is a good LTE/5G cell, below -110 throughput
//! collapses, -120 is the edge of coverage. RSSI: -67 dBm is the usual floor
//! for voice over Wi-Fi, -80 barely associates.

use crate::average::Averaging;
use crate::config::IfaceConfig;
use crate::kind::LinkKind;
use crate::metric::Metric;
use crate::thresholds::Thresholds;

fn t(available: f64, inactive: f64, deteriorating: f64, active: f64, stable: f64) -> Thresholds {
    Thresholds {
        available: Some(available),
        inactive,
        deteriorating,
        active,
        stable,
    }
}

pub fn thresholds(metric: Metric, kind: LinkKind) -> Thresholds {
    match (metric, kind.is_cellular()) {
        (Metric::SignalDbm, true) => t(-124.0, -116.0, -110.0, -104.0, -90.0),
        (Metric::SignalDbm, false) => t(-85.0, -80.0, -74.0, -70.0, -60.0),
        (Metric::RateKbps, _) => t(256.0, 1000.0, 3000.0, 5000.0, 20000.0),
        (Metric::Quality, _) => t(20.0, 40.0, 60.0, 70.0, 90.0),
    }
}

pub fn averaging(metric: Metric) -> Averaging {
    match metric {
        Metric::SignalDbm => Averaging::Ewma { alpha: 0.3 },
        Metric::RateKbps => Averaging::Ewma { alpha: 0.5 },
        Metric::Quality => Averaging::Moving { window: 4 },
    }
}

impl IfaceConfig {
    /// An interface with the built-in defaults for its metric and kind.
    pub fn with_defaults(name: &str, kind: LinkKind, metric: Metric) -> IfaceConfig {
        IfaceConfig {
            name: name.to_string(),
            kind,
            metric,
            thresholds: thresholds(metric, kind),
            averaging: averaging(metric),
            priority: 50,
            power_cost: if kind.is_cellular() { 5.0 } else { 2.0 },
            monetary_cost: if kind.is_cellular() { 5.0 } else { 0.0 },
            standby: false,
            needs_activation: false,
            pre_handoff: false,
            enabled: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_ordered() {
        for metric in [Metric::SignalDbm, Metric::RateKbps, Metric::Quality] {
            for kind in [
                LinkKind::Ethernet,
                LinkKind::Wifi,
                LinkKind::Nr,
                LinkKind::Lte,
                LinkKind::Legacy,
                LinkKind::Other,
            ] {
                thresholds(metric, kind).check().unwrap();
                averaging(metric).check().unwrap();
            }
        }
    }
}
