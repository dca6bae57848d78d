//! The key space: keys to values, and the expiry times of the keys that have
//! one, in two hash tables of our own (as Redis's `dict` and `expires`),
//! shared by every connection behind one lock.
//!
//! A value has a type, a string or a set, as in Redis: each command works
//! on one type, and answers `WRONGTYPE` for a key that holds another.
//! Deleting, listing and expiring keys work on every type.
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
    entries: HashTable<StoredBytes, Value>,
    /// The keys that have an expiry time, and that time: what active
    /// expiry samples.
    expires: HashTable<StoredBytes, Instant>,
}
// ANCHOR_END: state

// ANCHOR: value
/// What a key holds. A set is our own hash table again, with the members as
/// keys and nothing as values (Redis's `OBJ_SET` is a `dict` too, once it
/// is big or holds anything but integers). Boxed, so that a `Value` stays
/// the size of a string's `StoredBytes`, not of a whole table.
pub enum Value {
    String(StoredBytes),
    Set(Box<HashTable<Bytes, ()>>),
}

/// The error of a command that found a key of another type.
#[derive(Debug, PartialEq, Eq)]
pub struct WrongType;

impl Value {
    /// The type's name, as TYPE answers it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Set(_) => "set",
        }
    }

    fn as_string(&self) -> Result<&StoredBytes, WrongType> {
        match self {
            Value::String(bytes) => Ok(bytes),
            _ => Err(WrongType),
        }
    }
}
// ANCHOR_END: value

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
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>, WrongType> {
        let mut state = self.lock();
        state.remove_if_expired(key);
        match state.entries.get(key) {
            None => Ok(None),
            Some(value) => Ok(Some(Bytes::copy_from_slice(value.as_string()?))),
        }
    }

    // ANCHOR: set
    /// Sets `key` to `value` when `condition` allows, whatever type it held.
    /// Returns whether it was set, and the string it held before; with
    /// `return_old` (`SET ... GET`), a key of another type is an error, and
    /// nothing changes.
    pub fn set(
        &self,
        key: &[u8],
        value: &[u8],
        expiry: Expiry,
        condition: Condition,
        return_old: bool,
    ) -> Result<(bool, Option<Bytes>), WrongType> {
        // Copied before taking the lock, to hold it for less time; and
        // copied at all because `value` points into the connection's read
        // buffer, and keeping a slice of it would keep the whole buffer
        // alive for as long as the value lives.
        let value = StoredBytes::from(value);
        let mut state = self.lock();
        state.remove_if_expired(key);
        // One lookup, kept for the write: hashing is most of a SET's cost.
        let slot = state.entries.get_mut(key);
        if return_old && slot.as_ref().is_some_and(|old| old.as_string().is_err()) {
            return Err(WrongType);
        }
        let value = Value::String(value);
        let old_value = match (slot, condition) {
            (Some(slot), Condition::IfAbsent) => {
                let old = slot.as_string().ok();
                return Ok((false, old.map(|old| Bytes::copy_from_slice(old))));
            }
            (None, Condition::IfPresent) => return Ok((false, None)),
            // The key is there: replace its value, and keep the key bytes.
            (Some(slot), _) => Some(std::mem::replace(slot, value)),
            (None, _) => state.entries.insert(StoredBytes::from(key), value),
        };
        let old_value = match old_value {
            Some(Value::String(old)) => Some(Bytes::copy_from_slice(&old)),
            _ => None,
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
                    state.expires.insert(StoredBytes::from(key), when);
                }
            },
            Expiry::Keep => {}
        }
        Ok((true, old_value))
    }
    // ANCHOR_END: set

    /// The type of what `key` holds, `none` when it is missing (TYPE).
    pub fn type_of(&self, key: &[u8]) -> &'static str {
        let mut state = self.lock();
        state.remove_if_expired(key);
        state.entries.get(key).map_or("none", Value::type_name)
    }

    // ANCHOR: set_add
    /// Adds the members to the set at `key`, creating it if it is missing
    /// (SADD). Returns how many were not there yet.
    pub fn set_add(&self, key: &[u8], members: &[Bytes]) -> Result<usize, WrongType> {
        let mut state = self.lock();
        state.remove_if_expired(key);
        if state.entries.get(key).is_none() {
            let empty = Value::Set(Box::default());
            state.entries.insert(StoredBytes::from(key), empty);
        }
        let Some(Value::Set(set)) = state.entries.get_mut(key) else {
            return Err(WrongType);
        };
        // A member already there is not copied again.
        Ok(members
            .iter()
            .filter(|member| {
                set.get(member.as_ref()).is_none()
                    && set.insert(Bytes::copy_from_slice(member), ()).is_none()
            })
            .count())
    }
    // ANCHOR_END: set_add

    // ANCHOR: set_remove
    /// Removes the members from the set at `key` (SREM); returns how many
    /// were there. A set left empty is deleted, key and expiry time, so
    /// that no key ever holds an empty set, as in Redis.
    pub fn set_remove(&self, key: &[u8], members: &[Bytes]) -> Result<usize, WrongType> {
        let mut state = self.lock();
        let Some(set) = state.set_mut(key)? else {
            return Ok(0);
        };
        let removed = members
            .iter()
            .filter(|member| set.remove(member.as_ref()).is_some())
            .count();
        if set.is_empty() {
            state.entries.remove(key);
            state.expires.remove(key);
        }
        Ok(removed)
    }
    // ANCHOR_END: set_remove

    /// Every member of the set at `key`, in the table's order (SMEMBERS).
    pub fn set_members(&self, key: &[u8]) -> Result<Vec<Bytes>, WrongType> {
        let mut state = self.lock();
        let members = state.set_mut(key)?;
        Ok(members.map_or_else(Vec::new, |set| set.iter().map(|(m, _)| m.clone()).collect()))
    }

    /// Whether `member` is in the set at `key` (SISMEMBER).
    pub fn set_contains(&self, key: &[u8], member: &[u8]) -> Result<bool, WrongType> {
        let mut state = self.lock();
        Ok(state
            .set_mut(key)?
            .is_some_and(|set| set.get(member).is_some()))
    }

    /// How many members the set at `key` has, 0 when it is missing (SCARD).
    pub fn set_len(&self, key: &[u8]) -> Result<usize, WrongType> {
        let mut state = self.lock();
        Ok(state.set_mut(key)?.map_or(0, |set| set.len()))
    }

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
    // ANCHOR: set_mut
    /// The set at `key`, after lazy expiry: `None` when the key is missing,
    /// `WrongType` when it holds something else.
    fn set_mut(&mut self, key: &[u8]) -> Result<Option<&mut HashTable<Bytes, ()>>, WrongType> {
        self.remove_if_expired(key);
        match self.entries.get_mut(key) {
            None => Ok(None),
            Some(Value::Set(set)) => Ok(Some(set)),
            Some(_) => Err(WrongType),
        }
    }
    // ANCHOR_END: set_mut

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
