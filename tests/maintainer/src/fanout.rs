//! The fanout load of `fanout-bench` and `chat-redis-bench`: N receivers
//! and one sender of a chat, at most W lines in flight; deliveries per
//! second and lost deliveries. The receivers may be spread over several
//! servers that serve one chat (stage 19's processes on one Redis).
//! `fanout-bench`'s doc says how the load runs and how it counts.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use harness::random::{Rng, fresh_seed};

/// A receiver's read buffer: a line longer than this is not one of ours.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// How long no receiver may read anything before we call the chat quiet.
const QUIET: Duration = Duration::from_millis(300);

/// Our soft limit of open files, from /proc (Linux); `None` elsewhere.
pub fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Fails early, and clearly, when N connections cannot be opened. The
/// reference server inherits our limit, and needs as many.
pub fn check_open_file_limit(receivers: usize) -> Result<(), String> {
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

/// A fanout load: N receivers, one sender, at most W lines in flight.
pub struct Load {
    pub receivers: usize,
    pub window: usize,
    pub messages: usize,
    /// What a delivered line starts with, before "msg ..." (`None`: the
    /// sender's nick and "> ").
    pub prefix: Option<String>,
    /// Also count a line without the prefix (see `fanout-bench --lenient`).
    pub lenient: bool,
    /// How long to wait for lines still on their way, and how long a full
    /// window may wait before it is given up on.
    pub drain_timeout: Duration,
}

/// What a run measured.
pub struct Figures {
    /// Lines received whole and in order, by all receivers together.
    pub delivered: u64,
    /// N * M: what every receiver receiving every line would be.
    pub expected: u64,
    /// Deliveries per second, from the first line sent to the last delivery.
    pub rate: f64,
    pub out_of_order: u64,
    pub malformed: u64,
    /// Receivers that the server disconnected.
    pub disconnected: usize,
    /// Full windows given up on after the drain timeout.
    pub stalls: usize,
    /// The prefix a delivery had to start with (for a report of none).
    pub prefix: String,
}

impl Figures {
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.delivered)
    }
}

/// Runs `load`: receiver i connects to `receivers[i % len]` (so that N
/// receivers spread evenly over the servers given), the sender to
/// `sender`. Addresses are "HOST:PORT".
pub async fn measure(load: &Load, receivers: &[String], sender: &str) -> Result<Figures, String> {
    assert!(!receivers.is_empty(), "at least one address for receivers");
    let mut rng = Rng::new(fresh_seed() ^ u64::from(std::process::id()) << 20);
    let tag = format!("fanout-{:08x}", rng.next_u64() as u32);
    let sender_nick = format!("bench-{:08x}", rng.next_u64() as u32);
    let prefix = load
        .prefix
        .clone()
        .unwrap_or_else(|| format!("{sender_nick}> "));
    let (progress_sender, progress) = mpsc::channel();
    let shared = Arc::new(Shared {
        receivers: load.receivers,
        messages: load.messages,
        prefix: prefix.into_bytes(),
        tag: tag.clone().into_bytes(),
        lenient: load.lenient,
        passed: (0..load.messages).map(|_| AtomicU32::new(0)).collect(),
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
    for index in 0..load.receivers {
        let address = &receivers[index % receivers.len()];
        let stream = connect(address)
            .await
            .map_err(|error| format!("receiver {} of {}: {error}", index + 1, load.receivers))?;
        tokio::spawn(receive(stream, Arc::clone(&shared)));
    }
    let welcome_deadline = Instant::now() + Duration::from_secs(30);
    while shared.welcomed.load(Ordering::Acquire) < load.receivers {
        if Instant::now() > welcome_deadline {
            return Err(format!(
                "only {} of {} receivers got a first line (the welcome) within 30 s: \
                 is the server out of open files (its `ulimit -n`), or did it drop them?",
                shared.welcomed.load(Ordering::Acquire),
                load.receivers
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    wait_until_quiet(&shared).await;

    // 2. The sender names itself, so that the receivers know its lines.
    let mut sender = connect(sender)
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
        window: load.window,
        drain_timeout: load.drain_timeout,
        tag,
    };
    let sending = Arc::clone(&shared);
    let (first_send, stalls) =
        tokio::task::spawn_blocking(move || send_lines(&sending, sender, &progress, &plan))
            .await
            .map_err(|error| format!("the sender failed: {error}"))??;

    let delivered = shared.delivered.load(Ordering::Acquire);
    let last_delivery = shared.last_delivery_nanos.load(Ordering::Acquire);
    let seconds = last_delivery.saturating_sub(first_send) as f64 / 1e9;
    Ok(Figures {
        delivered,
        expected: (load.receivers * load.messages) as u64,
        rate: if seconds > 0.0 {
            delivered as f64 / seconds
        } else {
            0.0
        },
        out_of_order: shared.out_of_order.load(Ordering::Acquire),
        malformed: shared.malformed.load(Ordering::Acquire),
        disconnected: shared.disconnected.load(Ordering::Acquire),
        stalls,
        prefix: String::from_utf8_lossy(&shared.prefix).into_owned(),
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
