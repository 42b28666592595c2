//! A tiny seedable PRNG (SplitMix64) and the draws the generator needs.
//!
//! Every record gets its own generator, seeded from `(seed, stream salt, index)`, so a record never
//! depends on the records before it: any page can be produced alone, in any order. Only integer
//! arithmetic is used, so the same settings give the same bytes on every platform.

/// The SplitMix64 increment (2^64 / golden ratio).
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finaliser: a bijective scramble of 64 bits.
pub(crate) const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A SplitMix64 stream.
pub(crate) struct Rng(u64);

impl Rng {
    /// The generator of item `index` of the stream identified by `salt`.
    pub(crate) fn for_item(seed: u64, salt: u64, index: u64) -> Rng {
        // The index is scrambled before it is added, so neighbouring items start far apart on the
        // SplitMix64 cycle instead of one step after another.
        Rng(mix(seed ^ salt).wrapping_add(mix(index)))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `0..n` (0 when `n` is 0), by Lemire's multiply-shift; the bias is below 2^-32
    /// for every `n` used here.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `per_mille` / 1000.
    pub(crate) fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// A uniformly chosen element of a non-empty slice.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index chosen with the given relative weights (at least one must be positive).
    pub(crate) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut roll = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            let w = u64::from(w);
            if roll < w {
                return i;
            }
            roll -= w;
        }
        weights.len() - 1
    }

    /// A value from `weights[k]`-weighted octaves `[2^(first + k), 2^(first + k + 1))`: a
    /// log-scale distribution (long right tail, like service times) without floating point.
    pub(crate) fn octaves(&mut self, first: u32, weights: &[u32]) -> u64 {
        let low = 1u64 << (first + self.weighted(weights) as u32);
        low + self.below(low)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_item_gives_the_same_stream() {
        let a: Vec<u64> = {
            let mut r = Rng::for_item(42, 7, 1000);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let mut r = Rng::for_item(42, 7, 1000);
        let b: Vec<u64> = (0..8).map(|_| r.next_u64()).collect();
        assert_eq!(a, b);
        let mut other = Rng::for_item(43, 7, 1000);
        assert_ne!(a[0], other.next_u64());
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = Rng::for_item(1, 2, 3);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            let v = r.below(10);
            seen[v as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn weighted_follows_the_weights() {
        let mut r = Rng::for_item(9, 9, 9);
        let mut seen = [0u32; 3];
        for _ in 0..30_000 {
            seen[r.weighted(&[1, 0, 2])] += 1;
        }
        assert_eq!(seen[1], 0);
        assert!((9_000..11_000).contains(&seen[0]), "{seen:?}");
    }

    #[test]
    fn octaves_stay_inside_their_range() {
        let mut r = Rng::for_item(5, 5, 5);
        for _ in 0..10_000 {
            let v = r.octaves(3, &[1, 1, 1]);
            assert!((8..64).contains(&v), "{v}");
        }
    }
}
