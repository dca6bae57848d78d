//! `chat-redis-bench` (`just bench-chat-redis`): the chat on Redis (stage
//! 19, 20, or 21 with its page off) under the fanout load of `fanout-bench`,
//! with its N receivers spread over P processes that share one Redis, next
//! to the single process of stage 14 in the same run.
//!
//! ```text
//! cargo run --release -p maintainer --bin chat-redis-bench
//! cargo run --release -p maintainer --bin chat-redis-bench -- --receivers 1000 --processes 1,4
//! ```
//!
//! Each row starts what it measures afresh: a Redis (redis-server, then the
//! course's own, the highest reference stage that has ZREMRANGEBYRANK, or
//! failing that the highest with sorted sets) on a free port, then P chat
//! processes on it. Receiver i connects to process i mod P; the one sender
//! to the first process. A line the sender says goes to Redis once
//! (PUBLISH), Redis sends it to each of the P processes (each is one
//! subscriber), and each process to its own receivers: Redis's share of
//! the work grows with P, the processes' shrinks. `fanout-bench`'s doc says
//! how the load runs and how it counts.

use std::time::Duration;

use clap::Parser;

use harness::random::{Rng, fresh_seed};
use harness::server::{Server, ServerSpec, reference_binary, shell_quote, startup_timeout};
use harness::stages;
use maintainer::fanout::{self, Figures, Load, check_open_file_limit};
use maintainer::figures::thousands;

/// The chat on Redis, with its N receivers over P processes, against stage
/// 14 alone: deliveries/s and lost deliveries, one table.
#[derive(Parser)]
#[command(name = "chat-redis-bench")]
struct Options {
    /// Clients that receive every line, spread over the processes.
    #[arg(long, value_name = "N", default_value_t = 100)]
    receivers: usize,
    /// Lines in flight at most: sent, not yet received by every receiver.
    #[arg(long, value_name = "W", default_value_t = 16)]
    window: usize,
    /// Lines the sender sends.
    #[arg(long, value_name = "M", default_value_t = 2000)]
    messages: usize,
    /// How many chat processes share the Redis, one row each.
    #[arg(
        long,
        value_name = "P,P,...",
        value_delimiter = ',',
        default_value = "1,2,4"
    )]
    processes: Vec<usize>,
    /// The chat on Redis to measure: 19, 20, or 21 (run with `--web-port 0`).
    #[arg(long, value_name = "S", default_value_t = 19, value_parser = chat_on_redis_stage)]
    stage: u8,
    /// How long to wait for lines still on their way, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    drain_timeout: f64,
}

fn chat_on_redis_stage(text: &str) -> Result<u8, String> {
    match text.trim().parse() {
        Ok(stage @ (19..=21)) if stages::find(stage).is_some() => Ok(stage),
        _ => Err("a chat stage on Redis the tester knows: 19, 20 or 21".to_string()),
    }
}

/// Where the chat's state lives in one row.
#[derive(Clone)]
enum Store {
    /// Stage 14: in the one process's memory.
    InMemory,
    RedisServer,
    /// The course's own Redis, this reference stage.
    Course(u8),
}

impl Store {
    fn describe(&self) -> String {
        match self {
            Store::InMemory => "none (in memory)".to_string(),
            Store::RedisServer => "redis-server".to_string(),
            Store::Course(stage) => format!("the course's Redis (stage {stage})"),
        }
    }
}

fn main() {
    let options = Options::parse();
    if options
        .processes
        .iter()
        .any(|&p| p == 0 || p > options.receivers)
    {
        fail("--processes: each count from 1 to the number of receivers");
    }
    if let Err(message) = check_open_file_limit(options.receivers) {
        fail(&message);
    }
    if cfg!(debug_assertions) {
        eprintln!("(a debug build: run with --release for figures worth comparing)");
    }
    let load = Load {
        receivers: options.receivers,
        window: options.window,
        messages: options.messages,
        prefix: None,
        lenient: false,
        drain_timeout: Duration::from_secs_f64(options.drain_timeout.max(0.1)),
    };
    let mut stores = Vec::new();
    if redis_server_installed() {
        stores.push(Store::RedisServer);
    } else {
        eprintln!("redis-server is not installed: its rows are left out");
    }
    stores.push(Store::Course(course_redis_stage()));

    let mut rows: Vec<(u8, Store, usize, Result<Figures, String>)> = Vec::new();
    rows.push((
        14,
        Store::InMemory,
        1,
        measure_row(&load, 14, &Store::InMemory, 1),
    ));
    for store in &stores {
        for &processes in &options.processes {
            let figures = measure_row(&load, options.stage, store, processes);
            rows.push((options.stage, store.clone(), processes, figures));
        }
    }
    println!(
        "chat-redis-bench: N={} receivers over P processes, one sender on the first, W={} \
         lines in flight, M={} lines",
        options.receivers,
        options.window,
        thousands(options.messages as u64)
    );
    println!(
        "{:<10} {:<30} {:>9} {:>14} {:>10} {:>8}",
        "server", "store", "processes", "deliveries/s", "lines/s", "lost"
    );
    for (stage, store, processes, figures) in rows {
        let server = format!("stage {stage}");
        match figures {
            Ok(figures) => println!(
                "{server:<10} {:<30} {processes:>9} {:>14} {:>10} {:>8}{}",
                store.describe(),
                thousands(figures.rate.round() as u64),
                thousands((figures.rate / options.receivers as f64).round() as u64),
                thousands(figures.lost()),
                trouble(&figures)
            ),
            Err(message) => println!(
                "{server:<10} {:<30} {processes:>9}  failed: {message}",
                store.describe()
            ),
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("chat-redis-bench: {message}");
    std::process::exit(1);
}

/// What else went wrong in a run, after its figures.
fn trouble(figures: &Figures) -> String {
    let mut notes = Vec::new();
    if figures.out_of_order > 0 {
        notes.push(format!("{} out of order", thousands(figures.out_of_order)));
    }
    if figures.disconnected > 0 {
        notes.push(format!("{} receivers disconnected", figures.disconnected));
    }
    if figures.stalls > 0 {
        notes.push(format!("{} stalls", figures.stalls));
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!("  ({})", notes.join(", "))
    }
}

fn redis_server_installed() -> bool {
    std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// The course's Redis for the chat: stage 18 (sorted set ranges: its
/// ZREMRANGEBYRANK trims the history) if the tester knows it, else 17
/// (sorted sets: the chat works, its history untrimmed).
fn course_redis_stage() -> u8 {
    let is_sorted_sets =
        |stage: &u8| stages::find(*stage).is_some_and(|found| found.name.starts_with("sorted-set"));
    [18, 17].into_iter().find(is_sorted_sets).unwrap_or(17)
}

/// Starts a fresh store and `processes` chat processes of `stage` on it,
/// and runs the load: receivers over every process, the sender on the first.
fn measure_row(load: &Load, stage: u8, store: &Store, processes: usize) -> Result<Figures, String> {
    let mut rng = Rng::new(fresh_seed());
    eprintln!(
        "measuring stage {stage}, processes: {processes}, store: {}",
        store.describe()
    );
    let started = |spec: ServerSpec, rng: &mut Rng| {
        Server::start(&spec, rng, startup_timeout()).map_err(|failure| failure.problem)
    };
    let redis = match store {
        Store::InMemory => None,
        Store::RedisServer => Some(started(
            ServerSpec::Command("redis-server --save '' --appendonly no".to_string()),
            &mut rng,
        )?),
        Store::Course(number) => {
            let package = stages::find(*number)
                .map(|found| found.package())
                .ok_or("no such stage")?;
            Some(started(ServerSpec::Reference { package }, &mut rng)?)
        }
    };
    let package = stages::find(stage).ok_or("no such stage")?.package();
    let binary = reference_binary(&package)?;
    let mut command = shell_quote(&binary.to_string_lossy());
    if let Some(redis) = &redis {
        command.push_str(&format!(" --redis redis://127.0.0.1:{}", redis.port));
    }
    if stage == 21 {
        command.push_str(" --web-port 0");
    }
    let mut servers = Vec::new();
    for _ in 0..processes {
        servers.push(started(ServerSpec::Command(command.clone()), &mut rng)?);
    }
    let addresses: Vec<String> = servers
        .iter()
        .map(|server| format!("127.0.0.1:{}", server.port))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start tokio: {error}"))?;
    let result = runtime.block_on(fanout::measure(load, &addresses, &addresses[0]));
    // Receivers may still be reading: do not wait for them.
    runtime.shutdown_background();
    if let Err(message) = &result {
        for server in &servers {
            eprintln!("a chat process's last output:\n{}", server.output_tail(10));
        }
        eprintln!("{message}");
    }
    // Dropping the servers kills them, the chat processes first.
    drop(servers);
    drop(redis);
    result
}
