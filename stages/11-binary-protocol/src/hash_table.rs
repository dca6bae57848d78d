//! A hash table of our own, built the way Redis builds its `dict`: separate
//! chaining, and a resize that happens a little at a time.
//!
//! **Chaining.** The table is an array of buckets, a power of two of them.
//! A key's hash, masked to the array's size, picks its bucket; the bucket
//! holds a linked list (a *chain*) of every entry whose hash lands there.
//! A lookup hashes the key once and walks one short chain.
//!
//! **Progressive rehashing.** When the entries outnumber the buckets (load
//! factor 1), chains get long, so the table grows to twice the buckets; when
//! under a tenth of the buckets are used, it shrinks. std's `HashMap` resizes
//! all at once: the insert that crosses the line moves every entry, and with
//! a million keys that one insert takes tens of milliseconds, during which a
//! server answers nobody. Redis instead keeps two tables while it resizes:
//! new entries go to the new one, and every write first moves one bucket's
//! chain from the old table to the new one. No single operation ever does
//! more than a small, bounded amount of moving; when the old table is empty
//! it is dropped. Lookups meanwhile look in both tables.
//!
//! What this costs: a pointer per entry, an allocation per entry, and a
//! pointer chase per step along a chain, where std's open addressing keeps
//! entries in one array. What it buys: no pause, and entries that never move
//! in memory.
//!
//! In Redis, an iterator that must not see an entry twice ("safe iterator")
//! pauses rehashing while it runs. Here the borrow checker does that for
//! free: `iter` borrows the table, so nothing can move a bucket until the
//! iterator is gone.

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::iter::FusedIterator;
use std::time::{Duration, Instant};

/// Buckets in a table when its first entry arrives (Redis's
/// `DICT_HT_INITIAL_SIZE`). Also the smallest a table shrinks to.
const INITIAL_BUCKETS: usize = 4;

/// A table shrinks when fewer than this percentage of its buckets' worth of
/// entries are left (Redis's `HASHTABLE_MIN_FILL`).
const MIN_FILL_PERCENT: usize = 10;

/// How many empty buckets a rehash step may skip over per bucket it is
/// asked to move, so that a step in a sparse table stays short too (Redis's
/// `empty_visits`).
const EMPTY_VISITS_PER_BUCKET: usize = 10;

/// How many buckets `rehash_for` moves between two looks at the clock.
const BUCKETS_PER_TIMED_STEP: usize = 100;

/// How many random buckets `random_entry` tries before it falls back to a
/// linear scan.
const RANDOM_PROBES: usize = 100;

// ANCHOR: structs
/// A map from keys to values, with separate chaining and progressive
/// rehashing (see the module's documentation).
///
/// `S` builds the hash function. The default, std's `RandomState`, seeds
/// std's hash function (SipHash 1-3 today) with a secret key picked at
/// random. That matters
/// for a server: its keys come from clients. With a fixed, well-known hash
/// function, an attacker can compute thousands of keys that all land in the
/// same bucket ("hash flooding"); that one chain grows as long as the key
/// count, and every insert or lookup on it walks the whole chain, so a few
/// megabytes of requests keep the server busy for minutes. With a secret
/// seed, nobody outside the process can tell which keys collide.
pub struct HashTable<K, V, S = RandomState> {
    /// `tables[0]` holds the entries. While a resize is in progress,
    /// `tables[1]` is the table they are moving to, and new entries go
    /// straight there; otherwise `tables[1]` has no buckets.
    tables: [Table<K, V>; 2],
    /// While rehashing, the next bucket of `tables[0]` to move: the buckets
    /// before it are empty. `None` when no rehash is in progress.
    rehash_index: Option<usize>,
    /// Makes the hash function, with its secret seed.
    hasher: S,
}

/// One array of buckets, and how many entries its chains hold.
struct Table<K, V> {
    /// No buckets at all (before the first insert), or a power of two of
    /// them, so that `hash & (count - 1)` picks one: a mask, cheaper than a
    /// division.
    buckets: Box<[Bucket<K, V>]>,
    len: usize,
}

/// The head of a chain of nodes; `None` when the bucket is empty.
type Bucket<K, V> = Option<Box<Node<K, V>>>;

struct Node<K, V> {
    key: K,
    value: V,
    /// The key's full hash. Kept so that moving the node to another table
    /// needs no hashing (SipHash is not free), and so that a lookup compares
    /// keys only when their hashes match.
    hash: u64,
    next: Bucket<K, V>,
}
// ANCHOR_END: structs

impl<K, V> Node<K, V> {
    fn matches<Q>(&self, hash: u64, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: ?Sized + Eq,
    {
        self.hash == hash && self.key.borrow() == key
    }
}

impl<K, V> Table<K, V> {
    fn empty() -> Self {
        Table {
            buckets: Box::new([]),
            len: 0,
        }
    }

    fn with_buckets(count: usize) -> Self {
        Table {
            buckets: (0..count).map(|_| None).collect(),
            len: 0,
        }
    }

    /// The bucket for `hash`. With no buckets the mask is all ones, and the
    /// index is out of range: `get` then finds nothing, as it should.
    fn index(&self, hash: u64) -> usize {
        hash as usize & self.buckets.len().wrapping_sub(1)
    }

    fn find<Q>(&self, hash: u64, key: &Q) -> Option<&Node<K, V>>
    where
        K: Borrow<Q>,
        Q: ?Sized + Eq,
    {
        let mut link = self.buckets.get(self.index(hash))?.as_deref();
        while let Some(node) = link {
            if node.matches(hash, key) {
                return Some(node);
            }
            link = node.next.as_deref();
        }
        None
    }

    fn find_mut<Q>(&mut self, hash: u64, key: &Q) -> Option<&mut Node<K, V>>
    where
        K: Borrow<Q>,
        Q: ?Sized + Eq,
    {
        let index = self.index(hash);
        let mut link = self.buckets.get_mut(index)?;
        while let Some(node) = link {
            if node.matches(hash, key) {
                return Some(node);
            }
            link = &mut node.next;
        }
        None
    }

    /// Puts `node` at the head of its chain: O(1), and the entries added
    /// last, likely the ones used next, are found first.
    fn push(&mut self, mut node: Box<Node<K, V>>) {
        // The index is in range: nodes are only pushed into a table that
        // has buckets (`insert` allocates them first, and a rehash's target
        // always has some), and the mask of a power of two keeps the index
        // below the count.
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
        while link.as_ref().is_some_and(|node| !node.matches(hash, key)) {
            // The loop's condition has just seen a node here, so `?` never
            // returns.
            link = &mut link.as_mut()?.next;
        }
        // `None` here: the chain ended without the key.
        let mut node = link.take()?;
        *link = node.next.take();
        self.len -= 1;
        Some(node)
    }
}

/// Drops every chain one node at a time. The drop that the compiler would
/// write calls itself for each `next`, one stack frame per node: a chain of
/// a million nodes (which a weak hash function, or a test, can make) would
/// overflow the stack.
impl<K, V> Drop for Table<K, V> {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        for bucket in self.buckets.iter_mut() {
            let mut link = bucket.take();
            while let Some(mut node) = link {
                link = node.next.take();
            }
        }
    }
}

impl<K, V> HashTable<K, V, RandomState> {
    /// An empty table, hashing with std's hash function under a random
    /// secret key. It allocates nothing until the first insert.
    pub fn new() -> Self {
        Self::with_hasher(RandomState::new())
    }
}

impl<K, V, S: Default> Default for HashTable<K, V, S> {
    fn default() -> Self {
        Self::with_hasher(S::default())
    }
}

impl<K, V, S> HashTable<K, V, S> {
    /// An empty table that hashes keys with `hasher`. Tests use this to make
    /// keys collide on purpose; a server should keep the default.
    pub fn with_hasher(hasher: S) -> Self {
        HashTable {
            tables: [Table::empty(), Table::empty()],
            rehash_index: None,
            hasher,
        }
    }

    /// How many entries the table holds.
    pub fn len(&self) -> usize {
        self.tables[0].len + self.tables[1].len
    }

    /// Whether the table holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a resize is in progress: entries are then split between the
    /// old table and the new one.
    pub fn is_rehashing(&self) -> bool {
        self.rehash_index.is_some()
    }

    /// How many buckets both tables have together: shows the table growing
    /// and shrinking, in tests and in the chapter.
    pub fn buckets(&self) -> usize {
        self.tables[0].buckets.len() + self.tables[1].buckets.len()
    }

    /// Every entry, each exactly once, in no particular order. While the
    /// iterator lives, the table cannot change, so no rehash can move an
    /// entry past it.
    pub fn iter(&self) -> Iter<'_, K, V> {
        let [old, new] = &self.tables;
        Iter {
            buckets: old.buckets.iter().chain(new.buckets.iter()),
            node: None,
            remaining: self.len(),
        }
    }

    /// Drops every entry and every bucket; the table is as new (and keeps
    /// its hasher).
    pub fn clear(&mut self) {
        self.tables = [Table::empty(), Table::empty()];
        self.rehash_index = None;
    }

    // ANCHOR: rehash_step
    /// Moves up to `buckets` non-empty buckets of the old table to the new
    /// one, skipping at most ten empty buckets for each, so that the step
    /// takes a short, bounded time even in a sparse table. Does nothing
    /// unless a rehash is in progress.
    fn rehash_step(&mut self, buckets: usize) {
        let Some(mut index) = self.rehash_index else {
            return;
        };
        let mut empty_visits = buckets * EMPTY_VISITS_PER_BUCKET;
        let mut moved = 0;
        let [old, new] = &mut self.tables;
        while moved < buckets && old.len > 0 {
            // While the old table holds entries, some bucket at `index` or
            // after it holds them, so this never runs off the end.
            let Some(bucket) = old.buckets.get_mut(index) else {
                break;
            };
            index += 1;
            let mut link = bucket.take();
            if link.is_none() {
                if empty_visits == 0 {
                    break;
                }
                empty_visits -= 1;
                continue;
            }
            // Re-link each node into the new table: the boxes stay where
            // they are, only `next` pointers change.
            while let Some(mut node) = link {
                link = node.next.take();
                old.len -= 1;
                new.push(node);
            }
            moved += 1;
        }
        self.rehash_index = Some(index);
        self.finish_rehash_if_done();
    }

    /// Once the old table is empty, the new table takes its place.
    /// Removes made while it ran may have left the new table too big
    /// already: shrink again rather than wait for a remove that may never
    /// come.
    fn finish_rehash_if_done(&mut self) {
        if self.is_rehashing() && self.tables[0].len == 0 {
            self.tables[0] = std::mem::replace(&mut self.tables[1], Table::empty());
            self.rehash_index = None;
            self.shrink_if_needed();
        }
    }
    // ANCHOR_END: rehash_step

    // ANCHOR: resize_policy
    /// Before adding an entry: allocate the first buckets, or start growing
    /// once there are as many entries as buckets (load factor 1, as in
    /// Redis). A resize already in progress finishes first.
    fn grow_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let buckets = self.tables[0].buckets.len();
        if buckets == 0 {
            self.tables[0] = Table::with_buckets(INITIAL_BUCKETS);
        } else if self.tables[0].len >= buckets {
            self.start_rehash(buckets * 2);
        }
    }

    /// After removing an entry: start shrinking once under a tenth of the
    /// buckets' worth of entries is left, to the smallest power of two that
    /// holds them all, so that memory comes back after a mass delete.
    fn shrink_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let buckets = self.tables[0].buckets.len();
        let len = self.tables[0].len;
        if buckets > INITIAL_BUCKETS && len * 100 < buckets * MIN_FILL_PERCENT {
            self.start_rehash(len.next_power_of_two().max(INITIAL_BUCKETS));
        }
    }

    /// Allocates the new table; the entries move to it a bucket at a time,
    /// in `rehash_step`.
    fn start_rehash(&mut self, buckets: usize) {
        self.tables[1] = Table::with_buckets(buckets);
        self.rehash_index = Some(0);
        // An empty old table has nothing to move.
        self.finish_rehash_if_done();
    }
    // ANCHOR_END: resize_policy

    // ANCHOR: random_entry
    /// A random entry, or `None` if the table is empty, picked with the
    /// caller's random number `random` (the server has its own generator;
    /// further numbers are derived from this one).
    ///
    /// Like Redis's `dictGetRandomKey`, which active expiry uses to sample
    /// keys: pick random buckets until one is not empty, then a random node
    /// of its chain. An entry in a longer chain is a little less likely to
    /// be picked; for sampling, that is fine.
    pub fn random_entry(&self, random: u64) -> Option<(&K, &V)> {
        if self.is_empty() {
            return None;
        }
        let mut random = SplitMix64(random);
        // The buckets that can hold entries: the old table's from the rehash
        // index on (those before it have moved), then the new table's.
        let first = self.rehash_index.unwrap_or(0);
        let old = self.tables[0].buckets.get(first..).unwrap_or_default();
        let new = &self.tables[1].buckets[..];
        let live = old.len() + new.len();
        if live == 0 {
            return None; // Cannot happen: the entries are in live buckets.
        }
        let chain_at = |index: usize| {
            old.get(index)
                .or_else(|| new.get(index - old.len()))
                .and_then(|bucket| bucket.as_deref())
        };
        // There is about one entry per bucket, and at least one per ten
        // buckets (or the table shrinks), so a random probe seldom misses for
        // long. But a run of bad luck, or a table that has just lost most of
        // its entries, must not loop forever: after `RANDOM_PROBES` misses,
        // walk the buckets from a random one.
        let probe = (0..RANDOM_PROBES).find_map(|_| chain_at(random.below(live)));
        let head = match probe {
            Some(head) => head,
            None => {
                let start = random.below(live);
                (0..live).find_map(|offset| chain_at((start + offset) % live))?
            }
        };
        let chain = || std::iter::successors(Some(head), |node| node.next.as_deref());
        let node = chain().nth(random.below(chain().count()))?;
        Some((&node.key, &node.value))
    }
    // ANCHOR_END: random_entry

    /// Moves buckets to the new table, a hundred at a time, until the rehash
    /// is done or `budget` has passed (it always does one batch). Returns
    /// whether a rehash is still in progress.
    ///
    /// A table that nobody writes to would otherwise stay split in two, with
    /// twice the memory and every lookup looking twice. Redis's `serverCron`
    /// calls the same thing for a millisecond at each tick.
    pub fn rehash_for(&mut self, budget: Duration) -> bool {
        let start = Instant::now();
        while self.is_rehashing() {
            self.rehash_step(BUCKETS_PER_TIMED_STEP);
            if start.elapsed() >= budget {
                break;
            }
        }
        self.is_rehashing()
    }
}

impl<K, V, S> HashTable<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    // ANCHOR: insert
    /// Sets `key` to `value`. If the key was there, its value is replaced
    /// (the key already stored is kept, and the new one dropped) and the old
    /// value is returned.
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
        // While rehashing, new entries go to the new table, so the old one
        // only ever empties.
        let table = if self.is_rehashing() { 1 } else { 0 };
        self.tables[table].push(node);
        None
    }
    // ANCHOR_END: insert

    /// The value of `key`, if it is there. It takes `&self`, so unlike Redis
    /// it does no rehash step: writes and `rehash_for` move the buckets.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let hash = self.hasher.hash_one(key);
        self.find(hash, key).map(|node| &node.value)
    }

    /// The value of `key`, to change in place. Does a rehash step first.
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
        self.remove_entry(key).map(|(_, value)| value)
    }

    /// Deletes `key`, and returns the stored key and its value if it was
    /// there. Does a rehash step first, and may start shrinking the table.
    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(K, V)>
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
        // The old table may just have lost its last entry.
        self.finish_rehash_if_done();
        self.shrink_if_needed();
        let Node { key, value, .. } = *node;
        Some((key, value))
    }

    // ANCHOR: find
    /// The node for `key`. While rehashing, a key is in exactly one of the
    /// tables: the old one if its bucket has not moved yet, else the new
    /// one.
    fn find<Q>(&self, hash: u64, key: &Q) -> Option<&Node<K, V>>
    where
        K: Borrow<Q>,
        Q: ?Sized + Eq,
    {
        let found = self.tables[0].find(hash, key);
        if found.is_some() || !self.is_rehashing() {
            return found;
        }
        self.tables[1].find(hash, key)
    }
    // ANCHOR_END: find

    /// `find`, for a node to change.
    fn find_mut<Q>(&mut self, hash: u64, key: &Q) -> Option<&mut Node<K, V>>
    where
        K: Borrow<Q>,
        Q: ?Sized + Eq,
    {
        let rehashing = self.is_rehashing();
        let [old, new] = &mut self.tables;
        match old.find_mut(hash, key) {
            Some(node) => Some(node),
            None if rehashing => new.find_mut(hash, key),
            None => None,
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for HashTable<K, V, S> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_map().entries(self.iter()).finish()
    }
}

type BucketIter<'a, K, V> = std::slice::Iter<'a, Bucket<K, V>>;

/// The entries of a `HashTable`: the old table's buckets, then the new
/// table's, each chain from its head.
pub struct Iter<'a, K, V> {
    buckets: std::iter::Chain<BucketIter<'a, K, V>, BucketIter<'a, K, V>>,
    /// The next node of the chain being walked.
    node: Option<&'a Node<K, V>>,
    remaining: usize,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(node) = self.node {
                self.node = node.next.as_deref();
                self.remaining = self.remaining.saturating_sub(1);
                return Some((&node.key, &node.value));
            }
            self.node = self.buckets.next()?.as_deref();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

impl<K, V> FusedIterator for Iter<'_, K, V> {}

impl<'a, K, V, S> IntoIterator for &'a HashTable<K, V, S> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Turns one random number into a stream of them: SplitMix64, a few
/// multiplications and shifts that scatter the bits of a counter. Good
/// enough to pick buckets; not for anything secret.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `bound`, which must not be zero. (The remainder is
    /// very slightly biased towards small numbers; with a bound of a few
    /// million and 64 random bits, by about one part in 10^12.)
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::hash::Hasher;

    /// A deliberately weak hash function: the sum of the key's bytes modulo
    /// `distinct`, so that keys collide as often as a test wants. With
    /// `distinct` = 1, every key lands in the same bucket.
    #[derive(Clone, Copy)]
    struct WeakHash {
        distinct: u64,
    }

    struct WeakHasher {
        sum: u64,
        distinct: u64,
    }

    impl BuildHasher for WeakHash {
        type Hasher = WeakHasher;
        fn build_hasher(&self) -> WeakHasher {
            WeakHasher {
                sum: 0,
                distinct: self.distinct,
            }
        }
    }

    impl Hasher for WeakHasher {
        fn finish(&self) -> u64 {
            self.sum % self.distinct
        }
        fn write(&mut self, bytes: &[u8]) {
            for byte in bytes {
                self.sum = self.sum.wrapping_add(u64::from(*byte));
            }
        }
    }

    impl<K: Hash + Eq, V, S: BuildHasher> HashTable<K, V, S> {
        /// Checks everything the table's code relies on, walking every
        /// bucket.
        #[track_caller]
        fn check_invariants(&self) {
            for (number, table) in self.tables.iter().enumerate() {
                let count = table.buckets.len();
                assert!(
                    count == 0 || count.is_power_of_two(),
                    "table {number} has {count} buckets"
                );
                let mut len = 0;
                for (index, bucket) in table.buckets.iter().enumerate() {
                    if number == 0 && self.rehash_index.is_some_and(|next| index < next) {
                        assert!(bucket.is_none(), "moved bucket {index} is not empty");
                    }
                    let mut link = bucket.as_deref();
                    while let Some(node) = link {
                        assert_eq!(node.hash, self.hasher.hash_one(&node.key));
                        assert_eq!(table.index(node.hash), index, "node in the wrong bucket");
                        len += 1;
                        link = node.next.as_deref();
                    }
                }
                assert_eq!(len, table.len, "table {number}'s count is off");
            }
            if self.is_rehashing() {
                assert!(self.tables[0].len > 0, "an empty old table lingers");
                assert!(!self.tables[1].buckets.is_empty());
            } else {
                assert!(self.tables[1].buckets.is_empty());
            }
        }

        /// The entries, sorted, to compare with a model.
        fn sorted_entries(&self) -> Vec<(K, V)>
        where
            K: Ord + Clone,
            V: Ord + Clone,
        {
            let mut entries: Vec<(K, V)> =
                self.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            entries.sort();
            entries
        }
    }

    /// Fills a table until an insert starts a rehash from 64 buckets or
    /// more, and stops there, before any bucket has moved; returns the keys.
    fn fill_until_rehashing(table: &mut HashTable<u32, u32>) -> Vec<u32> {
        let mut keys = Vec::new();
        for key in 0.. {
            table.insert(key, key * 10);
            keys.push(key);
            let just_started = table.is_rehashing() && table.tables[1].len == 1;
            if just_started && keys.len() > 64 {
                break;
            }
        }
        keys
    }

    #[test]
    fn insert_get_overwrite_remove() {
        let mut table = HashTable::new();
        assert!(table.is_empty());
        assert_eq!(
            table.buckets(),
            0,
            "nothing allocated before the first insert"
        );
        assert_eq!(table.insert("a".to_string(), 1), None);
        assert_eq!(table.insert("b".to_string(), 2), None);
        assert_eq!(table.buckets(), INITIAL_BUCKETS);
        assert_eq!(table.len(), 2);
        assert_eq!(table.get("a"), Some(&1));
        assert_eq!(table.get("c"), None);
        assert_eq!(table.insert("a".to_string(), 3), Some(1), "overwrite");
        assert_eq!(table.len(), 2);
        assert_eq!(table.get("a"), Some(&3));
        *table.get_mut("b").expect("b is there") += 40;
        assert_eq!(table.get("b"), Some(&42));
        assert_eq!(table.get_mut("c"), None);
        assert_eq!(table.remove("a"), Some(3));
        assert_eq!(table.remove("a"), None);
        assert_eq!(table.remove_entry("b"), Some(("b".to_string(), 42)));
        assert!(table.is_empty());
        table.check_invariants();
    }

    #[test]
    fn overwriting_keeps_the_stored_key() {
        // Two keys that are equal but tell apart: equality and hashing look
        // at the first field only.
        #[derive(Debug)]
        struct Tagged(u32, &'static str);
        impl PartialEq for Tagged {
            fn eq(&self, other: &Self) -> bool {
                self.0 == other.0
            }
        }
        impl Eq for Tagged {}
        impl Hash for Tagged {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.0.hash(state);
            }
        }
        let mut table = HashTable::new();
        table.insert(Tagged(1, "first"), "a");
        assert_eq!(table.insert(Tagged(1, "second"), "b"), Some("a"));
        let (key, value) = table.remove_entry(&Tagged(1, "")).expect("there");
        assert_eq!((key.1, value), ("first", "b"));
    }

    #[test]
    fn grows_by_doubling_and_finds_everything() {
        let mut table = HashTable::new();
        let mut seen_sizes = vec![INITIAL_BUCKETS];
        for key in 0..10_000u32 {
            table.insert(key, key);
            let target = table.tables[1].buckets.len();
            if table.is_rehashing() && seen_sizes.last() != Some(&target) {
                seen_sizes.push(target);
            }
        }
        table.rehash_for(Duration::from_secs(10));
        assert!(!table.is_rehashing());
        assert_eq!(table.buckets(), 16_384, "load factor at most 1");
        for pair in seen_sizes.windows(2) {
            assert_eq!(pair[1], pair[0] * 2, "sizes {seen_sizes:?}");
        }
        assert_eq!(table.len(), 10_000);
        for key in 0..10_000u32 {
            assert_eq!(table.get(&key), Some(&key));
        }
        table.check_invariants();
    }

    #[test]
    fn everything_works_halfway_through_a_rehash() {
        let mut table = HashTable::new();
        let mut model: HashMap<u32, u32> = HashMap::new();
        for key in fill_until_rehashing(&mut table) {
            model.insert(key, key * 10);
        }
        assert!(table.is_rehashing(), "the last insert started a rehash");
        let before = table.buckets();
        let mut operations = 0;
        let mut next_key = 1_000;
        while table.is_rehashing() {
            // One of each write, each doing a rehash step.
            let overwrite = next_key % 37;
            assert_eq!(
                table.insert(overwrite, next_key),
                model.insert(overwrite, next_key)
            );
            assert_eq!(table.insert(next_key, 1), model.insert(next_key, 1));
            let gone = next_key % 41;
            assert_eq!(table.remove(&gone), model.remove(&gone));
            let changed = next_key % 43;
            if let Some(value) = table.get_mut(&changed) {
                *value += 1;
            }
            if let Some(value) = model.get_mut(&changed) {
                *value += 1;
            }
            next_key += 1;
            operations += 1;
            table.check_invariants();
            // Each key exactly once, in `iter` and in `get`.
            let mut counts: HashMap<u32, usize> = HashMap::new();
            for (key, value) in &table {
                *counts.entry(*key).or_default() += 1;
                assert_eq!(Some(value), model.get(key));
            }
            assert!(counts.values().all(|&count| count == 1), "a key seen twice");
            assert_eq!(counts.len(), model.len());
            assert_eq!(table.iter().len(), model.len());
            for (key, value) in &model {
                assert_eq!(table.get(key), Some(value));
            }
        }
        assert!(operations > 5, "the rehash took {operations} steps");
        assert!(table.buckets() < before, "the old table is gone");
    }

    #[test]
    fn shrinks_after_most_keys_are_removed() {
        let mut table = HashTable::new();
        for key in 0..1_000u32 {
            table.insert(key, ());
        }
        table.rehash_for(Duration::from_secs(10));
        assert_eq!(table.buckets(), 1_024);
        for key in 0..995 {
            table.remove(&key);
        }
        table.rehash_for(Duration::from_secs(10));
        // Where it ends depends on when each shrink started (none starts
        // while another runs), but at rest the policy holds.
        assert!(table.buckets() <= 16, "{} buckets", table.buckets());
        assert!(table.len() * 10 >= table.buckets(), "{}", table.buckets());
        for key in 995..1_000 {
            assert_eq!(table.get(&key), Some(&()));
        }
        for key in 995..1_000 {
            table.remove(&key);
        }
        table.rehash_for(Duration::from_secs(10));
        assert_eq!(table.buckets(), INITIAL_BUCKETS, "never below four");
        table.check_invariants();
    }

    #[test]
    fn a_rehash_step_moves_a_bounded_amount() {
        let mut table = HashTable::new();
        fill_until_rehashing(&mut table);
        let old_len = table.tables[0].len;
        table.get_mut(&0);
        let moved = old_len - table.tables[0].len;
        assert!(moved < 20, "one bucket's chain, not {moved} entries");
        // And `rehash_for` with no time does one batch, and no more.
        let before = table.rehash_index;
        table.rehash_for(Duration::ZERO);
        let after = table.rehash_index.unwrap_or(usize::MAX);
        assert!(after > before.unwrap_or(0));
    }

    #[test]
    fn clear_drops_everything() {
        let mut table = HashTable::new();
        fill_until_rehashing(&mut table);
        table.clear();
        assert_eq!((table.len(), table.buckets()), (0, 0));
        assert!(!table.is_rehashing());
        assert_eq!(table.iter().next(), None);
        assert_eq!(table.get(&1), None);
        table.insert(1, 2);
        assert_eq!(table.get(&1), Some(&2));
        table.check_invariants();
    }

    #[test]
    fn random_entry_finds_every_key_and_only_those() {
        let mut table = HashTable::new();
        assert_eq!(table.random_entry(7), None);
        for key in 0..10u32 {
            table.insert(key, key + 100);
        }
        let mut seen = std::collections::HashSet::new();
        let mut random = SplitMix64(1);
        for _ in 0..1_000 {
            let (key, value) = table.random_entry(random.next()).expect("not empty");
            assert_eq!(*value, key + 100);
            seen.insert(*key);
        }
        assert_eq!(seen.len(), 10, "every key comes up: {seen:?}");
        table.clear();
        assert_eq!(table.random_entry(7), None);
    }

    #[test]
    fn random_entry_mid_rehash_and_in_a_sparse_table() {
        let mut table = HashTable::new();
        let keys = fill_until_rehashing(&mut table);
        let mut random = SplitMix64(2);
        for _ in 0..1_000 {
            let (key, _) = table.random_entry(random.next()).expect("not empty");
            assert!(keys.contains(key));
        }
        // One entry among many buckets: the probes mostly miss, and the
        // linear scan still finds it.
        let mut table = HashTable::new();
        for key in 0..100_000u32 {
            table.insert(key, ());
        }
        for key in 1..100_000u32 {
            table.remove(&key);
        }
        assert!(table.buckets() > 1_000, "{}", table.buckets());
        for _ in 0..100 {
            assert_eq!(table.random_entry(random.next()), Some((&0, &())));
        }
    }

    #[test]
    fn colliding_keys_all_share_one_chain() {
        let mut table = HashTable::with_hasher(WeakHash { distinct: 1 });
        for key in 0..2_000u32 {
            table.insert(key, key);
        }
        table.rehash_for(Duration::from_secs(10));
        table.check_invariants();
        let longest = table.tables[0]
            .buckets
            .iter()
            .map(|bucket| std::iter::successors(bucket.as_deref(), |n| n.next.as_deref()).count())
            .max();
        assert_eq!(longest, Some(2_000));
        for key in (0..2_000u32).step_by(2) {
            assert_eq!(table.remove(&key), Some(key));
        }
        for key in 0..2_000u32 {
            assert_eq!(table.get(&key), (key % 2 == 1).then_some(&key));
        }
        table.check_invariants();
    }

    #[test]
    fn a_chain_of_a_million_nodes_drops_without_overflowing_the_stack() {
        // Inserting through the table is O(chain length) per key, so build
        // the chain directly: a million nodes in bucket 0.
        let mut table: HashTable<u32, u32, _> = HashTable::with_hasher(WeakHash { distinct: 1 });
        table.insert(0, 0);
        for key in 1..1_000_000u32 {
            table.tables[0].push(Box::new(Node {
                key,
                value: key,
                hash: 0,
                next: None,
            }));
        }
        assert_eq!(table.len(), 1_000_000);
        assert_eq!(table.iter().count(), 1_000_000);
        drop(table);
    }

    mod model {
        //! Random operation sequences, run against our table and against
        //! std's `HashMap` as a model; after each, the two must agree.

        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Op {
            Insert(u8, u32),
            Remove(u8),
            RemoveEntry(u8),
            Get(u8),
            GetMut(u8, u32),
            Iterate,
            RandomEntry(u64),
            /// `true`: until done; `false`: one batch.
            RehashFor(bool),
            Clear,
        }

        fn op(insert: u32, remove: u32, clear: u32) -> impl Strategy<Value = Op> {
            prop_oneof![
                insert => (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
                remove => any::<u8>().prop_map(Op::Remove),
                remove => any::<u8>().prop_map(Op::RemoveEntry),
                4 => any::<u8>().prop_map(Op::Get),
                4 => (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::GetMut(k, v)),
                1 => Just(Op::Iterate),
                2 => any::<u64>().prop_map(Op::RandomEntry),
                1 => any::<bool>().prop_map(Op::RehashFor),
                clear => Just(Op::Clear),
            ]
        }

        /// A phase of mostly inserts, so the table grows through several
        /// sizes; a phase of mostly removes, so it shrinks; and a mix.
        fn ops() -> impl Strategy<Value = Vec<Op>> {
            (
                prop::collection::vec(op(40, 3, 0), 0..300),
                prop::collection::vec(op(3, 30, 0), 0..300),
                prop::collection::vec(op(10, 10, 1), 0..200),
            )
                .prop_map(|(grow, shrink, mix)| [grow, shrink, mix].concat())
        }

        fn run<S: BuildHasher>(hasher: S, ops: Vec<Op>) -> Result<(), TestCaseError> {
            let mut table = HashTable::with_hasher(hasher);
            let mut model: HashMap<u8, u32> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(table.insert(k, v), model.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(table.remove(&k), model.remove(&k)),
                    Op::RemoveEntry(k) => {
                        prop_assert_eq!(table.remove_entry(&k), model.remove_entry(&k))
                    }
                    Op::Get(k) => prop_assert_eq!(table.get(&k), model.get(&k)),
                    Op::GetMut(k, v) => {
                        let ours = table.get_mut(&k).map(|value| {
                            *value ^= v;
                            *value
                        });
                        let theirs = model.get_mut(&k).map(|value| {
                            *value ^= v;
                            *value
                        });
                        prop_assert_eq!(ours, theirs);
                    }
                    Op::Iterate => {
                        let iter = table.iter();
                        prop_assert_eq!(iter.len(), model.len());
                        prop_assert_eq!(iter.count(), model.len());
                    }
                    Op::RandomEntry(random) => match table.random_entry(random) {
                        Some((k, v)) => prop_assert_eq!(model.get(k), Some(v)),
                        None => prop_assert!(model.is_empty()),
                    },
                    Op::RehashFor(finish) => {
                        let budget = if finish {
                            Duration::from_secs(10)
                        } else {
                            Duration::ZERO
                        };
                        let still = table.rehash_for(budget);
                        prop_assert_eq!(still, table.is_rehashing());
                        if finish {
                            prop_assert!(!still);
                        }
                    }
                    Op::Clear => {
                        table.clear();
                        model.clear();
                    }
                }
                table.check_invariants();
                prop_assert_eq!(table.len(), model.len());
                let mut expected: Vec<(u8, u32)> = model.iter().map(|(k, v)| (*k, *v)).collect();
                expected.sort();
                prop_assert_eq!(table.sorted_entries(), expected);
            }
            Ok(())
        }

        proptest! {
            #[test]
            fn agrees_with_std_hashmap(ops in ops()) {
                run(RandomState::new(), ops)?;
            }

            /// With eight distinct hashes, chains are long and most buckets
            /// empty: rehash steps run out of empty visits, and removes and
            /// lookups walk past many colliding keys.
            #[test]
            fn agrees_with_std_hashmap_when_keys_collide(ops in ops()) {
                run(WeakHash { distinct: 8 }, ops)?;
            }
        }
    }
}
