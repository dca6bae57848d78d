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

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;

use harness::random::{Rng, fresh_seed};
use harness::server::{Server, ServerSpec, startup_timeout};
use maintainer::fanout::{self, Figures, Load, check_open_file_limit};
use maintainer::figures::thousands;

/// The chat stages, and the one measured when neither `--stage` nor
/// `--port` is given.
const CHAT_STAGES: std::ops::RangeInclusive<u8> = 12..=14;
const DEFAULT_STAGE: u8 = 14;

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
    let load = Load {
        receivers: options.receivers,
        window: options.window,
        messages: options.messages,
        prefix: options.prefix.clone(),
        lenient,
        drain_timeout: options.drain_timeout,
    };
    let address = format!("{}:{port}", options.host);
    let result = runtime
        .block_on(fanout::measure(
            &load,
            std::slice::from_ref(&address),
            &address,
        ))
        .map(|figures| Run {
            rate: figures.rate,
            lost: figures.lost(),
            summary: summary(options, &figures, lenient),
        });
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

/// The one line printed: "N=100 W=1 M=2000: 69,123 deliveries/s, 0 lost,
/// 0 out of order", and whatever else went wrong.
fn summary(options: &Options, figures: &Figures, lenient: bool) -> String {
    let mut summary = format!(
        "N={} W={} M={}{}: {} deliveries/s, {} lost, {} out of order",
        options.receivers,
        options.window,
        options.messages,
        if lenient { " (lenient)" } else { "" },
        thousands(figures.rate.round() as u64),
        thousands(figures.lost()),
        thousands(figures.out_of_order),
    );
    if figures.malformed > 0 {
        summary.push_str(&format!(
            ", {} malformed lines",
            thousands(figures.malformed)
        ));
    }
    if figures.disconnected > 0 {
        summary.push_str(&format!(
            ", {} receivers disconnected by the server",
            thousands(figures.disconnected as u64)
        ));
    }
    if figures.stalls > 0 {
        summary.push_str(&format!(
            ", {} stalls ({:.1} s each)",
            figures.stalls,
            options.drain_timeout.as_secs_f64()
        ));
    }
    if figures.delivered == 0 {
        summary.push_str(&format!(
            " (no line started with \"{}msg \": does the server prefix lines differently? \
             see --prefix)",
            figures.prefix
        ));
    }
    summary
}
