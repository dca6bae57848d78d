//! RESP (stage 10) against the binary protocol (stage 11): the same key
//! space and commands, the same workload, in one run, so that what differs
//! is the protocol.
//!
//! ```text
//! cargo run --release -p maintainer --bin protocol-bench      (just bench-protocols)
//! ```
//!
//! Workload: each client sends SET then GET of its own keys (16-byte values,
//! 1,000 keys a client), in batches of 1 (no pipelining) or 16 requests,
//! waiting for a batch's replies before sending the next. The client does
//! not parse replies: it knows how many bytes each batch's replies take in
//! either protocol and counts them, so that a faster parser on the client
//! side cannot favour one protocol on this 2-core machine.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use clap::Parser;

use harness::binary::{self, Value};
use harness::frame::Frame;
use harness::random::Rng;
use harness::resp::{self, Reply};
use harness::server::{Server, startup_timeout};
use harness::stages;

const CLIENTS: usize = 16;
const REQUESTS: usize = 200_000;

#[derive(Clone, Copy, PartialEq)]
enum Protocol {
    Resp,
    Binary,
}

/// One batch: the requests' bytes and the length of their replies.
fn batch(protocol: Protocol, client: usize, start: usize, size: usize) -> (Vec<u8>, usize) {
    let value = [b'v'; 16];
    let mut requests = Vec::new();
    let mut reply_length = 0;
    for i in start..start + size {
        let key = format!("client{client}:key{}", (i / 2) % 1_000);
        let set = i % 2 == 0;
        match (protocol, set) {
            (Protocol::Resp, true) => {
                requests.extend(resp::command(&[b"SET", key.as_bytes(), &value]));
                reply_length += Reply::simple("OK").encode().len();
            }
            (Protocol::Resp, false) => {
                requests.extend(resp::command(&[b"GET", key.as_bytes()]));
                reply_length += Reply::bulk(value).encode().len();
            }
            (Protocol::Binary, true) => {
                requests.extend(binary::request(&[b"set", key.as_bytes(), &value]));
                reply_length += Value::str("OK").encode().len();
            }
            (Protocol::Binary, false) => {
                requests.extend(binary::request(&[b"get", key.as_bytes()]));
                reply_length += Value::str(value).encode().len();
            }
        }
    }
    (requests, reply_length)
}

/// Requests per second for `protocol` against the server at `port`.
fn measure(protocol: Protocol, port: u16, pipeline: usize) -> f64 {
    let per_client = REQUESTS / CLIENTS;
    let started = Instant::now();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|client| {
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                stream.set_nodelay(true).expect("nodelay");
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .expect("timeout");
                let mut sink = vec![0u8; 64 * 1024];
                let mut sent = 0;
                while sent < per_client {
                    let size = pipeline.min(per_client - sent);
                    let (requests, mut expected) = batch(protocol, client, sent, size);
                    stream.write_all(&requests).expect("write");
                    while expected > 0 {
                        let read = stream.read(&mut sink).expect("read");
                        assert!(read > 0, "the server closed the connection");
                        expected = expected
                            .checked_sub(read)
                            .expect("more reply bytes than expected");
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

/// RESP (stage 10) against the binary protocol (stage 11): the same
/// workload, requests per second, pipelined and not.
#[derive(Parser)]
#[command(name = "protocol-bench")]
struct Arguments {}

fn main() {
    Arguments::parse();
    let mut rng = Rng::new(1);
    let mut start = |stage: u8| {
        let spec = stages::find(stage).expect("stage").reference();
        Server::start(&spec, &mut rng, startup_timeout()).unwrap_or_else(|failure| {
            eprintln!("{}", failure.render());
            std::process::exit(1);
        })
    };
    let resp_server = start(10);
    let binary_server = start(11);
    if cfg!(debug_assertions) {
        println!("(a debug build: run with --release for figures worth comparing)");
    }
    println!(
        "{CLIENTS} clients, {REQUESTS} requests (SET and GET, 16-byte values), on {} cores; requests per second:",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<10} {:>16} {:>22} {:>8}",
        "pipeline", "RESP (stage 10)", "binary (stage 11)", "ratio"
    );
    for pipeline in [1, 16] {
        // Take turns, twice, and keep each one's best: a noisy moment on the
        // machine then falls on neither side only.
        let mut best = [0f64; 2];
        for _ in 0..2 {
            best[0] = best[0].max(measure(Protocol::Resp, resp_server.port, pipeline));
            best[1] = best[1].max(measure(Protocol::Binary, binary_server.port, pipeline));
        }
        println!(
            "{:<10} {:>16.0} {:>22.0} {:>7.2}x",
            format!("-P {pipeline}"),
            best[0],
            best[1],
            best[1] / best[0]
        );
    }
}
