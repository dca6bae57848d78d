use super::*;
use std::collections::HashMap;
use std::hash::Hasher;

/// A hash function that tests can steer: a `u8` or `u32` key is its own
/// hash, so `key & (buckets - 1)` is its bucket. With `distinct` set, every
/// hash is taken modulo it, so that keys collide as often as a test wants
/// (with 1, all land in one bucket).
#[derive(Clone, Copy, Default)]
struct SteeredHash {
    distinct: Option<u64>,
}

struct SteeredHasher {
    hash: u64,
    distinct: Option<u64>,
}

impl BuildHasher for SteeredHash {
    type Hasher = SteeredHasher;
    fn build_hasher(&self) -> SteeredHasher {
        SteeredHasher {
            hash: 0,
            distinct: self.distinct,
        }
    }
}

impl Hasher for SteeredHasher {
    fn finish(&self) -> u64 {
        self.distinct
            .map_or(self.hash, |distinct| self.hash % distinct)
    }
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.hash = self.hash.wrapping_add(u64::from(*byte));
        }
    }
    fn write_u8(&mut self, key: u8) {
        self.hash = u64::from(key);
    }
    fn write_u32(&mut self, key: u32) {
        self.hash = u64::from(key);
    }
}

fn new<K, V>() -> HashTable<K, V> {
    HashTable::default()
}

fn with_hasher<K, V, S>(hasher: S) -> HashTable<K, V, S> {
    HashTable {
        tables: [Table::with_buckets(0), Table::with_buckets(0)],
        rehash_index: None,
        hasher,
    }
}

/// A table where a key is its own hash.
fn steered<K, V>() -> HashTable<K, V, SteeredHash> {
    with_hasher(SteeredHash::default())
}

/// A table where keys have only `distinct` hashes.
fn colliding<K, V>(distinct: u64) -> HashTable<K, V, SteeredHash> {
    with_hasher(SteeredHash {
        distinct: Some(distinct),
    })
}

impl<K: Hash + Eq, V, S: BuildHasher> HashTable<K, V, S> {
    /// How many buckets both tables have together.
    fn buckets(&self) -> usize {
        self.tables[0].buckets.len() + self.tables[1].buckets.len()
    }

    fn finish_rehash(&mut self) {
        self.rehash_for(Duration::from_secs(10));
        assert!(!self.is_rehashing());
    }

    /// Every entry, walking both tables.
    fn entries(&self) -> Vec<(&K, &V)> {
        self.tables
            .iter()
            .flat_map(|table| table.buckets.iter())
            .flat_map(|bucket| chain(bucket.as_deref()))
            .map(|node| (&node.key, &node.value))
            .collect()
    }

    /// Checks everything the table's code relies on, walking every bucket.
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
                for node in chain(bucket.as_deref()) {
                    assert_eq!(node.hash, self.hasher.hash_one(&node.key));
                    assert_eq!(table.index(node.hash), index, "node in the wrong bucket");
                    len += 1;
                }
            }
            assert_eq!(len, table.len, "table {number}'s count is off");
        }
        if self.is_rehashing() {
            assert!(!self.tables[1].buckets.is_empty());
        } else {
            assert!(self.tables[1].buckets.is_empty());
        }
    }
}

/// Fills a table until an insert starts a rehash from `buckets` buckets or
/// more, and stops there, before any bucket has moved; returns the keys.
fn fill_until_rehashing(table: &mut HashTable<u32, u32>, buckets: usize) -> Vec<u32> {
    let mut keys = Vec::new();
    for key in 0.. {
        table.insert(key, key * 10);
        keys.push(key);
        let just_started = table.is_rehashing() && table.tables[1].len == 1;
        if just_started && keys.len() > buckets {
            break;
        }
    }
    keys
}

#[test]
fn insert_get_overwrite_remove() {
    let mut table = new();
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
    assert_eq!(table.remove("b"), Some(42));
    assert!(table.is_empty());
    table.check_invariants();
}

#[test]
fn overwriting_keeps_the_stored_key() {
    // Two keys that are equal but tell apart: equality and hashing look at
    // the first field only.
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
    let mut table = new();
    table.insert(Tagged(1, "first"), "a");
    assert_eq!(table.insert(Tagged(1, "second"), "b"), Some("a"));
    let [(key, value)] = table.entries()[..] else {
        panic!("one entry");
    };
    assert_eq!((key.1, *value), ("first", "b"));
}

#[test]
fn grows_when_the_entries_reach_the_buckets() {
    let mut table = new();
    for key in 0..4u32 {
        table.insert(key, ());
    }
    assert!(!table.is_rehashing(), "4 entries fit in 4 buckets");
    table.insert(4, ());
    assert!(table.is_rehashing(), "the fifth starts a resize");
    assert_eq!(table.tables[1].buckets.len(), 8);
    assert_eq!((table.tables[0].len, table.tables[1].len), (4, 1));
    table.check_invariants();
}

#[test]
fn grows_by_doubling_and_finds_everything() {
    let mut table = new();
    let mut seen_sizes = vec![INITIAL_BUCKETS];
    for key in 0..10_000u32 {
        table.insert(key, key);
        let target = table.tables[1].buckets.len();
        if table.is_rehashing() && seen_sizes.last() != Some(&target) {
            seen_sizes.push(target);
        }
    }
    table.finish_rehash();
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
    let mut table = new();
    let mut model: HashMap<u32, u32> = HashMap::new();
    for key in fill_until_rehashing(&mut table, 64) {
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
        // Each key exactly once, in both tables together, and found (with
        // no rehash step, which `get` would do).
        let mut entries: Vec<(u32, u32)> =
            table.entries().iter().map(|(k, v)| (**k, **v)).collect();
        entries.sort();
        let mut expected: Vec<(u32, u32)> = model.iter().map(|(k, v)| (*k, *v)).collect();
        expected.sort();
        assert_eq!(entries, expected);
        for (key, value) in &model {
            let hash = table.hasher.hash_one(key);
            let found = table
                .find_mut(hash, |stored| stored == key)
                .map(|node| node.value);
            assert_eq!(found.as_ref(), Some(value));
        }
    }
    assert!(operations > 5, "the rehash took {operations} steps");
    assert!(table.buckets() < before, "the old table is gone");
}

#[test]
fn iter_sees_every_entry_once_even_mid_rehash() {
    let mut table = new();
    assert_eq!(table.iter().count(), 0);
    let keys = fill_until_rehashing(&mut table, 64);
    for key in &keys[..10] {
        table.get(key);
    }
    assert!(table.is_rehashing(), "some buckets moved, not all");
    let mut seen: Vec<(u32, u32)> = table.iter().map(|(k, v)| (*k, *v)).collect();
    seen.sort();
    let expected: Vec<(u32, u32)> = keys.iter().map(|&k| (k, k * 10)).collect();
    assert_eq!(seen, expected);
}

#[test]
fn a_rehash_step_moves_one_bucket_or_passes_ten_empty_ones() {
    // 64 buckets, entries in buckets 30 and 31 only (an integer key is its
    // own hash here), growing to 128.
    let mut table: HashTable<u32, (), _> = steered();
    table.tables[0] = Table::with_buckets(64);
    for key in [30, 94, 31] {
        let hash = table.hasher.hash_one(key);
        table.tables[0].push(Box::new(Node {
            key,
            value: (),
            hash,
            next: None,
        }));
    }
    table.start_rehash(128);
    table.get(&0);
    assert_eq!(
        table.rehash_index,
        Some(10),
        "ten empty buckets, then it stops"
    );
    table.get(&0);
    table.get(&0);
    assert_eq!(table.rehash_index, Some(30));
    table.get(&0);
    assert_eq!(
        table.rehash_index,
        Some(31),
        "bucket 30's whole chain moved"
    );
    assert_eq!((table.tables[0].len, table.tables[1].len), (1, 2));
    table.get(&0);
    assert!(
        !table.is_rehashing(),
        "the last entry moved: the rehash is over"
    );
    assert_eq!(table.buckets(), 128);
    table.check_invariants();
}

#[test]
fn shrinks_from_the_timer_once_under_a_tenth_full() {
    let mut table = new();
    for key in 0..1_000u32 {
        table.insert(key, ());
    }
    table.finish_rehash();
    assert_eq!(table.buckets(), 1_024);
    for key in 0..990 {
        table.remove(&key);
    }
    assert_eq!(table.buckets(), 1_024, "removes alone never shrink it");
    table.shrink_if_sparse();
    assert!(table.is_rehashing());
    assert_eq!(table.tables[1].buckets.len(), 16, "10 entries: 16 buckets");
    table.finish_rehash();
    assert_eq!(table.buckets(), 16);
    table.shrink_if_sparse();
    assert!(!table.is_rehashing(), "10 of 16 is not sparse");
    for key in 990..1_000 {
        assert_eq!(table.get(&key), Some(&()));
        table.remove(&key);
    }
    table.shrink_if_sparse();
    table.finish_rehash();
    assert_eq!(table.buckets(), INITIAL_BUCKETS, "never below four");
    table.check_invariants();
}

#[test]
fn rehash_for_stops_when_its_time_is_up() {
    let mut table = new();
    fill_until_rehashing(&mut table, 1_024);
    table.rehash_for(Duration::ZERO);
    assert!(
        table
            .rehash_index
            .is_some_and(|index| index >= BUCKETS_PER_TIMED_STEP),
        "one batch of a hundred buckets, then the clock"
    );
    table.finish_rehash();
    table.check_invariants();
}

#[test]
fn random_entry_finds_every_key_and_only_those() {
    let mut table = new();
    let mut random = Random::new();
    assert_eq!(table.random_entry(&mut random), None);
    for key in 0..10u32 {
        table.insert(key, key + 100);
    }
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1_000 {
        let (key, value) = table.random_entry(&mut random).expect("not empty");
        assert_eq!(*value, key + 100);
        seen.insert(*key);
    }
    assert_eq!(seen.len(), 10, "every key comes up: {seen:?}");
}

#[test]
fn random_entry_mid_rehash_and_in_a_sparse_table() {
    let mut table = new();
    let keys = fill_until_rehashing(&mut table, 64);
    let mut random = Random::new();
    for _ in 0..100 {
        let (key, _) = table.random_entry(&mut random).expect("not empty");
        assert!(keys.contains(key));
    }
    // One entry among many buckets: the probes mostly miss, and the walk
    // from a random bucket still finds it.
    let mut table = new();
    for key in 0..100_000u32 {
        table.insert(key, ());
    }
    for key in 1..100_000u32 {
        table.remove(&key);
    }
    table.finish_rehash();
    assert!(table.buckets() > 100_000, "{}", table.buckets());
    for _ in 0..100 {
        assert_eq!(table.random_entry(&mut random), Some((&0, &())));
    }
}

#[test]
fn colliding_keys_all_share_one_chain() {
    let mut table = colliding(1);
    for key in 0..2_000u32 {
        table.insert(key, key);
    }
    table.finish_rehash();
    table.check_invariants();
    let longest = table.tables[0]
        .buckets
        .iter()
        .map(|bucket| chain(bucket.as_deref()).count())
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
    // Inserting through the table is O(chain length) per key, so build the
    // chain directly: a million nodes in bucket 0.
    let mut table: HashTable<u32, u32, _> = colliding(1);
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
    assert_eq!(table.entries().len(), 1_000_000);
    drop(table);
}

#[test]
fn stats_of_an_empty_table() {
    let table: HashTable<u32, u32> = new();
    assert_eq!(
        table.stats(),
        "Hash table 0 stats (main hash table):\n\
         No stats available for empty dictionaries\n"
    );
}

#[test]
fn stats_word_for_word_as_redis_prints_them_mid_resize() {
    // Keys 1, 5, 9 share bucket 1 of 4, key 3 has bucket 3; key 2 starts
    // the resize to 8, and a lookup moves bucket 1's chain (1 and 9 to
    // bucket 1 of 8, 5 to bucket 5). Redis 7.0 printed this very state.
    let mut table = steered();
    for key in [1u32, 5, 9, 3, 2] {
        table.insert(key, ());
    }
    table.get(&0);
    assert_eq!(
        table.stats(),
        "Hash table 0 stats (main hash table):
 table size: 4
 number of elements: 1
 different slots: 1
 max chain length: 1
 avg chain length (counted): 1.00
 avg chain length (computed): 1.00
 Chain length distribution:
   0: 3 (75.00%)
   1: 1 (25.00%)
Hash table 1 stats (rehashing target):
 table size: 8
 number of elements: 4
 different slots: 3
 max chain length: 2
 avg chain length (counted): 1.33
 avg chain length (computed): 1.33
 Chain length distribution:
   0: 5 (62.50%)
   1: 2 (25.00%)
   2: 1 (12.50%)
"
    );
}

#[test]
fn stats_round_as_redis_and_leave_out_chains_of_49_or_more() {
    // 32 buckets: one chain of 60 (counted, never listed, as in Redis), one
    // of 3 and one of 1; 1/32 is 3.125%, which C's printf rounds to even.
    let mut table: HashTable<u32, (), _> = steered();
    table.tables[0] = Table::with_buckets(32);
    let keys = (0..60).map(|n| n * 32).chain([1, 33, 65, 2]);
    for key in keys {
        let hash = table.hasher.hash_one(key);
        table.tables[0].push(Box::new(Node {
            key,
            value: (),
            hash,
            next: None,
        }));
    }
    let stats = table.stats();
    let tail = stats.split_once(" max chain").expect("stats").1;
    assert_eq!(
        tail,
        " length: 60
 avg chain length (counted): 21.33
 avg chain length (computed): 21.33
 Chain length distribution:
   0: 29 (90.62%)
   1: 1 (3.12%)
   3: 1 (3.12%)
"
    );
}

mod model {
    //! Random operation sequences, run against our table and against std's
    //! `HashMap` as a model; after each, the two must agree.

    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u32),
        Remove(u8),
        Get(u8),
        GetMut(u8, u32),
        RandomEntry,
        ShrinkIfSparse,
        /// `true`: until done; `false`: one batch.
        RehashFor(bool),
    }

    fn op(insert: u32, remove: u32) -> impl Strategy<Value = Op> {
        prop_oneof![
            insert => (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            remove => any::<u8>().prop_map(Op::Remove),
            4 => any::<u8>().prop_map(Op::Get),
            4 => (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::GetMut(k, v)),
            2 => Just(Op::RandomEntry),
            2 => Just(Op::ShrinkIfSparse),
            1 => any::<bool>().prop_map(Op::RehashFor),
        ]
    }

    /// A phase of mostly inserts, so the table grows through several sizes;
    /// a phase of mostly removes, so it shrinks; and a mix.
    fn ops() -> impl Strategy<Value = Vec<Op>> {
        (
            prop::collection::vec(op(40, 3), 0..300),
            prop::collection::vec(op(3, 30), 0..300),
            prop::collection::vec(op(10, 10), 0..200),
        )
            .prop_map(|(grow, shrink, mix)| [grow, shrink, mix].concat())
    }

    fn run<S: BuildHasher>(hasher: S, ops: Vec<Op>) -> Result<(), TestCaseError> {
        let mut table = with_hasher(hasher);
        let mut model: HashMap<u8, u32> = HashMap::new();
        let mut random = Random::new();
        for op in ops {
            match op {
                Op::Insert(k, v) => prop_assert_eq!(table.insert(k, v), model.insert(k, v)),
                Op::Remove(k) => prop_assert_eq!(table.remove(&k), model.remove(&k)),
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
                Op::RandomEntry => match table.random_entry(&mut random) {
                    Some((k, v)) => prop_assert_eq!(model.get(k), Some(v)),
                    None => prop_assert!(model.is_empty()),
                },
                Op::ShrinkIfSparse => table.shrink_if_sparse(),
                Op::RehashFor(finish) => {
                    if finish {
                        table.finish_rehash();
                    } else {
                        table.rehash_for(Duration::ZERO);
                    }
                }
            }
            table.check_invariants();
            prop_assert_eq!(table.len(), model.len());
            let mut entries: Vec<(u8, u32)> =
                table.entries().iter().map(|(k, v)| (**k, **v)).collect();
            entries.sort();
            let mut expected: Vec<(u8, u32)> = model.iter().map(|(k, v)| (*k, *v)).collect();
            expected.sort();
            prop_assert_eq!(entries, expected);
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
            run(SteeredHash { distinct: Some(8) }, ops)?;
        }
    }
}
