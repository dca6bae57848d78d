//! Stage 9's `HashTable` against std's `HashMap`, on the same workload:
//! insert a million Redis-like keys, look each one up, remove half.
//!
//! ```text
//! cargo run --release -p maintainer --bin hash-table-bench      (just bench-table)
//! ```
//!
//! A maintainer's tool, not part of a stage: it lives apart so that no
//! stage's diff shows it. Stage 9 is a binary crate, whose modules no other
//! package can `use`, so the bench includes its table's source (and the
//! `random.rs` it needs) by `#[path]`. For a maintainer's bench of a
//! private module that is acceptable; a stage's own code never does it
//! (habit 13).
//!
//! Two things are measured. Throughput, where std's open addressing should
//! win (one array, no allocation per entry); we aim for at least half its
//! speed. And the worst single insert, where progressive rehashing should
//! win by far: std moves every entry in the insert that crosses its load
//! factor, our table moves one bucket per insert; we aim for a tenth of
//! std's worst or less.
//!
//! Each structure runs three times, alternating, against a busy machine's
//! noise: the best of three for throughput, and the median of three for
//! the worst insert (one unlucky preemption should not decide it, nor one
//! lucky run hide a real pause).

// The benchmark uses only part of the table's API.
#![allow(dead_code)]

#[path = "../../../../stages/09-hash-table/src"]
mod stage {
    pub mod hash_table;
    pub mod random;
}

use stage::{hash_table, random};

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;

use hash_table::HashTable;
use maintainer::figures::thousands;

const KEYS: usize = 1_000_000;
const RUNS: usize = 3;

/// What the workload needs of a map, so that one generic function drives
/// both (and is compiled for each, with nothing dynamic in between).
trait Map: Default {
    const NAME: &'static str;
    fn insert(&mut self, key: Bytes, value: Bytes);
    /// `&mut`: a lookup in our table moves a resize on, as in Redis.
    fn get(&mut self, key: &[u8]) -> Option<&Bytes>;
    fn remove(&mut self, key: &[u8]) -> Option<Bytes>;
}

impl Map for HashTable<Bytes, Bytes> {
    const NAME: &'static str = "HashTable";
    fn insert(&mut self, key: Bytes, value: Bytes) {
        HashTable::insert(self, key, value);
    }
    fn get(&mut self, key: &[u8]) -> Option<&Bytes> {
        HashTable::get(self, key)
    }
    fn remove(&mut self, key: &[u8]) -> Option<Bytes> {
        HashTable::remove(self, key)
    }
}

impl Map for HashMap<Bytes, Bytes> {
    const NAME: &'static str = "std HashMap";
    fn insert(&mut self, key: Bytes, value: Bytes) {
        HashMap::insert(self, key, value);
    }
    fn get(&mut self, key: &[u8]) -> Option<&Bytes> {
        HashMap::get(self, key)
    }
    fn remove(&mut self, key: &[u8]) -> Option<Bytes> {
        HashMap::remove(self, key)
    }
}

/// Twelve-byte keys such as `key:00000042`, each its own allocation, as a
/// server's keys are.
fn make_keys() -> Vec<Bytes> {
    (0..KEYS)
        .map(|i| Bytes::from(format!("key:{i:08}").into_bytes()))
        .collect()
}

/// One run's figures for one structure.
struct Run {
    insert: Duration,
    lookup: Duration,
    remove_half: Duration,
    worst_insert: Duration,
    p999_insert: Duration,
}

fn run<M: Map>(lookup_keys: &[Bytes]) -> Run {
    let value = Bytes::from_static(b"value");

    // Throughput: no clock inside the loops. The keys are made beforehand
    // and moved in, so only the map's work is timed.
    let keys = make_keys();
    let mut map = M::default();
    let start = Instant::now();
    for key in keys {
        map.insert(key, value.clone());
    }
    let insert = start.elapsed();

    let start = Instant::now();
    let mut found = 0;
    for key in lookup_keys {
        found += usize::from(black_box(map.get(key)).is_some());
    }
    let lookup = start.elapsed();
    assert_eq!(found, KEYS, "{} lost keys", M::NAME);

    let start = Instant::now();
    for key in lookup_keys.iter().step_by(2) {
        black_box(map.remove(key));
    }
    let remove_half = start.elapsed();
    drop(map);

    // Latency: the same inserts again, each timed on its own.
    let keys = make_keys();
    let mut times = Vec::with_capacity(KEYS);
    let mut map = M::default();
    for key in keys {
        let start = Instant::now();
        map.insert(key, value.clone());
        times.push(start.elapsed());
    }
    drop(map);
    times.sort_unstable();
    Run {
        insert,
        lookup,
        remove_half,
        worst_insert: times[times.len() - 1],
        p999_insert: times[times.len() * 999 / 1000],
    }
}

/// Millions of operations a second.
fn throughput(operations: usize, elapsed: Duration) -> f64 {
    operations as f64 / elapsed.as_secs_f64() / 1e6
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    values[values.len() / 2]
}

/// The figures of several runs, combined as the module's doc says.
struct Summary {
    insert: f64,
    lookup: f64,
    remove_half: f64,
    worst_insert_us: f64,
    p999_insert_us: f64,
}

fn summarize(runs: &[Run]) -> Summary {
    let best = |phase: fn(&Run) -> Duration, operations: usize| {
        runs.iter()
            .map(|run| throughput(operations, phase(run)))
            .fold(0.0, f64::max)
    };
    let median_us = |figure: fn(&Run) -> Duration| {
        median(runs.iter().map(figure).collect()).as_secs_f64() * 1e6
    };
    Summary {
        insert: best(|run| run.insert, KEYS),
        lookup: best(|run| run.lookup, KEYS),
        remove_half: best(|run| run.remove_half, KEYS / 2),
        worst_insert_us: median_us(|run| run.worst_insert),
        p999_insert_us: median_us(|run| run.p999_insert),
    }
}

/// Stage 9's hash table against std's `HashMap`: a million inserts,
/// lookups and removes; throughput, and the worst single insert.
#[derive(Parser)]
#[command(name = "hash-table-bench")]
struct Arguments {}

fn main() {
    Arguments::parse();
    let lookup_keys = make_keys();
    let mut ours = Vec::new();
    let mut std = Vec::new();
    for round in 1..=RUNS {
        eprintln!("run {round} of {RUNS}...");
        ours.push(run::<HashTable<Bytes, Bytes>>(&lookup_keys));
        std.push(run::<HashMap<Bytes, Bytes>>(&lookup_keys));
    }
    for (name, runs) in [("HashTable", &ours), ("std HashMap", &std)] {
        let worst: Vec<String> = runs
            .iter()
            .map(|run| format!("{:.0}", run.worst_insert.as_secs_f64() * 1e6))
            .collect();
        eprintln!(
            "{name}: worst insert of each run (us): {}",
            worst.join(", ")
        );
    }
    let (ours, std) = (summarize(&ours), summarize(&std));

    println!();
    println!("workload: {} keys of 12 bytes", thousands(KEYS as u64));
    println!(
        "{:<34}{:>12}{:>14}{:>9}   target",
        "", "HashTable", "std HashMap", "ratio"
    );
    let rows = [
        ("insert (M ops/s, best)", ours.insert, std.insert, ">= 0.5"),
        ("lookup (M ops/s, best)", ours.lookup, std.lookup, ">= 0.5"),
        (
            "remove half (M ops/s, best)",
            ours.remove_half,
            std.remove_half,
            ">= 0.5",
        ),
        (
            "worst single insert (us, median)",
            ours.worst_insert_us,
            std.worst_insert_us,
            "<= 0.1",
        ),
        (
            "99.9th pct insert (us, median)",
            ours.p999_insert_us,
            std.p999_insert_us,
            "",
        ),
    ];
    for (name, ours, std, target) in rows {
        println!(
            "{name:<34}{ours:>12.2}{std:>14.2}{:>9.3}   {target}",
            ours / std
        );
    }
    println!(
        "(throughput: the best of {RUNS} runs; insert times: the median of \
         the {RUNS} runs' figures; ratio: HashTable / std HashMap)"
    );
}
