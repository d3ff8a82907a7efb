//! A small seeded generator (SplitMix64): loss decisions must be reproducible
//! run to run for the same seed and the same packet sequence.

#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p` (0..=1).
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.next_f64() < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_fair() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let hits = (0..100_000).filter(|_| a.chance(0.05)).count();
        let hits_b = (0..100_000).filter(|_| b.chance(0.05)).count();
        assert_eq!(hits, hits_b);
        assert!((4_700..5_300).contains(&hits), "{hits}");
        assert!(!Rng::new(1).chance(0.0));
    }
}
