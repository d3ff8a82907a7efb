//! Which number an interface's thresholds are compared with.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::input::Sample;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// RSRP (cellular) or RSSI (Wi-Fi), dBm.
    SignalDbm,
    /// Achievable throughput, kbit/s.
    RateKbps,
    /// Probe quality 0..100 from round-trip time and loss; see [`quality`].
    Quality,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::SignalDbm => "signal_dbm",
            Metric::RateKbps => "rate_kbps",
            Metric::Quality => "quality",
        }
    }

    pub fn parse(text: &str) -> Option<Metric> {
        match text {
            "signal_dbm" | "signal" => Some(Metric::SignalDbm),
            "rate_kbps" | "rate" => Some(Metric::RateKbps),
            "quality" | "probe" => Some(Metric::Quality),
            _ => None,
        }
    }

    /// The metric's value in a sample, if the sample has it.
    pub fn value(self, sample: &Sample) -> Option<f64> {
        match self {
            Metric::SignalDbm => sample.signal_dbm,
            Metric::RateKbps => sample.rate_kbps,
            Metric::Quality => quality(sample.rtt_ms, sample.loss_pct),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Probe quality, 0 (useless) to 100 (perfect): 100 minus 2 points per percent
/// of loss minus 1 point per 10 ms of round trip beyond 20 ms. A path at 5 %
/// loss and 120 ms scores 80; one at 50 % loss scores 0 whatever its delay.
pub fn quality(rtt_ms: Option<f64>, loss_pct: Option<f64>) -> Option<f64> {
    if rtt_ms.is_none() && loss_pct.is_none() {
        return None;
    }
    let loss = loss_pct.unwrap_or(0.0).clamp(0.0, 100.0);
    let rtt = rtt_ms.unwrap_or(0.0).max(0.0);
    Some((100.0 - 2.0 * loss - (rtt - 20.0).max(0.0) / 10.0).clamp(0.0, 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_examples() {
        assert_eq!(quality(None, None), None);
        assert_eq!(quality(Some(10.0), Some(0.0)), Some(100.0));
        assert_eq!(quality(Some(120.0), Some(5.0)), Some(80.0));
        assert_eq!(quality(Some(5.0), Some(50.0)), Some(0.0));
        assert_eq!(quality(None, Some(10.0)), Some(80.0));
    }
}
