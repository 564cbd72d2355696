//! A small deterministic pseudo-random generator (SplitMix64): reproducible rehearsals need the
//! same "random" choices for the same seed, and nothing here needs cryptographic quality.

/// SplitMix64: a 64-bit state advanced by a constant, then mixed.
#[derive(Debug, Clone)]
pub(crate) struct Prng {
    state: u64,
}

impl Prng {
    /// A generator that yields the same sequence for the same seed.
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// A uniform float in `[0, 1)`.
    pub(crate) fn next_f64(&mut self) -> f64 {
        // The top 53 bits fill a double's mantissa exactly.
        #[allow(clippy::cast_precision_loss)]
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit
    }

    /// A uniform integer in `[0, bound)`; `0` when `bound` is `0`.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next_u64() % bound
        }
    }

    /// The index of an entry picked with probability proportional to its weight, or `None` when
    /// every weight is zero.
    pub(crate) fn pick_weighted(&mut self, weights: &[u64]) -> Option<usize> {
        let total: u64 = weights.iter().sum();
        if total == 0 {
            return None;
        }
        let mut ticket = self.below(total);
        for (index, weight) in weights.iter().enumerate() {
            if ticket < *weight {
                return Some(index);
            }
            ticket -= weight;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let mut first = Prng::new(7);
        let mut second = Prng::new(7);
        let a: Vec<u64> = (0..5).map(|_| first.next_u64()).collect();
        let b: Vec<u64> = (0..5).map(|_| second.next_u64()).collect();
        assert_eq!(a, b);
        assert_ne!(Prng::new(8).next_u64(), a[0]);
    }

    #[test]
    fn floats_stay_in_the_unit_interval_and_weights_are_honoured() {
        let mut prng = Prng::new(1);
        let mut counts = [0u32; 3];
        for _ in 0..10_000 {
            let unit = prng.next_f64();
            assert!((0.0..1.0).contains(&unit), "{unit}");
            let index = prng
                .pick_weighted(&[80, 20, 0])
                .expect("a weight is positive");
            counts[index] += 1;
        }
        assert_eq!(counts[2], 0);
        assert!((7_600..8_400).contains(&counts[0]), "{counts:?}");
        assert_eq!(prng.pick_weighted(&[0, 0]), None);
        assert_eq!(prng.below(0), 0);
    }
}
