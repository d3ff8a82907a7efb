//! Averaging of a metric: thresholds are compared with this, never with a raw
//! sample, so one bad reading does not move traffic.

use serde::{Deserialize, Serialize};

/// Largest moving-average window; the buffer is a fixed array.
pub const MAX_WINDOW: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Averaging {
    /// Mean of the last `window` samples (1..=64).
    Moving { window: u8 },
    /// Exponentially smoothed: `avg = alpha * sample + (1 - alpha) * avg`, 0 < alpha <= 1.
    Ewma { alpha: f64 },
}

impl Averaging {
    pub fn check(&self) -> Result<(), String> {
        match *self {
            Averaging::Moving { window } if window == 0 || window as usize > MAX_WINDOW => Err(
                format!("moving average window {window} must be 1..={MAX_WINDOW}"),
            ),
            Averaging::Ewma { alpha } if !(alpha > 0.0 && alpha <= 1.0) => {
                Err(format!("smoothing alpha {alpha} must be in (0, 1]"))
            }
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Averager {
    kind: Averaging,
    window: [f64; MAX_WINDOW],
    len: usize,
    next: usize,
    value: Option<f64>,
}

impl Averager {
    pub fn new(kind: Averaging) -> Averager {
        Averager {
            kind,
            window: [0.0; MAX_WINDOW],
            len: 0,
            next: 0,
            value: None,
        }
    }

    /// Adds a sample and returns the new average.
    pub fn push(&mut self, sample: f64) -> f64 {
        let value = match self.kind {
            Averaging::Ewma { alpha } => match self.value {
                Some(avg) => alpha * sample + (1.0 - alpha) * avg,
                None => sample,
            },
            Averaging::Moving { window } => {
                let size = (window as usize).clamp(1, MAX_WINDOW);
                self.window[self.next] = sample;
                self.next = (self.next + 1) % size;
                self.len = (self.len + 1).min(size);
                // Summed afresh each time: no drift, and at most 64 additions.
                self.window[..self.len].iter().sum::<f64>() / self.len as f64
            }
        };
        self.value = Some(value);
        value
    }

    pub fn value(&self) -> Option<f64> {
        self.value
    }

    /// Forgets the history (the interface went away and came back).
    pub fn reset(&mut self) {
        self.len = 0;
        self.next = 0;
        self.value = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average_over_window() {
        let mut a = Averager::new(Averaging::Moving { window: 3 });
        assert_eq!(a.value(), None);
        assert_eq!(a.push(3.0), 3.0);
        assert_eq!(a.push(6.0), 4.5);
        assert_eq!(a.push(9.0), 6.0);
        assert_eq!(a.push(12.0), 9.0);
        a.reset();
        assert_eq!(a.push(1.0), 1.0);
    }

    #[test]
    fn ewma_smooths() {
        let mut a = Averager::new(Averaging::Ewma { alpha: 0.5 });
        assert_eq!(a.push(-100.0), -100.0);
        assert_eq!(a.push(-80.0), -90.0);
        assert_eq!(a.push(-80.0), -85.0);
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(Averaging::Moving { window: 0 }.check().is_err());
        assert!(Averaging::Moving { window: 65 }.check().is_err());
        assert!(Averaging::Ewma { alpha: 0.0 }.check().is_err());
        assert!(Averaging::Ewma { alpha: 1.5 }.check().is_err());
        assert!(Averaging::Ewma { alpha: f64::NAN }.check().is_err());
        assert!(Averaging::Ewma { alpha: 1.0 }.check().is_ok());
    }
}
