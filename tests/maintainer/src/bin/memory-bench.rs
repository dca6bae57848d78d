//! `memory-bench` (`just bench-memory`): what a key costs in memory, in a
//! reference stage and in a real redis-server, loaded with the same keys.
//!
//! ```text
//! cargo run --release -p maintainer --bin memory-bench
//! cargo run --release -p maintainer --bin memory-bench -- --stage 17 --value-length 100
//! ```
//!
//! **The workload.** Both servers start empty. One client sends `SET key
//! value` for N distinct keys (`key:000000000042`, 16 bytes) with values
//! of 16 bytes (`--value-length`), a thousand commands to a write, and reads the thousand `+OK`
//! before the next write. Each server's resident memory (`VmRSS` in
//! `/proc/<pid>/status`, over its process group) is read once the client
//! is connected and has had a reply, and again after the last `+OK` and a
//! DBSIZE that must say N. The growth over N is the cost of a key: the
//! entry, the key and value bytes, the table's share of buckets, and the
//! allocator's rounding and headers, everything a real server pays.
//!
//! One run, servers loaded one after the other: memory does not depend on
//! the machine's load as throughput does.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use clap::Parser;

use harness::random::Rng;
use harness::resp;
use harness::server::{Server, ServerSpec, startup_timeout};
use harness::stages;
use maintainer::figures::thousands;

/// Commands to a write.
const PIPELINE: usize = 1_000;

/// Every key is this long: `key:` and 12 digits.
const KEY_LENGTH: usize = 16;

/// N SETs of 16-byte keys and values into a reference stage and into
/// redis-server; resident memory's growth per key, and the ratio.
#[derive(Parser)]
#[command(name = "memory-bench")]
struct Arguments {
    /// The reference stage to measure: one with our own hash table that
    /// speaks RESP (9, 10, 15 on).
    #[arg(long, default_value_t = 9)]
    stage: u8,
    /// How many keys to load.
    #[arg(long, default_value_t = 1_000_000)]
    keys: usize,
    /// How long each value is (1 to 1,000,000): `value:` and 10 digits, cut
    /// or padded with dots.
    #[arg(long, default_value_t = 16)]
    value_length: usize,
}

/// What loading one server cost.
struct Measured {
    name: String,
    keys: usize,
    before_kib: u64,
    after_kib: u64,
}

impl Measured {
    fn bytes_per_key(&self) -> f64 {
        let grown = self.after_kib.saturating_sub(self.before_kib) * 1024;
        grown as f64 / self.keys.max(1) as f64
    }
}

fn main() {
    let arguments = Arguments::parse();
    if arguments.keys == 0 || arguments.keys >= 1_000_000_000_000 {
        eprintln!("memory-bench: --keys must be from 1 to 999,999,999,999 (12 digits)");
        std::process::exit(2);
    }
    if !(1..=1_000_000).contains(&arguments.value_length) {
        eprintln!("memory-bench: --value-length must be from 1 to 1,000,000");
        std::process::exit(2);
    }
    // Stage 11 speaks a binary protocol; stages 12 to 14 are the chat's.
    let redis_stage = arguments.stage >= 9 && !(11..=14).contains(&arguments.stage);
    let Some(stage) = stages::find(arguments.stage).filter(|_| redis_stage) else {
        eprintln!("memory-bench: --stage must be a Redis stage with our own table: 9, 10, 15 on");
        std::process::exit(2);
    };
    if cfg!(debug_assertions) {
        println!("(a debug build: run with --release for figures worth comparing)");
    }
    let mut rng = Rng::new(1);
    let mut start = |spec: &ServerSpec| {
        Server::start(spec, &mut rng, startup_timeout()).unwrap_or_else(|failure| {
            eprintln!("{}", failure.render());
            std::process::exit(1);
        })
    };
    let mut measured = Vec::new();
    let ours = start(&stage.reference());
    let name = format!("stage {}", arguments.stage);
    measured.push(load(&ours, name, &arguments));
    drop(ours);
    let redis = ServerSpec::Command("redis-server --save '' --appendonly no".to_string());
    let theirs = start(&redis);
    measured.push(load(&theirs, "redis-server".to_string(), &arguments));
    drop(theirs);

    println!(
        "{} keys of {KEY_LENGTH} bytes with {}-byte values, SET {} to a write; \
         resident memory:",
        thousands(arguments.keys as u64),
        thousands(arguments.value_length as u64),
        thousands(PIPELINE as u64)
    );
    println!(
        "{:<14} {:>12} {:>12} {:>12}",
        "server", "before KiB", "after KiB", "bytes a key"
    );
    for server in &measured {
        println!(
            "{:<14} {:>12} {:>12} {:>12.1}",
            server.name,
            thousands(server.before_kib),
            thousands(server.after_kib),
            server.bytes_per_key()
        );
    }
    println!(
        "ratio: {:.2}x redis-server's bytes a key",
        measured[0].bytes_per_key() / measured[1].bytes_per_key()
    );
}

/// Loads the keys into `server`, and reads its memory before and after.
fn load(server: &Server, name: String, arguments: &Arguments) -> Measured {
    let keys = arguments.keys;
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    // One reply first: the connection's buffers then count before, not in
    // the keys' growth.
    expect_replies(&mut stream, &resp::command(&[b"PING"]), b"+PONG\r\n");
    let resident = || server.memory_kib().map_or(0, |(resident, _)| resident);
    let before_kib = resident();
    let mut sent = 0;
    let mut replies = Vec::new();
    while sent < keys {
        let batch = PIPELINE.min(keys - sent);
        let mut requests = Vec::new();
        for index in sent..sent + batch {
            let key = format!("key:{index:012}");
            let mut value = format!("value:{index:010}").into_bytes();
            value.resize(arguments.value_length, b'.');
            requests.extend(resp::command(&[b"SET", key.as_bytes(), &value]));
        }
        replies.clear();
        replies.extend(b"+OK\r\n".repeat(batch));
        expect_replies(&mut stream, &requests, &replies);
        sent += batch;
    }
    let count = format!(":{keys}\r\n");
    expect_replies(&mut stream, &resp::command(&[b"DBSIZE"]), count.as_bytes());
    let after_kib = resident();
    Measured {
        name,
        keys,
        before_kib,
        after_kib,
    }
}

/// Sends `requests` and reads exactly `expected` back. Panics otherwise:
/// unwinding drops the servers, which stops them.
fn expect_replies(stream: &mut TcpStream, requests: &[u8], expected: &[u8]) {
    stream.write_all(requests).expect("write");
    let mut received = vec![0; expected.len()];
    stream.read_exact(&mut received).expect("whole replies");
    if received != expected {
        let shown = String::from_utf8_lossy(&received[..received.len().min(200)]);
        panic!("unexpected replies: {shown:?}");
    }
}
