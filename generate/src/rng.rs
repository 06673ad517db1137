//! Randomness: the SplitMix64 mixer, the xoshiro256** generator and Zipf sampling.

/// SplitMix64's finalizer: a bijection on u64, used to derive attributes from keys.
pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** (Blackman and Vigna), seeded through SplitMix64.
pub(super) struct Rng([u64; 4]);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        let mut state = seed;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            mix(state)
        };
        Self([next(), next(), next(), next()])
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// An index into a collection of `len` items.
    pub(super) fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// True with probability `percent`/100.
    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// An entry drawn with the weight that `weight` reads from it.
    pub(super) fn weighted<'a, R>(&mut self, items: &'a [R], weight: impl Fn(&R) -> u32) -> &'a R {
        let total: u32 = items.iter().map(&weight).sum();
        let mut x = self.below(u64::from(total)) as u32;
        for item in items {
            if x < weight(item) {
                return item;
            }
            x -= weight(item);
        }
        &items[items.len() - 1]
    }
}

/// A cumulative distribution over ranks, sampled by binary search.
pub(super) struct Cdf(Vec<f64>);

impl Cdf {
    pub(super) fn new(weights: impl Iterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let mut cumulative: Vec<f64> = weights
            .map(|w| {
                total += w;
                total
            })
            .collect();
        for c in &mut cumulative {
            *c /= total;
        }
        Self(cumulative)
    }

    pub(super) fn zipf(n: usize) -> Self {
        Self::new((1..=n).map(zipf_weight))
    }

    /// The rank that a uniform 64-bit draw falls on.
    pub(super) fn sample(&self, draw: u64) -> usize {
        let x = (draw >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        self.0.partition_point(|&c| c <= x).min(self.0.len() - 1)
    }
}

/// Zipf weight of a 1-based rank with s = 1.125, computed with `sqrt` only so that every
/// platform gets the same bits (k^1.125 = k * k^(1/8)).
pub(super) fn zipf_weight(rank: usize) -> f64 {
    let k = rank as f64;
    1.0 / (k * k.sqrt().sqrt().sqrt())
}
