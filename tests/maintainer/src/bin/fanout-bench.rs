//! `fanout-bench`: how many chat lines per second a chat server delivers to
//! its clients, and whether it loses any: a load generator for the chat
//! stages (12 to 14) and for any server that relays "NICK> text" lines,
//! such as antirez's smallchat.
//!
//! ```text
//! cargo run --release -p maintainer --bin fanout-bench -- --receivers 100 --window 1 --messages 2000
//! cargo run --release -p maintainer --bin fanout-bench -- --stage 13 --receivers 1000 --window 16
//! cargo run --release -p maintainer --bin fanout-bench -- --port 7711 --receivers 900 --window 8
//! ulimit -n 20000; cargo run --release -p maintainer --bin fanout-bench -- --receivers 10000 --window 8
//! cargo run --release -p maintainer --bin fanout-bench -- --smallchat ../smallchat/smallchat-server
//! ```
//!
//! Without `--port`, it starts a reference chat stage on a free port (stage
//! 14, or `--stage N`); with it, it measures whatever listens there.
//!
//! **Beside smallchat.** With `--smallchat PATH` (or `SMALLCHAT=PATH`), it
//! measures the stage and antirez's smallchat in turn, a fresh server for
//! each run, for `--rounds` rounds, and prints each round's ratio: on a
//! shared machine, only figures taken side by side compare. smallchat is
//! not part of the course: `git clone https://github.com/antirez/smallchat`
//! and `make` build it. It listens on 7711, always, and relays what one
//! `read()` returned as one message, with the nick in front of its first
//! line only: its lines are matched with or without the nick (as
//! `--lenient` does). A window of more than 8 of our lines is more than its
//! 255-byte read holds, and what it cuts off is lost.
//!
//! **The workload.** N receivers connect and each reads its welcome line.
//! We wait until no receiver has read anything for a moment, so that the
//! join notices of the receivers that came after it have arrived, and are
//! not taken for deliveries. Then one sender connects, names itself with
//! `/nick`, and sends M numbered lines, "msg 000123 fanout-TAG", TAG being
//! new for every run (so that a line of an earlier run, from the server's
//! history, is never counted). At most W lines are "in flight": sent, but
//! not yet received by every receiver. W = 1 measures latency: one line
//! goes round, to everyone, before the next leaves. A larger W lets the
//! server batch, as many people typing at once would: the sender writes
//! as many lines as the window allows in one write. A full window that no
//! line leaves for the drain timeout is given up on, and reported as a
//! stall (some receiver will never see the line it waits for).
//!
//! **How it counts.** A delivery is a line "PREFIX> msg NNNNNN fanout-TAG"
//! read by a receiver, where PREFIX is the sender's nick (or `--prefix`).
//! Each receiver expects the numbers in order: a number above the one it
//! expects is a delivery (the numbers it skipped are lost to it); a number
//! at or below one it has already passed is counted as out of order (or a
//! duplicate), not as a delivery. A line that holds this run's TAG but is
//! not a whole delivery line is counted as malformed: smallchat relays one
//! `read()` as one message, so two lines that arrive together reach the
//! others as "nick> msg 1\nmsg 2", the second without its nick, and a line
//! cut by its 255-byte read arrives in two garbled halves. (`--lenient`
//! counts a line without its nick as a delivery, to measure how fast such
//! a server relays bytes rather than how well it delivers lines.) Lost
//! deliveries are N * M minus deliveries, once every receiver has passed
//! every line or nothing has arrived for the drain timeout. A receiver that
//! the server disconnects has lost every line it had not yet received.
//! Deliveries per second are deliveries divided by the time from the first
//! line sent to the last delivery.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use harness::random::{Rng, fresh_seed};
use harness::server::{Server, ServerSpec, startup_timeout};
use maintainer::figures::thousands;

/// The chat stages, and the one measured when neither `--stage` nor
/// `--port` is given.
const CHAT_STAGES: std::ops::RangeInclusive<u8> = 12..=14;
const DEFAULT_STAGE: u8 = 14;

/// A receiver's read buffer: a line longer than this is not one of ours.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// How long no receiver may read anything before we call the chat quiet.
const QUIET: Duration = Duration::from_millis(300);

/// smallchat's port, which it takes no option to change.
const SMALLCHAT_PORT: u16 = 7711;

/// The environment variable that may name smallchat's program.
const SMALLCHAT_VARIABLE: &str = "SMALLCHAT";

/// Chat lines delivered per second, and lost, by a chat server: N receivers,
/// one sender, at most W lines in flight.
#[derive(Parser)]
#[command(
    name = "fanout-bench",
    after_help = "Prints one line: N=100 W=1 M=2000: 69,123 deliveries/s, 0 lost, 0 out of order\n\
                  10,000 receivers need more open files than most shells allow: `ulimit -n 20000`."
)]
struct Options {
    /// The reference chat stage to start on a free port, 12 to 14.
    #[arg(long, value_name = "S", default_value_t = DEFAULT_STAGE, value_parser = chat_stage, conflicts_with = "port")]
    stage: u8,
    /// Measure the server listening on P instead.
    #[arg(long, value_name = "P", value_parser = port_number)]
    port: Option<u16>,
    /// The server's address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    host: String,
    /// Clients that receive every line.
    #[arg(long, value_name = "N", default_value = "100", value_parser = count)]
    receivers: usize,
    /// Lines in flight at most: sent, not yet received by every receiver.
    #[arg(long, value_name = "W", default_value = "1", value_parser = count)]
    window: usize,
    /// Lines the sender sends.
    #[arg(long, value_name = "M", default_value = "2000", value_parser = count)]
    messages: usize,
    /// What a delivered line starts with, before "msg ..." (default: the
    /// sender's nick and "> ", as the chat stages and smallchat send it).
    #[arg(long, value_name = "TEXT")]
    prefix: Option<String>,
    /// Also count a line that is "msg NNNNNN TAG" without the prefix:
    /// smallchat relays what one read() returned as one message, so of lines
    /// that arrive together only the first carries the nick. This measures
    /// relaying, not correct delivery.
    #[arg(long)]
    lenient: bool,
    /// How long to wait for lines still on their way, and how long a full
    /// window may wait before it is given up on, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = seconds)]
    drain_timeout: Duration,
    /// Measure antirez's smallchat too, started from PATH, and print the
    /// ratio (or set SMALLCHAT=PATH).
    #[arg(long, value_name = "PATH", conflicts_with = "port")]
    smallchat: Option<PathBuf>,
    /// With smallchat: rounds of the stage then smallchat, each on a fresh
    /// server.
    #[arg(long, value_name = "R", default_value = "3", value_parser = count)]
    rounds: usize,
}

fn chat_stage(text: &str) -> Result<u8, String> {
    text.trim()
        .parse()
        .ok()
        .filter(|stage| CHAT_STAGES.contains(stage))
        .ok_or_else(|| "a chat stage, 12 to 14".to_string())
}

fn port_number(text: &str) -> Result<u16, String> {
    text.trim()
        .parse()
        .ok()
        .filter(|port| *port > 0)
        .ok_or_else(|| "a port is 1-65535".to_string())
}

/// A whole number of at least 1, with `_` or `,` between thousands if you
/// like (`10,000`); a receiver count must also fit the bench's counters.
fn count(text: &str) -> Result<usize, String> {
    text.replace(['_', ','], "")
        .parse::<usize>()
        .ok()
        .filter(|count| (1..u32::MAX as usize).contains(count))
        .ok_or_else(|| "a whole number, at least 1".to_string())
}

fn seconds(text: &str) -> Result<Duration, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|seconds| *seconds > 0.0 && seconds.is_finite())
        .map(Duration::from_secs_f64)
        .ok_or_else(|| "seconds, above 0".to_string())
}

fn main() {
    let mut options = Options::parse();
    if let Err(message) = check_open_file_limit(options.receivers) {
        eprintln!("fanout-bench: {message}");
        std::process::exit(1);
    }
    if options.smallchat.is_none() && options.port.is_none() {
        options.smallchat = std::env::var_os(SMALLCHAT_VARIABLE)
            .filter(|path| !path.is_empty())
            .map(PathBuf::from);
    }
    if cfg!(debug_assertions) {
        eprintln!("(a debug build: run with --release for figures worth comparing)");
    }
    let result = match (&options.smallchat, options.port) {
        (Some(smallchat), _) => side_by_side(&options, smallchat),
        (None, Some(port)) => {
            eprintln!("server: {}:{port}", options.host);
            measure(&options, port, options.lenient, None).map(|run| run.summary)
        }
        (None, None) => {
            let result = measure_stage(&options).map(|run| run.summary);
            eprintln!(
                "(to compare with antirez's smallchat: `git clone \
                 https://github.com/antirez/smallchat && make -C smallchat`, then \
                 --smallchat smallchat/smallchat-server, or SMALLCHAT=PATH)"
            );
            result
        }
    };
    match result {
        Ok(summary) => println!("{summary}"),
        Err(message) => {
            eprintln!("fanout-bench: {message}");
            std::process::exit(1);
        }
    }
}

/// One run's figures.
struct Run {
    rate: f64,
    lost: u64,
    summary: String,
}

/// Starts the reference stage on a free port, measures it, and stops it.
fn measure_stage(options: &Options) -> Result<Run, String> {
    let package = harness::stages::find(options.stage)
        .map(|stage| stage.package())
        .unwrap_or_default();
    let spec = ServerSpec::Reference {
        package: package.clone(),
    };
    let server = Server::start(&spec, &mut Rng::new(fresh_seed()), startup_timeout())
        .map_err(|failure| failure.render())?;
    eprintln!("server: the reference {package}, port {}", server.port);
    measure(options, server.port, options.lenient, Some(&server))
}

/// Measures the server on `port`, in a runtime of its own.
fn measure(
    options: &Options,
    port: u16,
    lenient: bool,
    reference: Option<&Server>,
) -> Result<Run, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start tokio: {error}"))?;
    let result = runtime.block_on(run(options, port, lenient));
    // Receivers may still be reading: do not wait for them.
    runtime.shutdown_background();
    result.map_err(|message| match reference {
        Some(server) => format!(
            "{message}\nthe server's last output:\n{}",
            server.output_tail(10)
        ),
        None => message,
    })
}

/// smallchat, running; killed when dropped.
struct Smallchat(Child);

impl Drop for Smallchat {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts smallchat and waits until it listens on its port.
fn start_smallchat(path: &PathBuf) -> Result<Smallchat, String> {
    // Someone else on 7711 would be measured in its place.
    std::net::TcpListener::bind(("127.0.0.1", SMALLCHAT_PORT)).map_err(|error| {
        format!("port {SMALLCHAT_PORT}, which smallchat always takes, is not free: {error}")
    })?;
    let child = Command::new(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("could not start smallchat ({}): {error}", path.display()))?;
    let mut smallchat = Smallchat(child);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", SMALLCHAT_PORT)).is_ok() {
            return Ok(smallchat);
        }
        if let Ok(Some(status)) = smallchat.0.try_wait() {
            return Err(format!("smallchat exited at once ({status})"));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "smallchat did not listen on {SMALLCHAT_PORT} within 5 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The stage and smallchat in turn, each on a fresh server, for every
/// round; then the ratio of their deliveries per second, round by round.
fn side_by_side(options: &Options, smallchat_path: &PathBuf) -> Result<String, String> {
    if options.host != "127.0.0.1" {
        return Err("--smallchat measures servers on this machine: leave --host out".into());
    }
    let mut ratios = Vec::new();
    let (mut stage_rates, mut smallchat_rates) = (Vec::new(), Vec::new());
    for round in 1..=options.rounds {
        let stage = measure_stage(options)?;
        println!("round {round}, stage {}: {}", options.stage, stage.summary);
        let smallchat = {
            let _server = start_smallchat(smallchat_path)?;
            // smallchat prefixes only the first line of each read.
            measure(options, SMALLCHAT_PORT, true, None)?
        };
        println!("round {round}, smallchat: {}", smallchat.summary);
        if smallchat.rate > 0.0 {
            ratios.push(stage.rate / smallchat.rate);
        }
        stage_rates.push((stage.rate, stage.lost));
        smallchat_rates.push((smallchat.rate, smallchat.lost));
    }
    let ratios: Vec<String> = ratios.iter().map(|ratio| format!("{ratio:.2}x")).collect();
    let median = |runs: &mut Vec<(f64, u64)>| {
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        runs[runs.len() / 2]
    };
    let (stage_rate, stage_lost) = median(&mut stage_rates);
    let (smallchat_rate, smallchat_lost) = median(&mut smallchat_rates);
    Ok(format!(
        "N={} W={} M={}: stage {} {} deliveries/s ({} lost), smallchat {} ({} lost), \
         medians of {} rounds; stage / smallchat by round: {}",
        options.receivers,
        options.window,
        options.messages,
        options.stage,
        thousands(stage_rate.round() as u64),
        thousands(stage_lost),
        thousands(smallchat_rate.round() as u64),
        thousands(smallchat_lost),
        options.rounds,
        ratios.join(", "),
    ))
}

/// Our soft limit of open files, from /proc (Linux); `None` elsewhere.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Fails early, and clearly, when N connections cannot be opened. The
/// reference server inherits our limit, and needs as many.
fn check_open_file_limit(receivers: usize) -> Result<(), String> {
    let needed = receivers + 64;
    match open_file_limit() {
        Some(limit) if limit < needed => Err(format!(
            "{receivers} receivers need about {needed} open files, and the limit is {limit}: \
             raise it in this shell first, e.g. `ulimit -n 65536` (`ulimit -Hn` says how \
             far it may go)"
        )),
        _ => Ok(()),
    }
}

/// What every task shares.
struct Shared {
    receivers: usize,
    messages: usize,
    /// The line a delivery starts with, before "msg ".
    prefix: Vec<u8>,
    /// This run's tag, the last word of every line sent.
    tag: Vec<u8>,
    lenient: bool,
    /// For each line: how many receivers are past it, having received it
    /// or a later one (it is lost to them then), or having gone. Line i has
    /// left the window when this reaches N.
    passed: Vec<AtomicU32>,
    /// Told when a line leaves the window. (A channel, as the sender is a
    /// plain thread: it only writes, and waits.)
    progress: Sender<()>,
    /// When we started, for the times below, in nanoseconds since.
    epoch: Instant,
    last_read_nanos: AtomicU64,
    last_delivery_nanos: AtomicU64,
    /// Set when the sender starts: lines before are not counted.
    sending: AtomicBool,
    /// Set when the run is over: receivers closing then is expected.
    finished: AtomicBool,
    welcomed: AtomicUsize,
    delivered: AtomicU64,
    out_of_order: AtomicU64,
    malformed: AtomicU64,
    disconnected: AtomicUsize,
}

impl Shared {
    fn nanos_since_epoch(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// One receiver is past lines `range`.
    fn pass(&self, range: std::ops::Range<usize>) {
        for line in range {
            let before = self.passed[line].fetch_add(1, Ordering::AcqRel);
            if before as usize + 1 == self.receivers {
                let _ = self.progress.send(());
            }
        }
    }

    fn is_past_everyone(&self, line: usize) -> bool {
        self.passed[line].load(Ordering::Acquire) as usize >= self.receivers
    }
}

/// What a line from the server is to us.
#[derive(Debug, PartialEq)]
enum Kind {
    /// Line number N of this run, whole.
    Delivery(usize),
    /// This run's tag, in a line that is not a whole delivery.
    Malformed,
    /// Anything else: a welcome, a join notice, a nick change.
    Other,
}

/// `prefix` is what a delivery starts with; `lenient` also takes a line
/// that is only "msg NNNNNN TAG", without it (see `--lenient`).
fn classify(line: &[u8], prefix: &[u8], tag: &[u8], lenient: bool) -> Kind {
    let text = |rest: &[u8]| -> Option<usize> {
        let rest = rest.strip_prefix(b"msg ")?;
        let digits = rest.iter().take_while(|byte| byte.is_ascii_digit()).count();
        let number = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
        (rest[digits..].strip_prefix(b" ")? == tag).then_some(number)
    };
    let delivery = match line.strip_prefix(prefix) {
        Some(rest) => text(rest),
        None if lenient => text(line),
        None => None,
    };
    match delivery {
        Some(number) => Kind::Delivery(number),
        None if line.windows(tag.len()).any(|window| window == tag) => Kind::Malformed,
        None => Kind::Other,
    }
}

/// The text of line `number`.
fn message(number: usize, tag: &str) -> String {
    format!("msg {number:06} {tag}\n")
}

async fn run(options: &Options, port: u16, lenient: bool) -> Result<Run, String> {
    let address = format!("{}:{port}", options.host);
    let mut rng = Rng::new(fresh_seed() ^ u64::from(std::process::id()) << 20);
    let tag = format!("fanout-{:08x}", rng.next_u64() as u32);
    let sender_nick = format!("bench-{:08x}", rng.next_u64() as u32);
    let prefix = options
        .prefix
        .clone()
        .unwrap_or_else(|| format!("{sender_nick}> "));
    let (progress_sender, progress) = mpsc::channel();
    let shared = Arc::new(Shared {
        receivers: options.receivers,
        messages: options.messages,
        prefix: prefix.into_bytes(),
        tag: tag.clone().into_bytes(),
        lenient,
        passed: (0..options.messages).map(|_| AtomicU32::new(0)).collect(),
        progress: progress_sender,
        epoch: Instant::now(),
        last_read_nanos: AtomicU64::new(0),
        last_delivery_nanos: AtomicU64::new(0),
        sending: AtomicBool::new(false),
        finished: AtomicBool::new(false),
        welcomed: AtomicUsize::new(0),
        delivered: AtomicU64::new(0),
        out_of_order: AtomicU64::new(0),
        malformed: AtomicU64::new(0),
        disconnected: AtomicUsize::new(0),
    });

    // 1. The receivers: each reads from the moment it connects, so that the
    //    join notices of those after it cannot fill its socket.
    for index in 0..options.receivers {
        let stream = connect(&address)
            .await
            .map_err(|error| format!("receiver {} of {}: {error}", index + 1, options.receivers))?;
        tokio::spawn(receive(stream, Arc::clone(&shared)));
    }
    let welcome_deadline = Instant::now() + Duration::from_secs(30);
    while shared.welcomed.load(Ordering::Acquire) < options.receivers {
        if Instant::now() > welcome_deadline {
            return Err(format!(
                "only {} of {} receivers got a first line (the welcome) within 30 s: \
                 is the server out of open files (its `ulimit -n`), or did it drop them?",
                shared.welcomed.load(Ordering::Acquire),
                options.receivers
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    wait_until_quiet(&shared).await;

    // 2. The sender names itself, so that the receivers know its lines.
    let mut sender = connect(&address)
        .await
        .map_err(|error| format!("the sender: {error}"))?;
    sender
        .write_all(format!("/nick {sender_nick}\n").as_bytes())
        .await
        .map_err(|error| format!("the sender could not write: {error}"))?;
    confirm_nick(&mut sender, &sender_nick).await?;
    // The receivers' notices of the sender's join and nick change.
    wait_until_quiet(&shared).await;

    // 3. Send, and wait for the last lines. The sender is a plain thread
    //    with a blocking socket: all it does is write, and wait.
    let sender = sender
        .into_std()
        .and_then(|stream| stream.set_nonblocking(false).map(|()| stream))
        .map_err(|error| format!("the sender's socket: {error}"))?;
    let plan = Plan {
        window: options.window,
        drain_timeout: options.drain_timeout,
        tag,
    };
    let sending = Arc::clone(&shared);
    let (first_send, stalls) =
        tokio::task::spawn_blocking(move || send_lines(&sending, sender, &progress, &plan))
            .await
            .map_err(|error| format!("the sender failed: {error}"))??;

    let delivered = shared.delivered.load(Ordering::Acquire);
    let expected = (options.receivers * options.messages) as u64;
    let last_delivery = shared.last_delivery_nanos.load(Ordering::Acquire);
    let seconds = last_delivery.saturating_sub(first_send) as f64 / 1e9;
    let rate = if seconds > 0.0 {
        delivered as f64 / seconds
    } else {
        0.0
    };
    let lost = expected.saturating_sub(delivered);
    let mut summary = format!(
        "N={} W={} M={}{}: {} deliveries/s, {} lost, {} out of order",
        options.receivers,
        options.window,
        options.messages,
        if lenient { " (lenient)" } else { "" },
        thousands(rate.round() as u64),
        thousands(lost),
        thousands(shared.out_of_order.load(Ordering::Acquire)),
    );
    let malformed = shared.malformed.load(Ordering::Acquire);
    if malformed > 0 {
        summary.push_str(&format!(", {} malformed lines", thousands(malformed)));
    }
    let disconnected = shared.disconnected.load(Ordering::Acquire);
    if disconnected > 0 {
        summary.push_str(&format!(
            ", {} receivers disconnected by the server",
            thousands(disconnected as u64)
        ));
    }
    if stalls > 0 {
        summary.push_str(&format!(
            ", {stalls} stalls ({:.1} s each)",
            options.drain_timeout.as_secs_f64()
        ));
    }
    if delivered == 0 {
        summary.push_str(&format!(
            " (no line started with \"{}msg \": does the server prefix lines differently? \
             see --prefix)",
            String::from_utf8_lossy(&shared.prefix)
        ));
    }
    Ok(Run {
        rate,
        lost,
        summary,
    })
}

/// What the sender needs to know.
struct Plan {
    window: usize,
    drain_timeout: Duration,
    tag: String,
}

/// Sends every line, keeping at most `plan.window` in flight, then waits
/// until every receiver is past every line or nothing moves for the drain
/// timeout. Returns when the first line was sent, and how many times a
/// full window had to be given up on.
fn send_lines(
    shared: &Shared,
    mut stream: std::net::TcpStream,
    progress: &Receiver<()>,
    plan: &Plan,
) -> Result<(u64, usize), String> {
    // The sender reads too: a server may drop a client that does not.
    let mut reader = stream
        .try_clone()
        .map_err(|error| format!("the sender's socket: {error}"))?;
    std::thread::spawn(move || {
        let mut sink = vec![0u8; 4096];
        while matches!(reader.read(&mut sink), Ok(read) if read > 0) {}
    });
    // Waits for a line to leave the window; false if none did for the
    // whole drain timeout.
    let wait = || match progress.recv_timeout(plan.drain_timeout) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
        Err(RecvTimeoutError::Timeout) => false,
    };
    shared.sending.store(true, Ordering::Release);
    let first_send = shared.nanos_since_epoch();
    let mut oldest = 0; // The first line that not every receiver is past.
    let mut next = 0; // The next line to send.
    let mut stalls = 0;
    let mut batch = Vec::new();
    while next < shared.messages {
        while oldest < next && shared.is_past_everyone(oldest) {
            oldest += 1;
        }
        if next - oldest >= plan.window {
            if !wait() && !shared.is_past_everyone(oldest) {
                // Nothing moved for the whole drain timeout: some receiver
                // never got a line and never will. Give up on the window.
                stalls += 1;
                oldest = next;
            }
            continue;
        }
        // Everything the window allows, in one write, as a client that
        // types fast (or a pipelining one) would.
        batch.clear();
        let until = (oldest + plan.window).min(shared.messages);
        for number in next..until {
            batch.extend_from_slice(message(number, &plan.tag).as_bytes());
        }
        next = until;
        stream
            .write_all(&batch)
            .map_err(|error| format!("the sender could not write: {error}"))?;
    }
    // Drain: the last lines on their way.
    loop {
        while oldest < shared.messages && shared.is_past_everyone(oldest) {
            oldest += 1;
        }
        if oldest == shared.messages || (!wait() && !shared.is_past_everyone(oldest)) {
            break;
        }
    }
    shared.finished.store(true, Ordering::Release);
    let _ = stream.shutdown(std::net::Shutdown::Both);
    Ok((first_send, stalls))
}

async fn connect(address: &str) -> Result<TcpStream, String> {
    let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(address))
        .await
        .map_err(|_| format!("connecting to {address} timed out after 10 s"))?
        .map_err(|error| match error.raw_os_error() {
            // EMFILE and ENFILE: out of file descriptors.
            Some(24) | Some(23) => format!(
                "could not connect to {address}: {error}. This process is out of file \
                 descriptors: raise the limit first, e.g. `ulimit -n 65536` (limit now: {})",
                open_file_limit().map_or("unknown".to_string(), |limit| limit.to_string())
            ),
            _ => format!("could not connect to {address}: {error}"),
        })?;
    stream
        .set_nodelay(true)
        .map_err(|error| format!("setting TCP_NODELAY: {error}"))?;
    Ok(stream)
}

/// Waits until no receiver has read anything for `QUIET` (at most 60 s).
async fn wait_until_quiet(shared: &Shared) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let last_read = Duration::from_nanos(shared.last_read_nanos.load(Ordering::Acquire));
        let now = shared.epoch.elapsed();
        if now.saturating_sub(last_read) >= QUIET {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for the server to confirm the sender's nick. The chat stages answer
/// "* you are now NICK"; smallchat answers nothing, so a second of silence
/// is taken as yes. An error line ("! ...") is fatal.
async fn confirm_nick(sender: &mut TcpStream, nick: &str) -> Result<(), String> {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        let read = match tokio::time::timeout_at(deadline, sender.read(&mut chunk)).await {
            Err(_) => return Ok(()),
            Ok(Ok(0)) => return Err("the server closed the sender's connection".to_string()),
            Ok(Ok(read)) => read,
            Ok(Err(error)) => return Err(format!("the sender could not read: {error}")),
        };
        received.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&received);
        for line in text.lines() {
            if line.starts_with("* you are now") && line.contains(nick) {
                return Ok(());
            }
            if line.starts_with('!') {
                return Err(format!("the server refused `/nick {nick}`: {line}"));
            }
        }
    }
}

/// A receiver: reads lines until the server closes, counting deliveries.
async fn receive(mut stream: TcpStream, shared: Arc<Shared>) {
    let mut buffer = vec![0u8; READ_BUFFER_BYTES];
    let mut filled = 0;
    let mut welcomed = false;
    // Inside a line too long for the buffer: skip to its end.
    let mut skipping = false;
    // The first line number this receiver is not yet past.
    let mut next_expected = 0usize;
    loop {
        let read = match stream.read(&mut buffer[filled..]).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let now = shared.nanos_since_epoch();
        shared.last_read_nanos.fetch_max(now, Ordering::AcqRel);
        filled += read;
        let sending = shared.sending.load(Ordering::Acquire);
        let mut delivered = 0;
        let passed_before = next_expected;
        let mut start = 0;
        while let Some(end) = buffer[start..filled].iter().position(|&b| b == b'\n') {
            let line = &buffer[start..start + end];
            start += end + 1;
            if skipping {
                skipping = false;
                continue;
            }
            if !welcomed {
                welcomed = true;
                shared.welcomed.fetch_add(1, Ordering::AcqRel);
            }
            if !sending {
                continue;
            }
            match classify(line, &shared.prefix, &shared.tag, shared.lenient) {
                Kind::Delivery(number) if number >= shared.messages => {
                    shared.malformed.fetch_add(1, Ordering::Relaxed);
                }
                Kind::Delivery(number) if number >= next_expected => {
                    delivered += 1;
                    next_expected = number + 1;
                }
                Kind::Delivery(_) => {
                    shared.out_of_order.fetch_add(1, Ordering::Relaxed);
                }
                Kind::Malformed => {
                    shared.malformed.fetch_add(1, Ordering::Relaxed);
                }
                Kind::Other => {}
            }
        }
        buffer.copy_within(start..filled, 0);
        filled -= start;
        if filled == buffer.len() {
            // No "\n" in a whole buffer: not a line of ours.
            filled = 0;
            skipping = true;
        }
        // Counted before the lines leave the window: once the last line
        // has left it, the sender reads these counts, and they must be
        // complete.
        if delivered > 0 {
            shared.delivered.fetch_add(delivered, Ordering::AcqRel);
            shared.last_delivery_nanos.fetch_max(now, Ordering::AcqRel);
        }
        shared.pass(passed_before..next_expected);
    }
    // Gone: every line it had not received is lost to it, and it must not
    // hold the window open.
    if !shared.finished.load(Ordering::Acquire) {
        shared.disconnected.fetch_add(1, Ordering::AcqRel);
        shared.pass(next_expected..shared.messages);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_line_is_a_delivery() {
        let line = message(123, "fanout-1");
        let line = format!("bob> {}", line.trim_end());
        assert_eq!(
            classify(line.as_bytes(), b"bob> ", b"fanout-1", false),
            Kind::Delivery(123)
        );
    }

    #[test]
    fn a_line_without_the_prefix_is_malformed_if_it_has_the_tag() {
        assert_eq!(
            classify(b"msg 000002 fanout-1", b"bob> ", b"fanout-1", false),
            Kind::Malformed
        );
        assert_eq!(
            classify(b"msg 0000bob> 03 fanout-1", b"bob> ", b"fanout-1", false),
            Kind::Malformed
        );
        assert_eq!(
            classify(b"bob> msg 000002 fanout-12", b"bob> ", b"fanout-1", false),
            Kind::Malformed
        );
    }

    #[test]
    fn lenient_takes_a_line_without_the_prefix_but_not_a_garbled_one() {
        let classify = |line: &[u8]| classify(line, b"bob> ", b"fanout-1", true);
        assert_eq!(classify(b"msg 000002 fanout-1"), Kind::Delivery(2));
        assert_eq!(classify(b"bob> msg 000003 fanout-1"), Kind::Delivery(3));
        assert_eq!(classify(b"msg 0000bob> 03 fanout-1"), Kind::Malformed);
        assert_eq!(classify(b"bob> 03 fanout-1"), Kind::Malformed);
    }

    #[test]
    fn notices_and_other_runs_are_other_lines() {
        assert_eq!(
            classify(b"* user7 joined", b"bob> ", b"fanout-1", false),
            Kind::Other
        );
        assert_eq!(
            classify(b"bob> msg 000002 fanout-2", b"bob> ", b"fanout-1", false),
            Kind::Other
        );
    }
}
