//! The key space: keys to values in our own hash table, and a second table
//! of expiry times for the keys that have one, shared by every connection
//! behind one lock. (Redis keeps the same two tables: `dict` and `expires`.)
//!
//! Expired keys go two ways, as in Redis: a read that finds one deletes it
//! (lazy expiry), and a background task samples random keys that have an
//! expiry time and deletes the expired ones (active expiry), so memory does
//! not fill up with dead keys.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::glob;
use crate::hash_table::HashTable;

/// A handle to the shared key space; cloning it is cheap.
#[derive(Clone, Default)]
pub struct Db {
    // A std `Mutex`, not Tokio's: the lock is held for a few table
    // operations and never across an `.await`. (Why not a read-write lock,
    // so GETs could run side by side? See the stage 6 chapter: it measured
    // no faster here, and a GET may have to delete an expired key anyway.)
    state: Arc<Mutex<State>>,
}

// ANCHOR: state
#[derive(Default)]
struct State {
    /// Every key and its value.
    entries: HashTable<Bytes, Bytes>,
    /// The keys that have an expiry time, and that time. Active expiry
    /// samples this table, which holds only keys that can expire.
    expires: HashTable<Bytes, Instant>,
}
// ANCHOR_END: state

/// What SET does with a key's expiry time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// No expiry: the key lives until it is overwritten or deleted.
    Never,
    /// Expires at this moment.
    At(Instant),
    /// Keep whatever expiry the old value had (`KEEPTTL`).
    Keep,
}

/// When SET may write (`NX`, `XX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Always,
    IfAbsent,
    IfPresent,
}

/// A key's time to live, for TTL and PTTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeToLive {
    Missing,
    Forever,
    Left(Duration),
}

impl Db {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held cannot leave the tables in a state
        // that breaks their invariants (each operation completes or not);
        // keep serving rather than panic in every other connection too.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value of `key`, unless it is missing or expired.
    pub fn get(&self, key: &[u8]) -> Option<Bytes> {
        let mut state = self.lock();
        state.remove_if_expired(key);
        state.entries.get(key).cloned()
    }

    // ANCHOR: set
    /// Sets `key` to `value` when `condition` allows. Returns whether it was
    /// set, and the value it had before (for `SET ... GET`).
    pub fn set(
        &self,
        key: &[u8],
        value: &[u8],
        expiry: Expiry,
        condition: Condition,
    ) -> (bool, Option<Bytes>) {
        // Copied before taking the lock, to hold it for less time; and
        // copied at all because `value` points into the connection's read
        // buffer, and keeping a slice of it would keep the whole buffer
        // alive for as long as the value lives.
        let value = Bytes::copy_from_slice(value);
        let mut state = self.lock();
        state.remove_if_expired(key);
        // One lookup, kept for the write: hashing the key is most of what a
        // SET costs.
        let old_value = match (state.entries.get_mut(key), condition) {
            (Some(slot), Condition::IfAbsent) => return (false, Some(slot.clone())),
            (None, Condition::IfPresent) => return (false, None),
            // The key is there: replace its value, and keep the key bytes.
            (Some(slot), _) => Some(std::mem::replace(slot, value)),
            (None, _) => state.entries.insert(Bytes::copy_from_slice(key), value),
        };
        match expiry {
            // Most keys never have an expiry time: don't look for one.
            Expiry::Never if state.expires.is_empty() => {}
            Expiry::Never => {
                state.expires.remove(key);
            }
            Expiry::At(when) => match state.expires.get_mut(key) {
                Some(slot) => *slot = when,
                None => {
                    state.expires.insert(Bytes::copy_from_slice(key), when);
                }
            },
            Expiry::Keep => {}
        }
        (true, old_value)
    }
    // ANCHOR_END: set

    /// Deletes the keys that exist; returns how many did (DEL).
    pub fn delete(&self, keys: &[Bytes]) -> usize {
        let mut state = self.lock();
        keys.iter()
            .filter(|key| {
                state.remove_if_expired(key);
                state.expires.remove(key.as_ref());
                state.entries.remove(key.as_ref()).is_some()
            })
            .count()
    }

    /// How many of `keys` exist, a key named twice counted twice (EXISTS).
    pub fn count_existing(&self, keys: &[Bytes]) -> usize {
        let mut state = self.lock();
        keys.iter()
            .filter(|key| {
                state.remove_if_expired(key);
                state.entries.get(key.as_ref()).is_some()
            })
            .count()
    }

    /// How many keys are stored, as Redis counts them: including expired
    /// keys that have not been deleted yet (DBSIZE).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Every live key that matches the glob `pattern` (KEYS).
    pub fn keys_matching(&self, pattern: &[u8]) -> Vec<Bytes> {
        let state = self.lock();
        let now = Instant::now();
        let match_all = pattern == b"*";
        state
            .entries
            .iter()
            .filter(|(key, _)| match_all || glob::matches(pattern, key))
            // Expired keys not deleted yet are not listed.
            .filter(|(key, _)| {
                state
                    .expires
                    .get(key.as_ref())
                    .is_none_or(|when| *when > now)
            })
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// How long `key` has left (TTL, PTTL).
    pub fn time_to_live(&self, key: &[u8]) -> TimeToLive {
        let mut state = self.lock();
        state.remove_if_expired(key);
        if state.entries.get(key).is_none() {
            return TimeToLive::Missing;
        }
        match state.expires.get(key) {
            None => TimeToLive::Forever,
            Some(when) => TimeToLive::Left(when.saturating_duration_since(Instant::now())),
        }
    }

    /// Deletes every key (FLUSHALL).
    pub fn clear(&self) {
        let mut state = self.lock();
        state.entries.clear();
        state.expires.clear();
    }

    // ANCHOR: expire_sample
    /// One round of active expiry, as Redis's `activeExpireCycle` did it
    /// before 6.0 (and as its EXPIRE documentation still describes it):
    /// look at 20 random keys that have an expiry time and delete the
    /// expired ones; while more than a quarter of a sample was expired
    /// (there are probably many more), sample again, for at most `budget`.
    /// Returns how many keys were deleted.
    pub fn expire_sample(&self, random: &mut Random, budget: Duration) -> usize {
        const SAMPLE: usize = 20;
        let started = Instant::now();
        let mut deleted = 0;
        loop {
            let mut state = self.lock();
            let now = Instant::now();
            let mut expired = Vec::new();
            let drawn = SAMPLE.min(state.expires.len());
            for _ in 0..drawn {
                if let Some((key, when)) = state.expires.random_entry(random.next()) {
                    if *when <= now {
                        expired.push(key.clone());
                    }
                }
            }
            // The same key may be drawn twice: count what was deleted.
            let mut deleted_now = 0;
            for key in &expired {
                if state.expires.remove(key.as_ref()).is_some() {
                    state.entries.remove(key.as_ref());
                    deleted_now += 1;
                }
            }
            deleted += deleted_now;
            // Let the tables finish a resize while the server is quiet, as
            // Redis's cron does.
            state.entries.rehash_for(Duration::from_micros(500));
            state.expires.rehash_for(Duration::from_micros(500));
            drop(state);
            // A quarter or less of this sample had expired: few are left.
            if drawn == 0 || deleted_now * 4 <= drawn || started.elapsed() >= budget {
                return deleted;
            }
        }
    }
    // ANCHOR_END: expire_sample
}

impl State {
    /// Lazy expiry: deletes `key` if its time has passed.
    fn remove_if_expired(&mut self, key: &[u8]) {
        // No key has an expiry time (the common case): nothing to look up.
        if self.expires.is_empty() {
            return;
        }
        if self
            .expires
            .get(key)
            .is_some_and(|when| *when <= Instant::now())
        {
            self.expires.remove(key);
            self.entries.remove(key);
        }
    }
}

/// Random numbers for sampling keys (a xorshift generator: sampling needs
/// speed and spread, not secrecy), seeded from std's per-process random
/// hasher keys.
pub struct Random(u64);

impl Default for Random {
    fn default() -> Random {
        Random::new()
    }
}

impl Random {
    pub fn new() -> Random {
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Random(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

// ANCHOR: purge_task
/// Active expiry: ten times a second (Redis's default `hz`), sample keys
/// that have an expiry time and delete the expired ones, for at most 25 ms
/// a round (Redis's slow cycle is a quarter of its 100 ms period), in
/// rounds that each hold the lock only for one sample.
pub async fn purge_expired_keys(db: Db) {
    let mut random = Random::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        db.expire_sample(&mut random, Duration::from_millis(25));
    }
}
// ANCHOR_END: purge_task

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &str) -> Bytes {
        Bytes::copy_from_slice(text.as_bytes())
    }

    #[test]
    fn set_get_delete_exists() {
        let db = Db::default();
        assert_eq!(
            db.set(b"a", b"1", Expiry::Never, Condition::Always),
            (true, None)
        );
        db.set(b"b", b"2", Expiry::Never, Condition::Always);
        assert_eq!(db.get(b"a").as_deref(), Some(&b"1"[..]));
        assert_eq!(db.count_existing(&[bytes("a"), bytes("a"), bytes("zz")]), 2);
        assert_eq!(
            db.delete(&[bytes("a"), bytes("a"), bytes("b"), bytes("c")]),
            2
        );
        assert_eq!(db.len(), 0);
    }

    #[test]
    fn an_expired_key_is_never_returned() {
        let db = Db::default();
        let past = Instant::now() - Duration::from_millis(1);
        db.set(b"k", b"v", Expiry::At(past), Condition::Always);
        assert_eq!(db.len(), 1, "not deleted until someone looks");
        assert_eq!(db.keys_matching(b"*"), Vec::<Bytes>::new());
        assert_eq!(db.time_to_live(b"k"), TimeToLive::Missing);
        assert_eq!(db.len(), 0, "looking deleted it");
    }

    #[test]
    fn ttl_forever_and_left() {
        let db = Db::default();
        db.set(b"f", b"v", Expiry::Never, Condition::Always);
        assert_eq!(db.time_to_live(b"f"), TimeToLive::Forever);
        db.set(
            b"t",
            b"v",
            Expiry::At(Instant::now() + Duration::from_secs(10)),
            Condition::Always,
        );
        let TimeToLive::Left(left) = db.time_to_live(b"t") else {
            panic!("t has an expiry time");
        };
        assert!(left > Duration::from_secs(9) && left <= Duration::from_secs(10));
        // SET without an expiry drops it; KEEPTTL keeps it.
        db.set(b"t", b"w", Expiry::Keep, Condition::Always);
        assert!(matches!(db.time_to_live(b"t"), TimeToLive::Left(_)));
        db.set(b"t", b"w", Expiry::Never, Condition::Always);
        assert_eq!(db.time_to_live(b"t"), TimeToLive::Forever);
    }

    #[test]
    fn active_expiry_samples_until_few_are_expired() {
        let db = Db::default();
        let past = Instant::now() - Duration::from_millis(1);
        let future = Instant::now() + Duration::from_secs(60);
        for i in 0..2_000 {
            let key = format!("dead{i}");
            db.set(key.as_bytes(), b"v", Expiry::At(past), Condition::Always);
        }
        for i in 0..100 {
            let key = format!("alive{i}");
            db.set(key.as_bytes(), b"v", Expiry::At(future), Condition::Always);
            db.set(
                format!("plain{i}").as_bytes(),
                b"v",
                Expiry::Never,
                Condition::Always,
            );
        }
        let mut random = Random::new();
        let mut rounds = 0;
        while db.len() > 200 && rounds < 100 {
            db.expire_sample(&mut random, Duration::from_millis(25));
            rounds += 1;
        }
        // Sampling stops once a quarter or fewer of a sample are expired, so
        // a few dead keys may remain until a later round or a read.
        assert!(
            db.len() < 260,
            "{} keys left after {rounds} rounds",
            db.len()
        );
        assert_eq!(db.keys_matching(b"plain*").len(), 100);
        assert_eq!(db.keys_matching(b"alive*").len(), 100);
    }

    #[test]
    fn keys_with_a_pattern() {
        let db = Db::default();
        for key in ["hello", "hallo", "hxllo", "other"] {
            db.set(key.as_bytes(), b"v", Expiry::Never, Condition::Always);
        }
        let mut found = db.keys_matching(b"h[ae]llo");
        found.sort();
        assert_eq!(found, vec![bytes("hallo"), bytes("hello")]);
        assert_eq!(db.keys_matching(b"*").len(), 4);
        db.clear();
        assert_eq!(db.len(), 0);
    }
}
