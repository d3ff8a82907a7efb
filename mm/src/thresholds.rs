//! The five thresholds (see the crate documentation for their roles and how
//! they map to the seed's SigTh1..SigTh5).

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// `None`: every attached interface is available (the seed's four levels).
    pub available: Option<f64>,
    pub inactive: f64,
    pub deteriorating: f64,
    pub active: f64,
    pub stable: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Threshold {
    Available,
    Inactive,
    Deteriorating,
    Active,
    Stable,
}

impl Threshold {
    pub fn name(self) -> &'static str {
        match self {
            Threshold::Available => "available",
            Threshold::Inactive => "inactive",
            Threshold::Deteriorating => "deteriorating",
            Threshold::Active => "active",
            Threshold::Stable => "stable",
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where an interface's average stands as a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    Unusable,
    Available,
    Active,
}

/// Where the primary's average stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimaryLevel {
    Inactive,
    Deteriorating,
    Holding,
    Stable,
}

impl Thresholds {
    pub fn get(&self, which: Threshold) -> Option<f64> {
        match which {
            Threshold::Available => self.available,
            Threshold::Inactive => Some(self.inactive),
            Threshold::Deteriorating => Some(self.deteriorating),
            Threshold::Active => Some(self.active),
            Threshold::Stable => Some(self.stable),
        }
    }

    /// Strict order, finite values; the message lists them all.
    pub fn check(&self) -> Result<(), String> {
        let mut values = vec![
            ("inactive", self.inactive),
            ("deteriorating", self.deteriorating),
            ("active", self.active),
            ("stable", self.stable),
        ];
        if let Some(available) = self.available {
            values.insert(0, ("available", available));
        }
        if let Some((name, v)) = values.iter().find(|(_, v)| !v.is_finite()) {
            return Err(format!("threshold {name} = {v} is not a number"));
        }
        for pair in values.windows(2) {
            let ((a, va), (b, vb)) = (pair[0], pair[1]);
            if va >= vb {
                let all: Vec<String> = values.iter().map(|(n, v)| format!("{n} {v}")).collect();
                return Err(format!(
                    "thresholds must rise strictly (available < inactive < deteriorating < \
                     active < stable), but {a} {va} >= {b} {vb} ({})",
                    all.join(", ")
                ));
            }
        }
        Ok(())
    }

    pub fn tier(&self, avg: f64) -> Tier {
        if avg >= self.active {
            Tier::Active
        } else if self.available.is_none_or(|a| avg >= a) {
            Tier::Available
        } else {
            Tier::Unusable
        }
    }

    pub fn primary_level(&self, avg: f64) -> PrimaryLevel {
        if avg < self.inactive {
            PrimaryLevel::Inactive
        } else if avg < self.deteriorating {
            PrimaryLevel::Deteriorating
        } else if avg >= self.stable {
            PrimaryLevel::Stable
        } else {
            PrimaryLevel::Holding
        }
    }

    /// How far above `active`, in units of the active..stable span: 0 at
    /// `active`, 1 at `stable`. Makes dBm, kbit/s and quality comparable.
    pub fn margin(&self, avg: f64) -> f64 {
        (avg - self.active) / (self.stable - self.active)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lte() -> Thresholds {
        Thresholds {
            available: Some(-125.0),
            inactive: -118.0,
            deteriorating: -110.0,
            active: -105.0,
            stable: -90.0,
        }
    }

    #[test]
    fn levels_and_tiers() {
        let t = lte();
        assert_eq!(t.tier(-130.0), Tier::Unusable);
        assert_eq!(t.tier(-120.0), Tier::Available);
        assert_eq!(t.tier(-105.0), Tier::Active);
        assert_eq!(t.primary_level(-119.0), PrimaryLevel::Inactive);
        assert_eq!(t.primary_level(-112.0), PrimaryLevel::Deteriorating);
        assert_eq!(t.primary_level(-107.0), PrimaryLevel::Holding);
        assert_eq!(t.primary_level(-90.0), PrimaryLevel::Stable);
        assert_eq!(t.margin(-90.0), 1.0);
        let four = Thresholds {
            available: None,
            ..t
        };
        assert_eq!(four.tier(-200.0), Tier::Available);
    }

    #[test]
    fn order_is_checked() {
        assert!(lte().check().is_ok());
        let bad = Thresholds {
            deteriorating: -100.0,
            ..lte()
        };
        let e = bad.check().unwrap_err();
        assert!(e.contains("deteriorating -100 >= active -105"), "{e}");
        let bad = Thresholds {
            available: Some(-110.0),
            ..lte()
        };
        assert!(
            bad.check()
                .unwrap_err()
                .contains("available -110 >= inactive -118")
        );
        let bad = Thresholds {
            stable: f64::NAN,
            ..lte()
        };
        assert!(bad.check().unwrap_err().contains("not a number"));
    }
}
