//! # Stage 4: serve many clients at once
//!
//! **What this stage adds over stage 3:** concurrency. Each accepted client
//! gets its own Tokio task, so the accept loop goes straight back to
//! accepting, and a client that stays connected (or is slow) no longer makes
//! the others wait. Nothing else may make them wait either: the log is
//! written by a thread of its own, and dropped rather than waited for
//! (`log.rs`). And they stop together: on Ctrl-C or SIGTERM the server stops
//! accepting, lets each client finish what it is doing, and exits with
//! status 0 (`shutdown.rs`). The rest of the server is unchanged.
//!
//! **Try it:**
//!
//! ```text
//! cargo run -p stage-04-concurrent-clients -- --port 6380
//! nc 127.0.0.1 6380            # in a second terminal: stays connected
//! redis-cli -p 6380 PING       # in a third: answered at once, PONG
//! # back in the first, Ctrl-C: one line, `shutting down on SIGINT: 1 client closed`
//! ```
//!
//! **Shortcuts it still takes** (each is marked `SHORTCUT(stage N)` where it
//! is taken, N being the stage that removes it):
//! - it understands PING only, and only as `redis-cli` sends it; anything
//!   else gets an error and the connection is closed (stage 5).

// First: the `log!` macro it defines is for the modules below it.
#[macro_use]
mod log;
mod config;
mod shutdown;

use std::time::Duration;

use anyhow::Result;
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::shutdown::{Notice, Shutdown, Signals};

// ANCHOR: main
#[tokio::main]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

async fn run() -> Result<()> {
    let config = config::Config::from_args()?;
    let listener = config.listen().await?;
    // Before we say we listen: a signal from then on is ours to handle.
    let mut signals = Signals::listen()?;
    log!(
        "{} listening on {}",
        env!("CARGO_PKG_NAME"),
        listener.local_addr()?
    );
    let shutdown = Shutdown::new();
    // The accept loop runs until a signal comes. Leaving the `select!`
    // drops it, and the listener with it: no client is accepted after.
    let signal = tokio::select! {
        result = serve(listener, &shutdown) => return result,
        signal = signals.next() => signal,
    };
    let (closed, still_open) = shutdown.finish(&mut signals).await;
    let closed = shutdown::clients(closed);
    let mut last_line = format!("shutting down on {signal}: {closed} closed");
    if still_open > 0 {
        let grace = shutdown::GRACE.as_secs();
        last_line.push_str(&format!(", {still_open} cut off after {grace} s"));
    }
    // Blocks this thread for a moment at most: nothing else is left to run.
    log::finish(last_line, Duration::from_millis(500));
    Ok(())
}
// ANCHOR_END: main

// ANCHOR: serve
/// Accepts clients until the server shuts down, and serves each in a task
/// of its own.
async fn serve(listener: TcpListener, shutdown: &Shutdown) -> Result<()> {
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // A failed accept (say, too many open files) is about one
                // client, not the server: wait a moment and go on.
                log!("accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        log!("{peer} connected");
        // A task is not a thread: it costs the memory of its state (here,
        // mostly the client's buffer: a few KiB), not a stack of its own.
        // Tokio runs thousands of them on a handful of threads, switching at
        // each `.await` that has to wait. The task owns the socket (`move`), so it can outlive
        // this loop iteration. It owns its notice of the shutdown too: when
        // the task ends, the notice is dropped, and the server knows.
        let mut notice = shutdown.notice();
        tokio::spawn(async move {
            match handle_client(socket, &mut notice).await {
                Ok(()) => log!("{peer} left"),
                Err(error) => log!("{peer} dropped: {error}"),
            }
        });
    }
}
// ANCHOR_END: serve

// ANCHOR: ping_frame
/// The one command this stage understands, as `redis-cli` sends it: an
/// array (`*`) of one element, a bulk string (`$`) of 4 bytes, `PING`.
const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";
const PONG: &[u8] = b"+PONG\r\n";

/// What the front of the buffer holds.
enum Next {
    /// A whole PING: answer it, and take its bytes off the buffer.
    Ping,
    /// The start of a PING (or nothing yet): wait for more bytes.
    Incomplete,
    /// Bytes that cannot be a PING.
    NotPing,
}

fn next_command(buffer: &[u8]) -> Next {
    let available = buffer.len().min(PING.len());
    // Command names are case-insensitive: `redis-cli ping` sends `ping`.
    if !buffer[..available].eq_ignore_ascii_case(&PING[..available]) {
        Next::NotPing
    } else if available < PING.len() {
        Next::Incomplete
    } else {
        Next::Ping
    }
}
// ANCHOR_END: ping_frame

// ANCHOR: handle_client
/// Answers every PING the client sends, however its bytes are split, until
/// the client leaves or the server shuts down.
async fn handle_client(mut socket: TcpStream, notice: &mut Notice) -> std::io::Result<()> {
    // What has arrived and is not answered yet: at most one unfinished PING.
    let mut buffer = BytesMut::with_capacity(4096);
    let mut replies = Vec::new();
    loop {
        // Answer every whole PING at the front of the buffer.
        loop {
            match next_command(&buffer) {
                Next::Ping => {
                    buffer.advance(PING.len());
                    replies.extend_from_slice(PONG);
                }
                Next::Incomplete => break,
                Next::NotPing => {
                    // SHORTCUT(stage 5): we cannot tell where an unknown
                    // command ends, so we cannot skip it and go on: we say
                    // so and close the connection.
                    replies.extend_from_slice(b"-ERR this server understands only PING so far\r\n");
                    socket.write_all(&replies).await?;
                    // An error, so that the log says the server closed it.
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "sent something other than PING",
                    ));
                }
            }
        }
        // All the answers that this read made possible, in one write: ten
        // PINGs that arrive together cost one system call, not ten.
        if !replies.is_empty() {
            socket.write_all(&replies).await?;
            replies.clear();
        }
        // ANCHOR: wait_for_more
        // Wait for more bytes, or for the shutdown: it ends the connection
        // here, between batches, after the replies to what was read are
        // written. `biased` tries the read first, so a PING that arrived
        // before the signal is answered. `read_buf` appends to the buffer,
        // after any unfinished PING.
        tokio::select! {
            biased;
            read = socket.read_buf(&mut buffer) => {
                if read? == 0 {
                    return Ok(());
                }
            }
            () = notice.received() => return Ok(()),
        }
        // ANCHOR_END: wait_for_more
    }
}
// ANCHOR_END: handle_client
