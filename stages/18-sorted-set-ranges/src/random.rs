//! Random numbers, for active expiry to sample keys at random: a xorshift
//! generator, as sampling needs speed and spread, not secrecy.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

pub struct Random(u64);

impl Random {
    /// A generator seeded from std's per-process random hasher keys.
    pub fn new() -> Random {
        let seed = RandomState::new().build_hasher().finish();
        // Xorshift never leaves zero: the seed must not be zero.
        Random(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `bound`, or 0 if `bound` is 0.
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}
