//! The key space: keys to values, each with an optional expiry time, shared
//! by every connection behind one lock.
//!
//! Expired keys go two ways, as in Redis: a read that finds one deletes it
//! (lazy expiry), and a background task deletes the ones nobody reads
//! (active expiry), so memory does not fill up with dead keys.

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
    // SHORTCUT(stage 6): std's `HashMap`; stage 6 builds its own table.
    entries: HashMap<Bytes, Entry>,
    /// Every key that has an expiry time, soonest first, so the purge task
    /// finds the expired ones without looking at the others.
    // SHORTCUT(stage 6): Redis samples random keys instead of keeping them
    // in order; sampling needs random access into the table, which stage 6's
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

    /// How many keys are stored, expired ones not yet purged included.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

impl State {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_then_get() {
        let db = Db::default();
        assert_eq!(db.get(b"k"), None);
        assert_eq!(
            db.set(b"k", b"v", Expiry::Never, Condition::Always),
            (true, None)
        );
        assert_eq!(db.get(b"k").as_deref(), Some(&b"v"[..]));
    }

    #[test]
    fn nx_and_xx() {
        let db = Db::default();
        assert!(!db.set(b"k", b"v", Expiry::Never, Condition::IfPresent).0);
        assert!(db.set(b"k", b"v", Expiry::Never, Condition::IfAbsent).0);
        let (set, old) = db.set(b"k", b"w", Expiry::Never, Condition::IfAbsent);
        assert!(!set);
        assert_eq!(old.as_deref(), Some(&b"v"[..]));
    }

    #[test]
    fn an_expired_key_is_never_returned() {
        let db = Db::default();
        let past = Instant::now() - Duration::from_millis(1);
        db.set(b"k", b"v", Expiry::At(past), Condition::Always);
        assert_eq!(db.get(b"k"), None);
        assert_eq!(db.len(), 0, "reading it deleted it");
        // And NX sees it as absent.
        assert!(db.set(b"k", b"v", Expiry::Never, Condition::IfAbsent).0);
    }

    #[test]
    fn expired_keys_nobody_reads_are_purged() {
        let db = Db::default();
        let soon = Instant::now() + Duration::from_secs(60);
        for i in 0..2_500 {
            db.set(
                format!("k{i}").as_bytes(),
                b"v",
                Expiry::At(soon),
                Condition::Always,
            );
        }
        db.set(b"stays", b"v", Expiry::Never, Condition::Always);
        assert_eq!(db.purge_expired(Instant::now(), usize::MAX), 0);
        let later = soon + Duration::from_millis(1);
        assert_eq!(db.purge_expired(later, 1_000), 1_000, "bounded slices");
        assert_eq!(db.purge_expired(later, usize::MAX), 1_500);
        assert_eq!(db.len(), 1);
    }

    #[test]
    fn overwriting_drops_or_keeps_the_old_expiry() {
        let db = Db::default();
        let soon = Instant::now() + Duration::from_millis(5);
        db.set(b"k", b"v", Expiry::At(soon), Condition::Always);
        db.set(b"k", b"w", Expiry::Never, Condition::Always);
        assert_eq!(
            db.purge_expired(soon + Duration::from_secs(1), usize::MAX),
            0
        );
        assert_eq!(db.lock().expirations.len(), 0);
        db.set(b"k", b"v", Expiry::At(soon), Condition::Always);
        db.set(b"k", b"x", Expiry::Keep, Condition::Always);
        assert_eq!(
            db.purge_expired(soon + Duration::from_secs(1), usize::MAX),
            1
        );
    }
}
