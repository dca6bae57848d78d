//! Random counts and arguments, from a seed that is printed and can be set,
//! so that hard-coded answers fail and a failure can be replayed exactly.
//!
//! A small SplitMix64 generator: good enough to pick test values, and it
//! keeps the tester free of dependencies a learner would have to download.

use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable that sets the seed: `COURSE_SEED=1234`.
pub const SEED_VARIABLE: &str = "COURSE_SEED";

#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// A generator of its own for one check, so that a check's values depend
    /// only on the seed and on which check it is, not on the order checks ran.
    pub fn for_check(seed: u64, stage: u8, check: usize) -> Rng {
        let mut mixer = Rng::new(seed ^ (u64::from(stage) << 32) ^ check as u64);
        Rng::new(mixer.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: usize, high: usize) -> usize {
        assert!(low <= high, "between({low}, {high})");
        let span = (high - low) as u64 + 1;
        low + (self.next_u64() % span) as usize
    }

    /// True with probability one in two.
    pub fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.between(0, i);
            items.swap(i, j);
        }
    }

    /// `word` with each letter's case chosen at random: `PiNg`.
    pub fn random_case(&mut self, word: &str) -> String {
        word.chars()
            .map(|c| {
                if self.coin() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    }

    /// A word of 3 to 10 lower-case letters and digits: keys and values
    /// that read well in a failure report, and differ every run.
    pub fn word(&mut self) -> String {
        const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let length = self.between(3, 10);
        (0..length)
            .map(|_| char::from(LETTERS[self.between(0, LETTERS.len() - 1)]))
            .collect()
    }

    /// `length` random bytes, any value.
    pub fn bytes(&mut self, length: usize) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(length + 8);
        while bytes.len() < length {
            bytes.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        bytes.truncate(length);
        bytes
    }

    /// Splits `len` bytes into chunks of 1 to `max_chunk` bytes: the sizes,
    /// in order, adding up to `len`.
    pub fn chunk_sizes(&mut self, len: usize, max_chunk: usize) -> Vec<usize> {
        let mut sizes = Vec::new();
        let mut left = len;
        while left > 0 {
            let size = self.between(1, max_chunk.min(left));
            sizes.push(size);
            left -= size;
        }
        sizes
    }
}

/// The seed for this run: `COURSE_SEED` when set, otherwise the clock.
pub fn seed_from_environment() -> Result<u64, String> {
    match std::env::var(SEED_VARIABLE) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("{SEED_VARIABLE}={text}: a seed is a whole number, e.g. 1234")),
        Err(_) => Ok(fresh_seed()),
    }
}

/// A seed from the clock, short enough to type back.
pub fn fresh_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or(0);
    Rng::new(nanos).next_u64() % 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_values() {
        let mut a = Rng::for_check(42, 3, 1);
        let mut b = Rng::for_check(42, 3, 1);
        let mut c = Rng::for_check(42, 3, 2);
        let a_values: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let b_values: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        let c_values: Vec<u64> = (0..5).map(|_| c.next_u64()).collect();
        assert_eq!(a_values, b_values);
        assert_ne!(a_values, c_values);
    }

    #[test]
    fn between_stays_in_range_and_reaches_both_ends() {
        let mut rng = Rng::new(7);
        let values: Vec<usize> = (0..1000).map(|_| rng.between(3, 6)).collect();
        assert!(values.iter().all(|v| (3..=6).contains(v)));
        assert!(values.contains(&3) && values.contains(&6));
    }

    #[test]
    fn chunks_add_up() {
        let mut rng = Rng::new(1);
        for len in [1, 14, 100] {
            let sizes = rng.chunk_sizes(len, 5);
            assert_eq!(sizes.iter().sum::<usize>(), len);
            assert!(sizes.iter().all(|&s| (1..=5).contains(&s)));
        }
    }
}
