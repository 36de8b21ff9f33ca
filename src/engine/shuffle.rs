//! `load_balance_hosts=random`'s shuffles (libpq 16): a small generator seeded by the
//! caller (the engine draws no random bytes itself) and libpq's "inside-out" Fisher–Yates
//! shuffle, used once for the host list and again for each host's addresses.

/// SplitMix64: 64 bits of state, every seed good (shuffling needs no more; the seed itself
/// comes from the operating system's random source).
#[derive(Debug, Clone)]
pub(crate) struct Shuffler {
    state: u64,
}

impl Shuffler {
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        // The generator's arithmetic is modulo 2^64 by design.
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max` (rejection sampling: no modulo bias).
    fn up_to(&mut self, max: usize) -> usize {
        let Some(n) = u64::try_from(max).ok().and_then(|m| m.checked_add(1)) else {
            // `0..=u64::MAX`: every draw is uniform.
            return usize::try_from(self.next_u64()).unwrap_or(max);
        };
        // The largest multiple of n that fits: values below it are uniform modulo n.
        let limit = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < limit {
                return usize::try_from(x % n).unwrap_or(max);
            }
        }
    }

    /// libpq's shuffle (fe-connect.c): for each element after the first, swap it with a
    /// uniformly chosen one at or before it.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in 1..items.len() {
            let j = self.up_to(i);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_one_order_and_seeds_give_every_order_about_as_often() {
        let order = |seed| {
            let mut items = [0, 1, 2];
            Shuffler::new(seed).shuffle(&mut items);
            items
        };
        assert_eq!(order(7), order(7));
        // 6000 seeds over the 6 orders of 3: each order about 1000 times (a binomial with
        // sd ~29; 800..1200 is ~7 sd either side).
        let mut counts = std::collections::HashMap::new();
        for seed in 0..6000 {
            *counts.entry(order(seed)).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 6, "{counts:?}");
        for (items, n) in &counts {
            let mut sorted = *items;
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2]);
            assert!((800..1200).contains(n), "{counts:?}");
        }
    }

    #[test]
    fn short_lists_and_bounds() {
        let mut s = Shuffler::new(1);
        let mut empty: [u8; 0] = [];
        s.shuffle(&mut empty);
        let mut one = [9];
        s.shuffle(&mut one);
        assert_eq!(one, [9]);
        for _ in 0..1000 {
            assert!(s.up_to(2) <= 2);
            assert_eq!(s.up_to(0), 0);
        }
    }
}
