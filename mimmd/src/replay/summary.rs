//! The numbers that compare runs: handoffs, ping-pongs, time per interface,
//! delivered throughput against the oracle.

use std::collections::BTreeMap;

use serde::Serialize;

use mimm_mm::{Config, IfaceId, Millis};

use crate::replay::sim::Switch;

/// A return to the interface left less than this long ago is a ping-pong.
pub const PING_PONG_MS: Millis = 30_000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Switches from one interface to another (the first choice is not one).
    pub handoffs: usize,
    pub ping_pongs: usize,
    pub seconds_by_iface: BTreeMap<String, f64>,
    /// Mean throughput of the interface in use (kbit/s), when the trace has rates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_kbps_avg: Option<f64>,
    /// Mean throughput of the best interface at every instant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oracle_kbps_avg: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
}

fn round(v: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (v * k).round() / k
}

pub(crate) fn summarize(
    cfg: &Config,
    switches: &[Switch],
    spans: &[(Millis, Millis, IfaceId)],
    rates: Option<(f64, f64)>,
) -> Summary {
    let handoffs = switches.iter().filter(|s| s.from.is_some()).count();
    let ping_pongs = switches
        .windows(2)
        .filter(|w| {
            w[0].from.is_some()
                && w[0].from == Some(w[1].to)
                && w[1].t_ms - w[0].t_ms < PING_PONG_MS
        })
        .count();
    let mut seconds_by_iface: BTreeMap<String, f64> =
        cfg.ifaces.iter().map(|i| (i.name.clone(), 0.0)).collect();
    for &(start, end, iface) in spans {
        if let Some(i) = cfg.ifaces.get(iface.index()) {
            *seconds_by_iface.entry(i.name.clone()).or_default() += (end - start) as f64 / 1000.0;
        }
    }
    for v in seconds_by_iface.values_mut() {
        *v = round(*v, 3);
    }
    let (delivered, oracle) = match rates {
        Some((d, o)) => (Some(round(d, 1)), Some(round(o, 1))),
        None => (None, None),
    };
    let ratio = rates.map(|(d, o)| if o > 0.0 { round(d / o, 4) } else { 1.0 });
    Summary {
        handoffs,
        ping_pongs,
        seconds_by_iface,
        delivered_kbps_avg: delivered,
        oracle_kbps_avg: oracle,
        ratio,
    }
}
