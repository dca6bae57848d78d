//! The key space: keys to values, shared by every connection behind one
//! lock.

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

// ANCHOR: state
/// A handle to the shared key space; cloning it is cheap.
#[derive(Clone, Default)]
pub struct Db {
    // A std `Mutex`, not Tokio's: the lock is held for a few hash-table
    // operations and never across an `.await`, and then a plain mutex is
    // both simpler and faster.
    // SHORTCUT(stage 9): std's `HashMap`; stage 9 builds its own table.
    entries: Arc<Mutex<HashMap<Bytes, Bytes>>>,
}
// ANCHOR_END: state

impl Db {
    fn lock(&self) -> MutexGuard<'_, HashMap<Bytes, Bytes>> {
        // A panic while the lock was held cannot leave the map half-changed
        // in a way that matters to a cache; keep serving rather than panic
        // in every other connection too.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value of `key`, unless it is missing.
    pub fn get(&self, key: &[u8]) -> Option<Bytes> {
        self.lock().get(key).cloned()
    }

    // ANCHOR: set
    /// Sets `key` to `value`, replacing any value it had.
    pub fn set(&self, key: &[u8], value: &[u8]) {
        // Copied before taking the lock, to hold it for less time; and
        // copied at all because `value` points into the connection's read
        // buffer, and keeping a slice of it would keep the whole buffer
        // alive for as long as the value lives.
        let value = Bytes::copy_from_slice(value);
        let mut entries = self.lock();
        match entries.get_mut(key) {
            // The key is there: change its value in place, and keep the key
            // bytes it already has.
            Some(old) => *old = value,
            None => {
                entries.insert(Bytes::copy_from_slice(key), value);
            }
        }
    }
    // ANCHOR_END: set
}
