//! The candidate score: a weighted sum, higher is better. With the default
//! weights (see [`crate::Weights`]):
//!
//! | term | value | weight |
//! |---|---|---|
//! | margin | (avg - active) / (stable - active), clamped to -2..2 | 1.0 |
//! | rate | log2(1 + smoothed throughput in Mbit/s), 0 when unknown | 1.0 |
//! | kind | ethernet 1, wifi 0.7, 5G 0.6, LTE 0.5, other 0.3, 3G 0.2 | 0.3 |
//! | preference | 1 for the interface the user prefers | 3.0 |
//! | priority | configured priority / 100 | 0.5 |
//! | power | − power cost / 10 | 0.1 |
//! | cost | − monetary cost / 10 | 0.3 |
//!
//! Candidates are ranked first by tier (above `active`, then above
//! `available`), then by score, then by configuration order, so ties are
//! deterministic.

use crate::config::Config;
use crate::iface::IfaceState;

/// Margin clamp: beyond two active..stable spans, more signal buys nothing.
const MARGIN_LIMIT: f64 = 2.0;

pub(crate) fn score(config: &Config, index: usize, state: &IfaceState, preferred: bool) -> f64 {
    let iface = &config.ifaces[index];
    let w = &config.weights;
    let margin = state.avg.value().map_or(-MARGIN_LIMIT, |v| {
        iface
            .thresholds
            .margin(v)
            .clamp(-MARGIN_LIMIT, MARGIN_LIMIT)
    });
    let rate = state
        .rate
        .value()
        .map_or(0.0, |kbps| (1.0 + kbps.max(0.0) / 1000.0).log2());
    w.margin * margin
        + w.rate * rate
        + w.kind * iface.kind.bonus()
        + w.preference * f64::from(u8::from(preferred))
        + w.priority * f64::from(iface.priority) / 100.0
        - w.power * iface.power_cost / 10.0
        - w.cost * iface.monetary_cost / 10.0
}
