//! Each link's rate over the next seconds, from the rates measured so far:
//! an exponentially weighted mean and spread, the way TCP estimates its
//! round trip (RFC 6298's SRTT and RTTVAR, with the variance in place of
//! the mean deviation). A candidate is judged on its mean less `k` spreads:
//! a link that swings between 10 and 90 Mbit/s is worth less than a steady
//! 50.

#[derive(Debug, Clone, Copy)]
pub struct RateForecast {
    alpha: f64,
    mean: Option<f64>,
    var: f64,
}

impl RateForecast {
    pub fn new(alpha: f64) -> RateForecast {
        RateForecast {
            alpha,
            mean: None,
            var: 0.0,
        }
    }

    /// Adds one measured rate (kbit/s).
    pub fn push(&mut self, rate: f64) {
        match self.mean {
            None => self.mean = Some(rate),
            Some(mean) => {
                let d = rate - mean;
                self.mean = Some(mean + self.alpha * d);
                // West's incremental form of the exponentially weighted variance.
                self.var = (1.0 - self.alpha) * (self.var + self.alpha * d * d);
            }
        }
    }

    pub fn mean(&self) -> Option<f64> {
        self.mean
    }

    pub fn spread(&self) -> f64 {
        self.var.sqrt()
    }

    /// The mean less `k` spreads, never below 0.
    pub fn lower(&self, k: f64) -> Option<f64> {
        self.mean.map(|m| (m - k * self.spread()).max(0.0))
    }

    pub fn reset(&mut self) {
        self.mean = None;
        self.var = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_link_has_no_spread_and_a_swinging_one_does() {
        let mut steady = RateForecast::new(0.5);
        let mut swinging = RateForecast::new(0.5);
        for i in 0..20 {
            steady.push(50_000.0);
            swinging.push(if i % 2 == 0 { 10_000.0 } else { 90_000.0 });
        }
        assert_eq!(steady.lower(1.0), Some(50_000.0));
        assert_eq!(steady.spread(), 0.0);
        let (mean, spread) = (swinging.mean().unwrap(), swinging.spread());
        assert!((40_000.0..65_000.0).contains(&mean), "{mean}");
        assert!(spread > 30_000.0, "{spread}");
        assert!(swinging.lower(1.0).unwrap() < steady.lower(1.0).unwrap());
        swinging.reset();
        assert_eq!(swinging.mean(), None);
    }

    #[test]
    fn the_mean_follows_as_an_ewma_does() {
        let mut f = RateForecast::new(0.5);
        f.push(100.0);
        f.push(0.0);
        assert_eq!(f.mean(), Some(50.0));
        // (1 - 0.5) * (0 + 0.5 * 100^2)
        assert_eq!(f.spread(), 2500f64.sqrt());
    }
}
