//! # Stage 19: a chat on Redis
//!
//! **What this stage adds over stage 14:** the chat server keeps no chat
//! state of its own. Who is online, the nicks, the history and every
//! message live in Redis (`store.rs`): any number of processes, on any
//! machines, serve one chat, and a user on one talks with users on all.
//! A process keeps only its own connections. Stopped (SIGTERM, Ctrl-C), it
//! takes its users out of the chat as it closes them.
//!
//! **Try it:**
//!
//! ```text
//! redis-server --port 6379 --save ''                           # or: just run 18
//! cargo run -p stage-19-chat-on-redis -- --port 7711           # in a second terminal
//! cargo run -p stage-19-chat-on-redis -- --port 7712           # in a third
//! nc 127.0.0.1 7711                                            # alice, in a fourth
//! nc 127.0.0.1 7712                                            # bob, in a fifth
//! /who
//! /msg user2 hello from the other process
//! ```
//!
//! **Shortcuts it still takes** (each is marked `SHORTCUT(stage N)` where it
//! is taken, N being the stage that removes it):
//! - a process that loses Redis tells its users, closes them, and exits;
//!   one killed without a word (SIGKILL) leaves its users in the chat, their
//!   nicks taken, for good (stage 20).

// First: the `log!` macro it defines is for the modules below it.
#[macro_use]
mod log;
mod chat;
mod command;
mod config;
mod nick;
mod outbox;
mod shutdown;
mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use stage_19_chat_on_redis::line::LineReader;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::chat::{ClientId, Flow, Hub};
use crate::shutdown::{Notice, Shutdown, Signals};
use crate::store::Store;

/// How long a client that leaves gets to take the lines still queued for
/// it (a `/who` reply, "* bye") before its connection is closed anyway.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Open files wanted for thousands of clients: one per client, and a few.
const WANTED_OPEN_FILES: u64 = 20_000;

// ANCHOR: main
// One thread for the whole chat, as in Redis and smallchat. The work per
// line is small (a lock, a handle put in each outbox, a write per client),
// and what one thread buys is order: a client that pours lines in yields
// after each read (see `handle_client`), and every writer task its lines
// woke runs before it reads again, so outboxes are drained as fast as they
// fill. With worker threads, those writers can wait for a thread the
// system has not scheduled while the flood goes on, and clients that do
// read are dropped as if they did not.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

async fn run() -> Result<()> {
    let config = config::Config::from_args()?;
    let store = Store::new(&config.redis)?;
    let listener = config.listen().await?;
    // Before any client is accepted: a chat server that cannot reach its
    // store has nothing to serve, and says so.
    let messages = store.connect().await.with_context(|| {
        format!(
            "cannot reach the chat store at {}: is a Redis running there? \
             (start one with `redis-server`, or give --redis URL)",
            config.redis
        )
    })?;
    // Before we say we listen: a signal from then on is ours to handle.
    let mut signals = Signals::listen()?;
    log!(
        "{} listening on {}",
        env!("CARGO_PKG_NAME"),
        listener.local_addr()?
    );
    log!("the chat's state is in the Redis at {}", config.redis);
    warn_if_few_open_files();
    let hub = Arc::new(Hub::new(store));
    // A task: the subscription must outlive the `select!`, for users to leave.
    let following = tokio::spawn(Arc::clone(&hub).follow_store(messages));
    let shutdown = Shutdown::new();
    // The accept loop runs until a signal comes, or Redis goes away. Leaving
    // the `select!` drops it, and the listener: no client is accepted after.
    let signal = tokio::select! {
        result = serve(listener, Arc::clone(&hub), &shutdown) => return result,
        _ = following => None,
        signal = signals.next() => Some(signal),
    };
    // Each client's task takes its user out of Redis as it closes.
    let (closed, still_open) = shutdown.finish(&mut signals).await;
    let Some(signal) = signal else {
        // Every client was told and let go; their writers are done (above).
        let last_line = format!("lost the chat store: {} closed", shutdown::clients(closed));
        log::finish(last_line, Duration::from_millis(500));
        anyhow::bail!("lost the connection to the chat store at {}", config.redis);
    };
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
/// Accepts clients until the server shuts down, and starts each one's
/// tasks.
async fn serve(listener: TcpListener, hub: Arc<Hub>, shutdown: &Shutdown) -> Result<()> {
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
        connect(socket, peer, &hub, shutdown);
    }
}

/// Joins a new client to the chat, and starts its two tasks: one reads
/// its lines and acts on them, the other writes its outbox. The chat keeps
/// both tasks' handles, to stop them if the client is not reading.
fn connect(socket: TcpStream, peer: SocketAddr, hub: &Arc<Hub>, shutdown: &Shutdown) {
    // The writer sends what is queued in one write already; don't let
    // Nagle's algorithm hold a line back waiting for an acknowledgement.
    let _ = socket.set_nodelay(true);
    let (read_half, write_half) = socket.into_split();
    // Shared by the writer task and the chat's flushes.
    let write_half = Arc::new(write_half);
    let (id, outbox) = hub.register();
    let writer = tokio::spawn(outbox::write_outbox(Arc::clone(&write_half), outbox));
    let writer_abort = writer.abort_handle();
    // Every task holds the chat: an `Arc` is a shared pointer, and cloning
    // it copies the pointer.
    let reader_hub = Arc::clone(hub);
    // The reader owns the client's notice of the shutdown: when it ends
    // (after its writer), the notice is dropped, and the server knows.
    let mut notice = shutdown.notice();
    let reader = tokio::spawn(async move {
        match handle_client(read_half, reader_hub, id, writer, &mut notice).await {
            Ok(()) => log!("{peer} left"),
            Err(error) => log!("{peer} dropped: {error}"),
        }
    });
    hub.attach_tasks(id, vec![writer_abort, reader.abort_handle()], write_half);
}
// ANCHOR_END: serve

// ANCHOR: handle_client
/// The client's reader task: acts on every line it sends, until it leaves,
/// sends `/quit`, or is disconnected for not reading (then this task is stopped from
/// outside, at its next `.await`). What the others say reaches it through
/// its outbox, which the `writer` task writes: this one only reads, so a
/// client that does not read cannot stop us hearing it, or hearing it
/// leave.
async fn handle_client(
    socket: OwnedReadHalf,
    hub: Arc<Hub>,
    id: ClientId,
    mut writer: JoinHandle<std::io::Result<()>>,
    notice: &mut Notice,
) -> std::io::Result<()> {
    let mut lines = LineReader::default();
    // A client the chat cannot take (Redis is away) has been told so:
    // it is let go as after /quit.
    let mut quit = Box::pin(hub.join(id)).await == Flow::Stop;
    let result = loop {
        // Every whole line in the buffer first, then read more.
        if quit || hub.handle_lines(id, &mut lines).await == Flow::Stop {
            quit = true;
            break Ok(());
        }
        // Let the writers of everyone these lines went to run before we
        // read more. Without this, a client sending as fast as it can is
        // served read after read (Tokio makes a task yield only after 128
        // of them), its lines pile up unwritten in the outboxes, and
        // clients that do read look as if they did not.
        tokio::task::yield_now().await;
        // More lines, or the shutdown (`biased`: lines that arrived before
        // it are read first).
        tokio::select! {
            biased;
            more = lines.read_from(&socket) => match more {
                Ok(true) => {}
                // The client closed the connection.
                Ok(false) => break Ok(()),
                Err(error) => break Err(error),
            },
            () = notice.received() => {
                // Its last line, after what its outbox holds; its user leaves
                // Redis; below, its writer writes them all, and closes.
                Box::pin(hub.shut_down(id)).await;
                break Ok(());
            }
        }
    };
    // Leaving closes the client's outbox: its writer writes what is still
    // queued ("* bye" after /quit), and ends the connection. A client that
    // does not read that gets CLOSE_TIMEOUT, not forever.
    Box::pin(hub.leave(id)).await;
    if tokio::time::timeout(CLOSE_TIMEOUT, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    if quit {
        discard_input(socket).await;
    }
    result
}
// ANCHOR_END: handle_client

/// Reads and throws away what a client that sent `/quit` still sends, for
/// a moment: closing a socket with the client's bytes unread makes the
/// kernel send a reset, which can destroy "* bye" before it is read.
async fn discard_input(mut socket: OwnedReadHalf) {
    use tokio::io::AsyncReadExt;
    let drain = async {
        // On the heap: an array would make every reader task 4 KiB larger.
        let mut sink = vec![0u8; 4096];
        let mut drained = 0;
        while drained < 1024 * 1024 {
            match socket.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(read) => drained += read,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
}

// ANCHOR: open_files
/// Every client is an open file (its socket), and the usual limit is 1024
/// per process: the 1025th client would be refused (`accept` fails with
/// "too many open files", which the accept loop survives). Say so at
/// start, rather than let someone find out with a thousand users online.
fn warn_if_few_open_files() {
    // Only Linux has /proc; elsewhere, say nothing.
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else {
        return;
    };
    if let Some(limit) = open_files_limit(&limits) {
        if limit < WANTED_OPEN_FILES {
            eprintln!(
                "warning: at most {limit} open files (ulimit -n): raise it with \
                 `ulimit -n {WANTED_OPEN_FILES}` for thousands of clients"
            );
        }
    }
}

/// The soft limit from the "Max open files" line of `/proc/self/limits`;
/// `None` if it is "unlimited" or missing.
fn open_files_limit(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    let soft_limit = line
        .strip_prefix("Max open files")?
        .split_whitespace()
        .next()?;
    soft_limit.parse().ok()
}
// ANCHOR_END: open_files

#[cfg(test)]
mod tests;
