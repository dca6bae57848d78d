//! The server's log: one line per event, written to stdout by a thread of
//! its own, so that serving never waits for it.
//!
//! A write to stdout waits when nobody reads it fast enough (a pipe to a
//! slow program, a paused terminal): the pipe's buffer fills, and
//! `println!` blocks the thread that called it. On a Tokio worker that
//! stalls every client that worker serves, and soon the whole server. So
//! `log!` only puts the line in a bounded queue, and never waits: when the
//! queue is full, the line is dropped and counted, and the writer says how
//! many it lost once it has caught up. (The chapter, "A log that never
//! stalls serving", says more.)
//!
//! ```text
//!  log!() ──try──> | line | line | ... 1,024 | ──> writer thread ──> stdout
//!         (full: count it, drop it)
//! ```

use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

/// `log!("{peer} connected")`: `println!` that never waits.
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log::line(format!($($arg)*))
    };
}

/// How many lines may wait for the writer: a burst of a thousand
/// connections fits, and a log nobody reads holds at most ~100 KiB.
const QUEUE_LINES: usize = 1024;

/// The most the writer takes from the queue for one write.
const BATCH_BYTES: usize = 64 * 1024;

/// What the queue carries.
enum Entry {
    Line(String),
    /// "Tell me when everything before this is written" (for the shutdown).
    Flush(mpsc::Sender<()>),
}

/// Lines dropped because the queue was full, since the writer last said so.
static DROPPED: AtomicUsize = AtomicUsize::new(0);

/// The queue, and its writer thread, started by the first line.
fn queue() -> &'static SyncSender<Entry> {
    static QUEUE: OnceLock<SyncSender<Entry>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (sender, receiver) = mpsc::sync_channel(QUEUE_LINES);
        std::thread::spawn(move || write_entries(receiver));
        sender
    })
}

// ANCHOR: line
/// Queues `text` as a line of the log. Never waits: when the queue is full
/// the line is dropped, and counted.
pub fn line(text: String) {
    match queue().try_send(Entry::Line(text)) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
        // The writer has stopped (it never does): there is nowhere to log.
        Err(TrySendError::Disconnected(_)) => {}
    }
}
// ANCHOR_END: line

/// The last line of the log: queues `text`, then waits until everything
/// queued is written, for `within` at most. It waits for room in the queue
/// (this one line must not be the one dropped), but not forever: a stdout
/// nobody reads must not keep the server from exiting either.
pub fn finish(text: String, within: Duration) {
    let deadline = Instant::now() + within;
    let (written, all_written) = mpsc::channel();
    for mut entry in [Entry::Line(text), Entry::Flush(written)] {
        loop {
            match queue().try_send(entry) {
                Ok(()) => break,
                Err(TrySendError::Full(again)) if Instant::now() < deadline => {
                    entry = again;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(_) => return,
            }
        }
    }
    let _ = all_written.recv_timeout(deadline.saturating_duration_since(Instant::now()));
}

/// The writer thread: takes whatever is queued, writes it in one write,
/// and, each time it has caught up, says how many lines it had to drop.
fn write_entries(entries: Receiver<Entry>) {
    let mut batch = String::new();
    let mut flushes = Vec::new();
    // `recv` waits for the next line; it ends when the queue is gone.
    while let Ok(first) = entries.recv() {
        let mut next = Some(first);
        while let Some(entry) = next {
            match entry {
                Entry::Line(text) => {
                    batch.push_str(&text);
                    batch.push('\n');
                }
                Entry::Flush(written) => flushes.push(written),
            }
            next = if batch.len() < BATCH_BYTES {
                entries.try_recv().ok()
            } else {
                None
            };
        }
        let caught_up = batch.len() < BATCH_BYTES;
        let dropped = if caught_up {
            DROPPED.swap(0, Ordering::Relaxed)
        } else {
            0
        };
        if dropped > 0 {
            batch.push_str(&format!("({dropped} log lines dropped)\n"));
        }
        // This write may wait, for as long as nobody reads stdout: that is
        // why it is done here, away from the clients. A stdout that is
        // closed loses the log, not the server.
        let mut stdout = std::io::stdout().lock();
        let _ = stdout
            .write_all(batch.as_bytes())
            .and_then(|()| stdout.flush());
        drop(stdout);
        batch.clear();
        for written in flushes.drain(..) {
            let _ = written.send(());
        }
    }
}
