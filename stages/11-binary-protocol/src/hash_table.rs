//! A hash table of our own, built as Redis builds its `dict`: buckets of
//! chained entries, and a resize done a bucket at a time, with two tables
//! while it lasts, so that no command pays for a whole resize (chapter 9).
//! `stats` describes the table in the words of Redis's `DEBUG HTSTATS`.

#[cfg(test)]
mod tests;

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::fmt::Write;
use std::hash::{BuildHasher, Hash};
use std::time::{Duration, Instant};

use crate::random::Random;

/// Buckets in a table when its first entry arrives (Redis's
/// `DICT_HT_INITIAL_SIZE`), and the fewest it shrinks to.
const INITIAL_BUCKETS: usize = 4;

/// A table shrinks under this percentage full (`HASHTABLE_MIN_FILL`).
const MIN_FILL_PERCENT: usize = 10;

/// How many empty buckets a rehash step may pass for each bucket it moves.
const EMPTY_VISITS_PER_BUCKET: usize = 10;

/// How many buckets `rehash_for` moves between two looks at the clock.
const BUCKETS_PER_TIMED_STEP: usize = 100;

/// How many empty buckets `random_entry` draws before it walks on instead.
const RANDOM_PROBES: usize = 100;

/// Chain lengths `stats` counts apart (Redis's `DICT_STATS_VECTLEN`).
const STATS_CHAIN_LENGTHS: usize = 50;

// ANCHOR: structs
/// A map from keys to values. `S` builds the hash function; std's
/// `RandomState` seeds it with a secret, against keys sent to land in one
/// bucket ("hash flooding").
pub struct HashTable<K, V, S = RandomState> {
    /// `tables[0]` holds the entries; during a resize, `tables[1]` is where
    /// they move and new ones go, else it has no buckets.
    tables: [Table<K, V>; 2],
    /// While rehashing, the next bucket of `tables[0]` to move, else `None`.
    rehash_index: Option<usize>,
    hasher: S,
}

/// One array of buckets, and how many entries its chains hold.
struct Table<K, V> {
    /// None before the first insert, or a power of two of them, so that a
    /// mask, `hash & (count - 1)`, picks one.
    buckets: Box<[Bucket<K, V>]>,
    len: usize,
}

/// The head of a chain of nodes; `None` when the bucket is empty.
type Bucket<K, V> = Option<Box<Node<K, V>>>;

struct Node<K, V> {
    key: K,
    value: V,
    /// The key's full hash, so that moving the node needs no hashing.
    hash: u64,
    next: Bucket<K, V>,
}
// ANCHOR_END: structs

/// The nodes of a chain, from its head.
fn chain<K, V>(head: Option<&Node<K, V>>) -> impl Iterator<Item = &Node<K, V>> {
    std::iter::successors(head, |node| node.next.as_deref())
}

impl<K, V> Table<K, V> {
    fn with_buckets(count: usize) -> Self {
        Table {
            buckets: (0..count).map(|_| None).collect(),
            len: 0,
        }
    }

    /// The bucket for `hash`; out of range when there are none: not found.
    fn index(&self, hash: u64) -> usize {
        hash as usize & self.buckets.len().wrapping_sub(1)
    }

    /// Puts `node` at the head of its chain: O(1), and newest first.
    fn push(&mut self, mut node: Box<Node<K, V>>) {
        // In range: nodes only go into a table that has buckets.
        let bucket = &mut self.buckets[self.index(node.hash)];
        node.next = bucket.take();
        *bucket = Some(node);
        self.len += 1;
    }

    /// Takes the node for `key` out of its chain.
    fn unlink<Q>(&mut self, hash: u64, key: &Q) -> Option<Box<Node<K, V>>>
    where
        K: Borrow<Q>,
        Q: ?Sized + Eq,
    {
        let index = self.index(hash);
        let mut link = self.buckets.get_mut(index)?;
        while link
            .as_ref()
            .is_some_and(|node| node.hash != hash || node.key.borrow() != key)
        {
            // The condition has just seen a node here: `?` never returns.
            link = &mut link.as_mut()?.next;
        }
        // `None` here: the chain ended without the key.
        let mut node = link.take()?;
        *link = node.next.take();
        self.len -= 1;
        Some(node)
    }

    // ANCHOR: write_stats
    /// This table's part of `DEBUG HTSTATS`, as Redis's `_dictGetStatsHt`
    /// writes it. (Writing to a `String` cannot fail.)
    fn write_stats(&self, number: usize, out: &mut String) {
        let role = ["main hash table", "rehashing target"][number];
        let _ = writeln!(out, "Hash table {number} stats ({role}):");
        if self.len == 0 {
            out.push_str("No stats available for empty dictionaries\n");
            return;
        }
        // `chains[n]`: how many buckets hold a chain of `n` entries.
        let mut chains = [0usize; STATS_CHAIN_LENGTHS];
        let (mut used_buckets, mut longest, mut counted) = (0, 0, 0);
        for bucket in &self.buckets {
            let length = chain(bucket.as_deref()).count();
            chains[length.min(STATS_CHAIN_LENGTHS - 1)] += 1;
            used_buckets += usize::from(length > 0);
            longest = longest.max(length);
            counted += length;
        }
        // In single precision, as Redis divides, for the same last digit.
        let size = self.buckets.len();
        let _ = write!(
            out,
            " table size: {size}\n number of elements: {}\n different slots: \
             {used_buckets}\n max chain length: {longest}\n avg chain length \
             (counted): {:.2}\n avg chain length (computed): {:.2}\n Chain \
             length distribution:\n",
            self.len,
            counted as f32 / used_buckets as f32,
            self.len as f32 / used_buckets as f32,
        );
        for (length, &count) in chains[..STATS_CHAIN_LENGTHS - 1].iter().enumerate() {
            if count > 0 {
                let percent = count as f32 / size as f32 * 100.0;
                let _ = writeln!(out, "   {length}: {count} ({percent:.2}%)");
            }
        }
    }
    // ANCHOR_END: write_stats
}

/// Drops a chain a node at a time: recursion could overflow the stack.
impl<K, V> Drop for Table<K, V> {
    fn drop(&mut self) {
        for bucket in self.buckets.iter_mut() {
            let mut link = bucket.take();
            while let Some(mut node) = link {
                link = node.next.take();
            }
        }
    }
}

impl<K, V, S: Default> Default for HashTable<K, V, S> {
    /// An empty table; it allocates nothing until the first insert.
    fn default() -> Self {
        HashTable {
            tables: [Table::with_buckets(0), Table::with_buckets(0)],
            rehash_index: None,
            hasher: S::default(),
        }
    }
}

impl<K, V, S> HashTable<K, V, S> {
    /// How many entries the table holds.
    pub fn len(&self) -> usize {
        self.tables[0].len + self.tables[1].len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a resize is in progress (the entries are in both tables).
    pub fn is_rehashing(&self) -> bool {
        self.rehash_index.is_some()
    }

    // ANCHOR: rehash_step
    /// Moves up to `buckets` non-empty buckets, passing at most ten empty
    /// ones for each (Redis's `dictRehash`). Once the old table is empty,
    /// the new one takes its place.
    fn rehash_step(&mut self, buckets: usize) {
        let Some(mut index) = self.rehash_index else {
            return;
        };
        let mut empty_visits = buckets * EMPTY_VISITS_PER_BUCKET;
        let mut moved = 0;
        let [old, new] = &mut self.tables;
        while moved < buckets && old.len > 0 {
            // Some bucket from `index` on holds entries: never `None`.
            let Some(bucket) = old.buckets.get_mut(index) else {
                break;
            };
            index += 1;
            let mut link = bucket.take();
            if link.is_none() {
                empty_visits -= 1;
                if empty_visits == 0 {
                    break;
                }
                continue;
            }
            // Re-link each node: the boxes stay put, only `next` changes.
            while let Some(mut node) = link {
                link = node.next.take();
                old.len -= 1;
                new.push(node);
            }
            moved += 1;
        }
        self.rehash_index = Some(index);
        if self.tables[0].len == 0 {
            self.tables[0] = std::mem::replace(&mut self.tables[1], Table::with_buckets(0));
            self.rehash_index = None;
        }
    }
    // ANCHOR_END: rehash_step

    // ANCHOR: resize_policy
    /// Before adding an entry: the first buckets, or a resize to the next
    /// power of two at load factor 1 (Redis's `_dictExpandIfNeeded`), once
    /// any resize in progress has finished.
    fn grow_if_needed(&mut self) {
        let Table { buckets, len } = &self.tables[0];
        if buckets.is_empty() {
            self.tables[0] = Table::with_buckets(INITIAL_BUCKETS);
        } else if !self.is_rehashing() && *len >= buckets.len() {
            self.start_rehash((len + 1).next_power_of_two());
        }
    }

    /// Under a tenth full, shrinks to the smallest power of two that holds
    /// the entries (Redis's `htNeedsResize` and `dictResize`).
    pub fn shrink_if_sparse(&mut self) {
        let Table { buckets, len } = &self.tables[0];
        if !self.is_rehashing()
            && buckets.len() > INITIAL_BUCKETS
            && len * 100 < buckets.len() * MIN_FILL_PERCENT
        {
            self.start_rehash((*len).max(INITIAL_BUCKETS).next_power_of_two());
        }
    }

    /// The entries move to the new table in `rehash_step`.
    fn start_rehash(&mut self, buckets: usize) {
        self.tables[1] = Table::with_buckets(buckets);
        self.rehash_index = Some(0);
    }
    // ANCHOR_END: resize_policy

    /// Rehashes until done or `budget` has passed (Redis's
    /// `dictRehashMilliseconds`), for a table nobody uses.
    pub fn rehash_for(&mut self, budget: Duration) {
        let start = Instant::now();
        while self.is_rehashing() {
            self.rehash_step(BUCKETS_PER_TIMED_STEP);
            if start.elapsed() > budget {
                break;
            }
        }
    }

    // ANCHOR: random_entry
    /// A random entry (Redis's `dictGetRandomKey`): random buckets until one
    /// holds entries (after 100 misses, walk on), then a node of its chain.
    pub fn random_entry(&mut self, random: &mut Random) -> Option<(&K, &V)> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step(1);
        // The buckets that can hold entries: the old table's from the
        // rehash index on (those before it have moved), then the new one's.
        let first = self.rehash_index.unwrap_or(0);
        let old = self.tables[0].buckets.get(first..).unwrap_or_default();
        let new = &self.tables[1].buckets[..];
        let live = old.len() + new.len();
        let chain_at = |index: usize| {
            old.get(index)
                .or_else(|| new.get(index - old.len()))?
                .as_deref()
        };
        let mut start = random.below(live);
        for _ in 0..RANDOM_PROBES {
            if chain_at(start).is_some() {
                break;
            }
            start = random.below(live);
        }
        let head = (0..live).find_map(|offset| chain_at((start + offset) % live))?;
        let node = chain(Some(head)).nth(random.below(chain(Some(head)).count()))?;
        Some((&node.key, &node.value))
    }
    // ANCHOR_END: random_entry

    // ANCHOR: iter
    /// Every entry, each once, in no particular order: the old table's
    /// buckets, then the new one's. While the iterator lives the table is
    /// borrowed, so no rehash step can move an entry past it (what Redis's
    /// "safe iterator" pauses rehashing for).
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.tables
            .iter()
            .flat_map(|table| table.buckets.iter())
            .flat_map(|bucket| chain(bucket.as_deref()))
            .map(|node| (&node.key, &node.value))
    }
    // ANCHOR_END: iter

    /// What `DEBUG HTSTATS` says: the main table's stats, and the new one's
    /// during a resize (Redis's `dictGetStats`).
    pub fn stats(&self) -> String {
        let mut text = String::new();
        self.tables[0].write_stats(0, &mut text);
        if self.is_rehashing() {
            self.tables[1].write_stats(1, &mut text);
        }
        text
    }
}

impl<K, V, S> HashTable<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    // ANCHOR: insert
    /// Sets `key` to `value`. If the key was there, its value is replaced
    /// (the stored key is kept) and the old value returned.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.rehash_step(1);
        let hash = self.hasher.hash_one(&key);
        if let Some(node) = self.find_mut(hash, &key) {
            return Some(std::mem::replace(&mut node.value, value));
        }
        self.grow_if_needed();
        let node = Box::new(Node {
            key,
            value,
            hash,
            next: None,
        });
        // While rehashing, new entries go to the new table.
        let table = usize::from(self.is_rehashing());
        self.tables[table].push(node);
        None
    }
    // ANCHOR_END: insert

    /// The value of `key`. `&mut self`: a lookup does a rehash step too.
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.get_mut(key).map(|value| &*value)
    }

    /// The value of `key`, to change in place.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.rehash_step(1);
        let hash = self.hasher.hash_one(key);
        self.find_mut(hash, key).map(|node| &mut node.value)
    }

    /// Deletes `key`, and returns its value if it was there.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.rehash_step(1);
        let hash = self.hasher.hash_one(key);
        let node = match self.tables[0].unlink(hash, key) {
            Some(node) => node,
            None if self.is_rehashing() => self.tables[1].unlink(hash, key)?,
            None => return None,
        };
        Some(node.value)
    }

    // ANCHOR: find
    /// The node for `key`: while rehashing, in the old table if its bucket
    /// has not moved yet, else in the new one.
    fn find_mut<Q>(&mut self, hash: u64, key: &Q) -> Option<&mut Node<K, V>>
    where
        K: Borrow<Q>,
        Q: ?Sized + Eq,
    {
        let tables = if self.is_rehashing() { 2 } else { 1 };
        for table in &mut self.tables[..tables] {
            let index = table.index(hash);
            let mut link = table.buckets.get_mut(index)?;
            while let Some(node) = link {
                if node.hash == hash && node.key.borrow() == key {
                    return Some(node);
                }
                link = &mut node.next;
            }
        }
        None
    }
    // ANCHOR_END: find
}
