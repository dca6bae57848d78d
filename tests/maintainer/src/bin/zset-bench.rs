//! Stage 18's sorted set against redis-server's, in one run: throughput of
//! ZADD, ZRANK, ZRANGE by rank and by score, ZCOUNT and ZREM, pipelined and
//! not, and memory per member. Stage 18 is stage 17's skip list with the
//! ranges by score: the figures both have in common hold for stage 17 too.
//!
//! ```text
//! cargo run --release -p maintainer --bin zset-bench        (just bench-zset)
//! ```
//!
//! redis-benchmark sends the commands, in its custom-command form:
//! `ZADD bench __rand_int__ __rand_int__` a million times (`-r 1000000`:
//! random scores and members up to a million, about 632,000 of them
//! distinct) fills the set, and gives the memory figure, the growth of the
//! server's resident memory over the members it holds. Then `ZADD` again
//! without pipelining, `ZRANK bench __rand_int__`, and last `ZREM bench
//! __rand_int__`. `ZRANGE bench start start+9` from a random rank is sent
//! by this program: redis-benchmark writes `__rand_int__` with leading
//! zeros, which Redis refuses as an index (but reads as a score: `ZRANGE
//! bench __rand_int__ +inf BYSCORE LIMIT 0 10` and `ZCOUNT bench
//! __rand_int__ __rand_int__`, a range of a third of the set on average,
//! or empty, are sent by redis-benchmark). Every test but the fill runs
//! three rounds, the servers taking turns, and each side's best counts: a
//! noisy moment on a small machine slows a run, and never makes one
//! faster. Beside the rates, each server's processor time per command
//! (the least of the three): what a command costs it, which moves less
//! than the rate when other programs share the processors.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use harness::frame::Parsed;
use harness::random::Rng;
use harness::resp::{self, Reply};
use harness::server::{Server, ServerSpec, startup_timeout};
use harness::stages;

const CLIENTS: usize = 50;
const FILL: usize = 1_000_000;
const REQUESTS: usize = 200_000;

/// Requests per second of one redis-benchmark run; its `--csv` output is
/// a header line, then `"ZADD bench ...","92421.44",...`.
fn redis_benchmark(port: u16, requests: usize, pipeline: usize, command: &str) -> f64 {
    let output = Command::new("redis-benchmark")
        .args(["-p", &port.to_string(), "-c", &CLIENTS.to_string()])
        .args(["-n", &requests.to_string(), "-r", "1000000"])
        .args(["-P", &pipeline.to_string(), "--csv"])
        .args(command.split(' '))
        .output()
        .expect("redis-benchmark runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().nth(1).unwrap_or_default();
    let rps = line.split("\",\"").nth(1).unwrap_or_default();
    rps.trim_matches('"').parse().unwrap_or(0.0)
}

/// `ZRANGE bench start start+9` from random ranks, in batches of
/// `pipeline`, by `CLIENTS` clients. Every member is 12 digits, so that a
/// reply of ten is always 215 bytes: the replies are counted, not parsed.
fn zrange_ten(port: u16, members: usize, pipeline: usize) -> f64 {
    let per_client = REQUESTS / CLIENTS;
    let reply_length = 5 + 10 * (5 + 12 + 2);
    let started = Instant::now();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|client| {
            std::thread::spawn(move || {
                let mut rng = Rng::new(client as u64 + 1);
                let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                stream.set_nodelay(true).expect("nodelay");
                let timeout = Some(Duration::from_secs(10));
                stream.set_read_timeout(timeout).expect("timeout");
                let mut sink = vec![0u8; 64 * 1024];
                let mut sent = 0;
                while sent < per_client {
                    let size = pipeline.min(per_client - sent);
                    let mut requests = Vec::new();
                    for _ in 0..size {
                        let start = rng.between(0, members - 10);
                        let (first, last) = (start.to_string(), (start + 9).to_string());
                        let args: [&[u8]; 4] =
                            [b"ZRANGE", b"bench", first.as_bytes(), last.as_bytes()];
                        requests.extend(resp::command(&args));
                    }
                    stream.write_all(&requests).expect("write");
                    let mut expected = size * reply_length;
                    while expected > 0 {
                        let read = stream.read(&mut sink).expect("read");
                        assert!(read > 0, "the server closed the connection");
                        expected = expected.checked_sub(read).expect("replies of 215 bytes");
                    }
                    sent += size;
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a client thread failed");
    }
    (per_client * CLIENTS) as f64 / started.elapsed().as_secs_f64()
}

/// ZCARD of the benchmark's set.
fn members(port: u16) -> usize {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .write_all(&resp::command(&[b"ZCARD", b"bench"]))
        .expect("write");
    let mut reply = vec![0u8; 64];
    let read = stream.read(&mut reply).expect("read");
    match resp::parse(&reply[..read]) {
        Parsed::Complete {
            value: Reply::Integer(n),
            ..
        } => n as usize,
        _ => panic!(
            "ZCARD answered {:?}",
            String::from_utf8_lossy(&reply[..read])
        ),
    }
}

fn main() {
    if cfg!(debug_assertions) {
        println!("(a debug build: run with --release for figures worth comparing)");
    }
    let mut rng = Rng::new(1);
    let mut start = |spec: ServerSpec| {
        Server::start(&spec, &mut rng, startup_timeout()).unwrap_or_else(|failure| {
            eprintln!("{}", failure.render());
            std::process::exit(1);
        })
    };
    let ours = start(stages::find(18).expect("stage 18").reference());
    let redis_command = "redis-server --save '' --appendonly no";
    let theirs = start(ServerSpec::Command(redis_command.to_string()));
    let servers = [&ours, &theirs];
    let resident = |server: &Server| server.memory_kib().map_or(0, |(resident, _)| resident);
    println!(
        "redis-benchmark -c {CLIENTS} -r 1000000, on {} cores; requests per second:",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<30} {:>4} {:>10} {:>14} {:>7} {:>8} {:>8}",
        "test", "-P", "stage 18", "redis-server", "ratio", "ours µs", "redis µs"
    );
    // Requests per second, and the server's processor time per command
    // (user and system, from /proc), which a busy machine moves less.
    let row = |name: &str, pipeline: usize, figures: [(f64, f64); 2]| {
        let [(ours, our_cost), (theirs, their_cost)] = figures;
        println!(
            "{name:<30} {pipeline:>4} {ours:>10.0} {theirs:>14.0} {:>6.2}x {:>8.2} {:>8.2}",
            ours / theirs,
            our_cost * 1e6,
            their_cost * 1e6
        );
    };
    // One run against `server` of `requests` commands: its figures.
    let measured = |server: &Server, requests: usize, run: &dyn Fn(u16) -> f64| {
        let before = server.cpu_seconds().unwrap_or(0.0);
        let rate = run(server.port);
        let cost = server.cpu_seconds().unwrap_or(0.0) - before;
        (rate, cost / requests as f64)
    };

    // The fill, and what it costs in memory.
    let before = servers.map(resident);
    let fill = "ZADD bench __rand_int__ __rand_int__";
    row(
        "ZADD, 1M random (the fill)",
        16,
        servers.map(|server| measured(server, FILL, &|port| redis_benchmark(port, FILL, 16, fill))),
    );
    let after = servers.map(resident);
    let counts = servers.map(|server| members(server.port));

    let ranks = counts[0].min(counts[1]);
    // Each side's best of three rounds, the servers taking turns and the
    // first of each round changing: a noisy moment slows one run, never
    // both sides' best. ZADD and ZREM change the set as they go, each side
    // the same way, so their rounds compare too.
    let best_of_three = |run: &dyn Fn(u16) -> f64| {
        let mut best = [(0.0f64, f64::INFINITY); 2];
        for round in 0..3 {
            for side in [round % 2, 1 - round % 2] {
                let (rate, cost) = measured(servers[side], REQUESTS, run);
                best[side] = (best[side].0.max(rate), best[side].1.min(cost));
            }
        }
        best
    };
    for pipeline in [1, 16] {
        if pipeline == 1 {
            let figures = best_of_three(&|port| redis_benchmark(port, REQUESTS, 1, fill));
            row("ZADD random", 1, figures);
        }
        let zrank = "ZRANK bench __rand_int__";
        let figures = best_of_three(&|port| redis_benchmark(port, REQUESTS, pipeline, zrank));
        row("ZRANK random member", pipeline, figures);
        let figures = best_of_three(&|port| zrange_ten(port, ranks, pipeline));
        row("ZRANGE 10 from a random rank", pipeline, figures);
        let by_score = "ZRANGE bench __rand_int__ +inf BYSCORE LIMIT 0 10";
        let figures = best_of_three(&|port| redis_benchmark(port, REQUESTS, pipeline, by_score));
        row("ZRANGE BYSCORE 10 from a score", pipeline, figures);
        let zcount = "ZCOUNT bench __rand_int__ __rand_int__";
        let figures = best_of_three(&|port| redis_benchmark(port, REQUESTS, pipeline, zcount));
        row("ZCOUNT random range", pipeline, figures);
    }
    for pipeline in [1, 16] {
        let zrem = "ZREM bench __rand_int__";
        let figures = best_of_three(&|port| redis_benchmark(port, REQUESTS, pipeline, zrem));
        row("ZREM random member", pipeline, figures);
    }

    println!();
    println!("memory after the fill (resident memory's growth / members):");
    for (index, name) in ["stage 18", "redis-server"].iter().enumerate() {
        let grown = after[index].saturating_sub(before[index]) * 1024;
        println!(
            "{name:<14} {:>8} members, {:>6.1} MiB, {:>6.1} bytes a member",
            counts[index],
            grown as f64 / (1024.0 * 1024.0),
            grown as f64 / counts[index].max(1) as f64
        );
    }
}
