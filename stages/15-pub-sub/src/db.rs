//! The key space: keys to values, and the expiry times of the keys that have
//! one, in two hash tables of our own (as Redis's `dict` and `expires`),
//! shared by every connection behind one lock.
//!
//! Expired keys go two ways, as in Redis: a read that finds one deletes it
//! (lazy expiry), and a background task samples the keys that can expire
//! (active expiry), so memory does not fill up with dead keys.

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::glob;
use crate::hash_table::HashTable;
use crate::random::Random;
use crate::stored_bytes::StoredBytes;

/// A handle to the shared key space; cloning it is cheap.
#[derive(Clone, Default)]
pub struct Db {
    // A std `Mutex`, not Tokio's: the lock is held for a few hash-table
    // operations and never across an `.await`, and then a plain mutex is
    // both simpler and faster.
    state: Arc<Mutex<State>>,
}

// ANCHOR: state
#[derive(Default)]
struct State {
    /// Every key and its value.
    entries: HashTable<StoredBytes, StoredBytes>,
    /// The keys that have an expiry time, and that time: what active
    /// expiry samples.
    expires: HashTable<StoredBytes, Instant>,
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
        // A panic while the lock was held cannot leave the map half-changed
        // in a way that matters to a cache; keep serving rather than panic
        // in every other connection too.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value of `key`, unless it is missing or expired.
    pub fn get(&self, key: &[u8]) -> Option<Bytes> {
        let mut state = self.lock();
        state.remove_if_expired(key);
        let value = state.entries.get(key)?;
        Some(Bytes::copy_from_slice(value))
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
        let value = StoredBytes::from(value);
        let mut state = self.lock();
        state.remove_if_expired(key);
        // One lookup, kept for the write: hashing is most of a SET's cost.
        let old_value = match (state.entries.get_mut(key), condition) {
            (Some(slot), Condition::IfAbsent) => {
                return (false, Some(Bytes::copy_from_slice(slot)));
            }
            (None, Condition::IfPresent) => return (false, None),
            // The key is there: replace its value, and keep the key bytes.
            (Some(slot), _) => Some(std::mem::replace(slot, value)),
            (None, _) => state.entries.insert(StoredBytes::from(key), value),
        };
        let old_value = old_value.map(|old| Bytes::copy_from_slice(&old));
        match expiry {
            // Most keys never have an expiry time: don't look for one.
            Expiry::Never if state.expires.is_empty() => {}
            Expiry::Never => {
                state.expires.remove(key);
            }
            Expiry::At(when) => match state.expires.get_mut(key) {
                Some(slot) => *slot = when,
                None => {
                    state.expires.insert(StoredBytes::from(key), when);
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

    // ANCHOR: keys_matching
    /// Every live key that matches the glob `pattern` (KEYS): a walk over
    /// the whole table, as in Redis.
    pub fn keys_matching(&self, pattern: &[u8]) -> Vec<Bytes> {
        let mut state = self.lock();
        let State { entries, expires } = &mut *state;
        let now = Instant::now();
        let match_all = pattern == b"*";
        entries
            .iter()
            .filter(|(key, _)| match_all || glob::matches(pattern, key))
            // Expired keys not deleted yet are not listed.
            .filter(|(key, _)| {
                expires.is_empty() || expires.get(key.as_ref()).is_none_or(|when| *when > now)
            })
            .map(|(key, _)| Bytes::copy_from_slice(key))
            .collect()
    }
    // ANCHOR_END: keys_matching

    /// Deletes every key (FLUSHALL). The tables are swapped for empty ones
    /// under the lock and freed after it, so that other clients wait for
    /// the swap only.
    pub fn clear(&self) {
        let old = std::mem::take(&mut *self.lock());
        drop(old);
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

    /// How many keys are stored, as Redis counts them: including expired
    /// keys that have not been deleted yet (DBSIZE).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Both tables as Redis's `DEBUG HTSTATS` describes them.
    pub fn hash_table_stats(&self) -> String {
        let state = self.lock();
        format!(
            "[Dictionary HT]\n{}[Expires HT]\n{}",
            state.entries.stats(),
            state.expires.stats()
        )
    }

    // ANCHOR: expire_sample
    /// One round of active expiry (Redis's `activeExpireCycle` before 6.0):
    /// delete the expired ones of 20 random keys with an expiry time; while
    /// over a quarter were, again, for at most `budget`. Returns how many.
    pub fn expire_sample(&self, random: &mut Random, budget: Duration) -> usize {
        const SAMPLE: usize = 20;
        let started = Instant::now();
        let mut deleted = 0;
        loop {
            let mut state = self.lock();
            let now = Instant::now();
            let drawn = SAMPLE.min(state.expires.len());
            let mut deleted_now = 0;
            for _ in 0..drawn {
                let Some((key, when)) = state.expires.random_entry(random) else {
                    break;
                };
                if *when <= now {
                    let key = key.clone();
                    state.expires.remove(&key);
                    state.entries.remove(&key);
                    deleted_now += 1;
                }
            }
            deleted += deleted_now;
            drop(state);
            // A quarter or less of this sample had expired: few are left.
            if drawn == 0 || deleted_now * 4 <= drawn || started.elapsed() >= budget {
                return deleted;
            }
        }
    }
    // ANCHOR_END: expire_sample

    /// Upkeep, as Redis's cron: shrink a sparse table, rehash for 1 ms.
    pub fn maintain_tables(&self) {
        const REHASH_BUDGET: Duration = Duration::from_millis(1);
        let mut state = self.lock();
        state.entries.shrink_if_sparse();
        state.expires.shrink_if_sparse();
        if state.entries.is_rehashing() {
            state.entries.rehash_for(REHASH_BUDGET);
        } else {
            state.expires.rehash_for(REHASH_BUDGET);
        }
    }
}

impl State {
    // ANCHOR: lazy_expiry
    /// Lazy expiry: deletes `key` if its time has passed.
    fn remove_if_expired(&mut self, key: &[u8]) {
        // The common case, no key with an expiry time: no hashing.
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
    // ANCHOR_END: lazy_expiry
}

// ANCHOR: purge_task
/// The key space's background work, ten times a second as Redis's
/// `databasesCron`: active expiry, for at most 25 ms a round (as Redis's
/// slow cycle), then the tables' upkeep.
pub async fn cron(db: Db) {
    let mut random = Random::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        db.expire_sample(&mut random, Duration::from_millis(25));
        db.maintain_tables();
    }
}
// ANCHOR_END: purge_task
