//! `pubsub-bench` (`just bench-pubsub`): how many published messages stage
//! 15 delivers per second, side by side with a real redis-server in one
//! run, and whether either loses any.
//!
//! ```text
//! cargo run --release -p maintainer --bin pubsub-bench
//! cargo run --release -p maintainer --bin pubsub-bench -- --subscribers 1,10 --messages 5000
//! ```
//!
//! **The workload.** N subscribers each SUBSCRIBE to one channel (a new
//! name for every run) and read their confirmation. Then one publisher
//! sends M `PUBLISH channel payload`, 32-byte payloads numbered in order,
//! P to a write (`-P 1`: one at a time, each reply awaited; `-P 16`:
//! pipelined), and reads each batch's replies, which must all be `:N`,
//! before it sends the next. Each subscriber checks every message it
//! receives byte for byte, and that the numbers come in order, none
//! missing. Deliveries per second are N × M over the time from the first
//! PUBLISH to the last delivery; lost are N × M less what arrived before
//! nothing had come for the drain timeout.
//!
//! **Fairness.** The two servers take turns, cell by cell, [`TURNS`] times,
//! and each keeps its best: a noisy moment on a small shared machine then
//! falls on neither side only. The bench runs on the same cores as the
//! servers, and costs both the same.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use harness::random::{Rng, fresh_seed};
use harness::resp;
use harness::server::{Server, ServerSpec, startup_timeout};
use harness::stages;
use maintainer::figures::thousands;

/// How long the bench waits for a subscriber's confirmation, or for the
/// next delivery once no more are coming.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs of each cell on each server; the best counts.
const TURNS: usize = 3;

/// One publisher, N subscribers on one channel: messages delivered per
/// second by stage 15 and by redis-server, in one run, pipelined and not.
#[derive(Parser)]
#[command(name = "pubsub-bench")]
struct Arguments {
    /// The subscriber counts to measure, e.g. 1,100,1000.
    #[arg(
        long,
        value_name = "N,...",
        value_delimiter = ',',
        default_value = "1,100,1000"
    )]
    subscribers: Vec<usize>,
    /// Messages to publish in each run (default: 100,000 for one
    /// subscriber, fewer for more, at least 1,000).
    #[arg(long, value_name = "M")]
    messages: Option<usize>,
    /// PUBLISH commands to a write when pipelined.
    #[arg(long, value_name = "P", default_value_t = 16)]
    pipeline: usize,
    /// Measure only stage 15, without redis-server.
    #[arg(long)]
    without_redis: bool,
}

/// The result of one run against one server.
#[derive(Clone, Copy, Default)]
struct Outcome {
    deliveries_per_second: f64,
    lost: u64,
}

fn main() {
    let arguments = Arguments::parse();
    if arguments.subscribers.contains(&0) || arguments.pipeline == 0 {
        eprintln!("pubsub-bench: --subscribers and --pipeline must be at least 1");
        std::process::exit(2);
    }
    let mut rng = Rng::new(fresh_seed());
    let mut start = |spec: &ServerSpec| {
        Server::start(spec, &mut rng, startup_timeout()).unwrap_or_else(|failure| {
            eprintln!("{}", failure.render());
            std::process::exit(1);
        })
    };
    let stage = start(&stages::find(15).expect("stage 15").reference());
    let mut servers = vec![("stage 15".to_string(), stage)];
    match redis_version() {
        Some(_) if arguments.without_redis => {}
        Some(version) => {
            let spec = ServerSpec::Command("redis-server --save '' --appendonly no".to_string());
            servers.push((format!("redis-server {version}"), start(&spec)));
        }
        None => eprintln!("(redis-server is not installed: stage 15 alone)"),
    }
    if cfg!(debug_assertions) {
        println!("(a debug build: run with --release for figures worth comparing)");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    println!(
        "one publisher, N subscribers on one channel, 32-byte messages, on {} cores;",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("deliveries per second (and lost deliveries):");
    print!("{:>6} {:>6} {:>7}", "N", "M", "-P");
    for (name, _) in &servers {
        print!(" {name:>28}");
    }
    println!("{}", if servers.len() == 2 { "    ratio" } else { "" });
    for &subscribers in &arguments.subscribers {
        let messages = arguments
            .messages
            .unwrap_or((100_000 / subscribers).max(1_000));
        for pipeline in [1, arguments.pipeline] {
            let mut best = vec![Outcome::default(); servers.len()];
            for _ in 0..TURNS {
                for (index, (_, server)) in servers.iter().enumerate() {
                    let outcome = runtime
                        .block_on(run(server.port, subscribers, messages, pipeline))
                        .unwrap_or_else(|error| {
                            eprintln!("pubsub-bench: {error}");
                            eprintln!("the server's last output:\n{}", server.output_tail(10));
                            std::process::exit(1);
                        });
                    let kept = &mut best[index];
                    if outcome.deliveries_per_second > kept.deliveries_per_second {
                        kept.deliveries_per_second = outcome.deliveries_per_second;
                    }
                    kept.lost = kept.lost.max(outcome.lost);
                }
            }
            print!(
                "{subscribers:>6} {messages:>6} {:>7}",
                format!("-P {pipeline}")
            );
            for outcome in &best {
                let cell = format!(
                    "{} ({})",
                    thousands(outcome.deliveries_per_second as u64),
                    outcome.lost
                );
                print!(" {cell:>28}");
            }
            if let [ours, theirs] = best[..] {
                print!(
                    " {:>7.2}x",
                    ours.deliveries_per_second / theirs.deliveries_per_second
                );
            }
            println!();
            let _ = std::io::stdout().flush();
        }
    }
    runtime.shutdown_background();
}

/// "7.0.15", from `redis-server --version`.
fn redis_version() -> Option<String> {
    let output = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text
        .split_whitespace()
        .find_map(|word| word.strip_prefix("v="))?;
    Some(version.to_string())
}

/// What every subscriber shares.
struct Shared {
    epoch: Instant,
    delivered: AtomicU64,
    last_delivery_nanos: AtomicU64,
    /// Subscribers that have received every message, or given up.
    finished: AtomicUsize,
}

/// The bytes of a message as a subscriber receives it, with its number at
/// `number_at` (10 digits).
struct Expected {
    push: Vec<u8>,
    number_at: usize,
    messages: usize,
}

impl Expected {
    fn new(channel: &str, messages: usize) -> Expected {
        let payload = payload(0);
        let push = resp::Reply::Array(vec![
            resp::Reply::bulk("message"),
            resp::Reply::bulk(channel),
            resp::Reply::bulk(&payload),
        ])
        .encode();
        let number_at = push.len() - payload.len() - 2;
        Expected {
            push,
            number_at,
            messages,
        }
    }

    /// Message `number`, if `frame` is it, byte for byte.
    fn number_of(&self, frame: &[u8]) -> Option<usize> {
        let digits = &frame[self.number_at..self.number_at + 10];
        let same_around = frame[..self.number_at] == self.push[..self.number_at]
            && frame[self.number_at + 10..] == self.push[self.number_at + 10..];
        let number = std::str::from_utf8(digits).ok()?.parse().ok()?;
        same_around.then_some(number)
    }
}

/// Payload `number`: 32 bytes, its number first.
fn payload(number: usize) -> String {
    format!("{number:010}-pubsub-bench-payload-")
}

/// One run: subscribers subscribe, the publisher publishes, the
/// subscribers count.
async fn run(
    port: u16,
    subscribers: usize,
    messages: usize,
    pipeline: usize,
) -> Result<Outcome, String> {
    let channel = format!("bench-{:016x}", Rng::new(fresh_seed()).next_u64());
    let expected = Arc::new(Expected::new(&channel, messages));
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        delivered: AtomicU64::new(0),
        last_delivery_nanos: AtomicU64::new(0),
        finished: AtomicUsize::new(0),
    });
    let mut tasks = Vec::new();
    for _ in 0..subscribers {
        let stream = subscribe(port, &channel).await?;
        tasks.push(tokio::spawn(receive(
            stream,
            Arc::clone(&expected),
            Arc::clone(&shared),
        )));
    }
    let publisher = {
        let (channel, epoch) = (channel.clone(), shared.epoch);
        std::thread::spawn(move || publish(port, &channel, subscribers, messages, pipeline, epoch))
    };
    let first_publish = tokio::task::spawn_blocking(move || publisher.join())
        .await
        .map_err(|error| error.to_string())?
        .map_err(|_| "the publisher panicked".to_string())??;
    // Until every subscriber has everything, or nothing arrives for the
    // drain timeout.
    let mut last = (shared.delivered.load(Ordering::Acquire), Instant::now());
    while shared.finished.load(Ordering::Acquire) < subscribers {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let delivered = shared.delivered.load(Ordering::Acquire);
        if delivered != last.0 {
            last = (delivered, Instant::now());
        } else if last.1.elapsed() > DRAIN_TIMEOUT {
            break;
        }
    }
    for task in tasks {
        task.abort();
    }
    let delivered = shared.delivered.load(Ordering::Acquire);
    let seconds = Duration::from_nanos(
        shared
            .last_delivery_nanos
            .load(Ordering::Acquire)
            .saturating_sub(first_publish),
    )
    .as_secs_f64();
    Ok(Outcome {
        deliveries_per_second: delivered as f64 / seconds.max(1e-9),
        lost: (subscribers * messages) as u64 - delivered,
    })
}

/// A subscriber's connection, subscribed and confirmed.
async fn subscribe(port: u16, channel: &str) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|error| {
            format!(
                "a subscriber could not connect: {error} (out of open files? `ulimit -n 20000`)"
            )
        })?;
    let _ = stream.set_nodelay(true);
    let command = resp::command(&[b"SUBSCRIBE", channel.as_bytes()]);
    stream
        .write_all(&command)
        .await
        .map_err(|error| format!("a subscriber could not write: {error}"))?;
    let confirmation = resp::Reply::Array(vec![
        resp::Reply::bulk("subscribe"),
        resp::Reply::bulk(channel),
        resp::Reply::Integer(1),
    ])
    .encode();
    let mut got = vec![0; confirmation.len()];
    tokio::time::timeout(DRAIN_TIMEOUT, stream.read_exact(&mut got))
        .await
        .map_err(|_| "no confirmation of SUBSCRIBE in time".to_string())?
        .map_err(|error| format!("a subscriber could not read: {error}"))?;
    if got != confirmation {
        return Err(format!(
            "SUBSCRIBE was confirmed with {:?}",
            String::from_utf8_lossy(&got)
        ));
    }
    Ok(stream)
}

/// Reads messages until it has them all or the connection ends, counting
/// those that come whole and in order.
async fn receive(mut stream: TcpStream, expected: Arc<Expected>, shared: Arc<Shared>) {
    let frame = expected.push.len();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut filled = 0;
    let mut next = 0;
    'reading: while next < expected.messages {
        let read = match stream.read(&mut buffer[filled..]).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        filled += read;
        let mut start = 0;
        let before = next;
        while filled - start >= frame {
            match expected.number_of(&buffer[start..start + frame]) {
                Some(number) if number == next => next += 1,
                // Out of order, missing or garbled: what is left is lost.
                _ => break 'reading,
            }
            start += frame;
        }
        buffer.copy_within(start..filled, 0);
        filled -= start;
        if next > before {
            let now = shared.epoch.elapsed().as_nanos() as u64;
            shared
                .delivered
                .fetch_add((next - before) as u64, Ordering::AcqRel);
            shared.last_delivery_nanos.fetch_max(now, Ordering::AcqRel);
        }
    }
    shared.finished.fetch_add(1, Ordering::AcqRel);
}

/// Publishes every message, `pipeline` to a write, each batch's replies
/// read and checked before the next. Returns when it began, in nanoseconds
/// since `epoch`.
fn publish(
    port: u16,
    channel: &str,
    subscribers: usize,
    messages: usize,
    pipeline: usize,
    epoch: Instant,
) -> Result<u64, String> {
    let failed = |error: std::io::Error| format!("the publisher: {error}");
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(failed)?;
    stream.set_nodelay(true).map_err(failed)?;
    stream
        .set_read_timeout(Some(DRAIN_TIMEOUT))
        .map_err(failed)?;
    let reply = format!(":{subscribers}\r\n").into_bytes();
    let mut replies = vec![0u8; reply.len() * pipeline];
    let mut batch = Vec::new();
    let first_publish = epoch.elapsed().as_nanos() as u64;
    let mut sent = 0;
    while sent < messages {
        let size = pipeline.min(messages - sent);
        batch.clear();
        for number in sent..sent + size {
            let payload = payload(number);
            batch.extend(resp::command(&[
                b"PUBLISH",
                channel.as_bytes(),
                payload.as_bytes(),
            ]));
        }
        stream.write_all(&batch).map_err(failed)?;
        let replies = &mut replies[..reply.len() * size];
        stream.read_exact(replies).map_err(failed)?;
        if let Some(wrong) = replies.chunks(reply.len()).find(|got| *got != reply) {
            return Err(format!(
                "PUBLISH answered {:?}, not {:?}",
                String::from_utf8_lossy(wrong),
                String::from_utf8_lossy(&reply)
            ));
        }
        sent += size;
    }
    Ok(first_publish)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_known_by_its_number_and_every_other_byte() {
        let expected = Expected::new("ch", 10);
        let push = |number: usize| {
            resp::Reply::Array(vec![
                resp::Reply::bulk("message"),
                resp::Reply::bulk("ch"),
                resp::Reply::bulk(payload(number)),
            ])
            .encode()
        };
        assert_eq!(payload(7).len(), 32);
        assert_eq!(expected.number_of(&push(0)), Some(0));
        assert_eq!(expected.number_of(&push(1234)), Some(1234));
        let mut garbled = push(5);
        garbled[3] = b'x';
        assert_eq!(expected.number_of(&garbled), None);
    }
}
