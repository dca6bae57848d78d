//! The key space: keys to values, each with an optional expiry time, shared
//! by every connection behind one lock.
//!
//! Expired keys go two ways, as in Redis: a read that finds one deletes it
//! (lazy expiry), and a background task deletes the ones nobody reads
//! (active expiry), so memory does not fill up with dead keys.

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;

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
    // SHORTCUT(stage 9): std's `HashMap`; stage 9 builds its own table.
    entries: HashMap<Bytes, Entry>,
    /// Every key that has an expiry time, soonest first, so the purge task
    /// finds the expired ones without looking at the others.
    // SHORTCUT(stage 9): Redis samples random keys instead of keeping them
    // in order; sampling needs random access into the table, which stage 9's
    // own table gives.
    expirations: BTreeSet<(Instant, Bytes)>,
}

struct Entry {
    value: Bytes,
    expires_at: Option<Instant>,
}
// ANCHOR_END: state

/// What SET does with a key's expiry time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// No expiry: the key lives until it is overwritten.
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
        state.entries.get(key).map(|entry| entry.value.clone())
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
        let old = state.entries.get_mut(key);
        let allowed = match condition {
            Condition::Always => true,
            Condition::IfAbsent => old.is_none(),
            Condition::IfPresent => old.is_some(),
        };
        if !allowed {
            return (false, old.map(|entry| entry.value.clone()));
        }
        let old_expiry = old.as_ref().and_then(|entry| entry.expires_at);
        let expires_at = match expiry {
            Expiry::Never => None,
            Expiry::At(when) => Some(when),
            Expiry::Keep => old_expiry,
        };
        let old_value = match old {
            // The key is there: change its entry in place, and keep the key
            // bytes it already has.
            Some(entry) => {
                entry.expires_at = expires_at;
                Some(std::mem::replace(&mut entry.value, value))
            }
            None => {
                let entry = Entry { value, expires_at };
                state.entries.insert(Bytes::copy_from_slice(key), entry);
                None
            }
        };
        if old_expiry != expires_at {
            if let Some(when) = old_expiry {
                state
                    .expirations
                    .remove(&(when, Bytes::copy_from_slice(key)));
            }
            if let Some(when) = expires_at {
                state
                    .expirations
                    .insert((when, Bytes::copy_from_slice(key)));
            }
        }
        (true, old_value)
    }
    // ANCHOR_END: set

    /// Deletes up to `limit` keys whose time has come. Returns how many
    /// were deleted.
    pub fn purge_expired(&self, now: Instant, limit: usize) -> usize {
        let mut state = self.lock();
        let mut purged = 0;
        while purged < limit {
            let Some((when, _)) = state.expirations.first() else {
                break;
            };
            if *when > now {
                break;
            }
            if let Some((_, key)) = state.expirations.pop_first() {
                state.entries.remove(&key);
                purged += 1;
            }
        }
        purged
    }

    /// How long `key` has left (TTL, PTTL).
    pub fn time_to_live(&self, key: &[u8]) -> TimeToLive {
        let mut state = self.lock();
        state.remove_if_expired(key);
        match state.entries.get(key) {
            None => TimeToLive::Missing,
            Some(Entry {
                expires_at: None, ..
            }) => TimeToLive::Forever,
            Some(Entry {
                expires_at: Some(when),
                ..
            }) => TimeToLive::Left(when.saturating_duration_since(Instant::now())),
        }
    }

    /// How many keys are stored, as Redis counts them: including expired
    /// keys that have not been deleted yet (DBSIZE).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

impl State {
    // ANCHOR: lazy_expiry
    /// Lazy expiry: deletes `key` if its time has passed. The clock is read
    /// only for keys that have an expiry time.
    fn remove_if_expired(&mut self, key: &[u8]) {
        let expired_at = match self.entries.get(key) {
            Some(Entry {
                expires_at: Some(when),
                ..
            }) if *when <= Instant::now() => *when,
            _ => return,
        };
        if let Some((key, _)) = self.entries.remove_entry(key) {
            self.expirations.remove(&(expired_at, key));
        }
    }
    // ANCHOR_END: lazy_expiry
}

// ANCHOR: purge_task
/// Active expiry: ten times a second (Redis's default `hz`), delete the keys
/// that have expired. The work is done in slices, so that a million keys
/// expiring at once never hold the lock for long.
pub async fn purge_expired_keys(db: Db) {
    const SLICE: usize = 1_000;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        while db.purge_expired(Instant::now(), SLICE) == SLICE {
            tokio::task::yield_now().await;
        }
    }
}
// ANCHOR_END: purge_task
