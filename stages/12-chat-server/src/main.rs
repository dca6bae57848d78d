//! # Stage 8: a chat server
//!
//! **What this stage adds over stage 7:** other people. Until now each
//! client talked to the server alone; here what one client sends goes to
//! all the others, which is antirez's smallchat, done right. Clients are
//! people with `nc` or `telnet`: lines of text, nicks, `/who`, private
//! messages, actions, the last 20 messages for whoever joins, and notices
//! when someone comes or goes. The lessons are three:
//!
//! - **lines from a stream:** a line is whatever arrives before a `\n`,
//!   however the reads cut it, with a limit, and cleaned of anything that
//!   could take over a terminal (`line.rs`);
//! - **fanout:** one message, thousands of recipients, one allocation
//!   (`chat.rs`, which compares the designs);
//! - **slow clients:** a client that stops reading must not stall the
//!   others, nor make the server's memory grow: each client has its own
//!   bounded queue and writer task, and is disconnected when the queue
//!   is full (`outbox.rs`).
//!
//! The accept loop, `config.rs` and the shape of `main` are stage 7's, but
//! on one thread (see `main`); the default port is smallchat's, 7711. The
//! protocol, line for line, is in the chapter.
//!
//! **Try it:**
//!
//! ```text
//! cargo run -p stage-12-chat-server                   # listens on 127.0.0.1:7711
//! nc 127.0.0.1 7711                                   # in a second terminal
//! telnet 127.0.0.1 7711                               # in a third; then type:
//! /nick alice
//! hello, everyone
//! /who
//! /msg user1 just you
//! /me waves
//! /quit
//! ```
//!
//! For thousands of clients, raise the limit on open files first
//! (`ulimit -n 20000`): each client is one. The server warns at start when
//! the limit is lower.
//!
//! **Shortcuts it still takes:** none that a later stage removes; what it
//! leaves out is on purpose, to keep the lessons in view: a nick is anyone's
//! who asks first (no accounts, no passwords), there is one room, history
//! lives in memory and goes with a restart, there is no encryption, and no
//! limit on how fast one client may talk (a client that floods the chat can
//! push a reader on a slow link over its queue's bound).

mod chat;
mod command;
mod config;
mod line;
mod outbox;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::chat::{ClientId, Flow, Hub};
use crate::line::{Line, LineReader};

/// How long a client that leaves gets to take the lines still queued for
/// it (a `/who` reply, "* bye") before its connection is closed anyway.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Open files wanted for thousands of clients: one per client, and a few.
const WANTED_OPEN_FILES: u64 = 20_000;

// ANCHOR: main
// One thread for the whole chat, as in Redis and smallchat. The work per
// line is small (a lock, a pointer put in each outbox, a write per
// client): one thread fans a line out to 10,000 clients in milliseconds.
// What one thread buys is order. A client that pours lines in yields after
// each read (see `handle_client`), and every writer task its lines woke
// runs before it reads again, so outboxes are drained as fast as they
// fill. With worker threads, those writers can sit on a thread the OS has
// not scheduled while the flood goes on here: on a 2-core machine we saw
// clients that were reading dropped as "not reading", and 10,000 clients
// took twice as long to connect.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

async fn run() -> Result<()> {
    let config = config::Config::from_args()?;
    let listener = config.listen().await?;
    println!(
        "{} listening on {}",
        env!("CARGO_PKG_NAME"),
        listener.local_addr()?
    );
    warn_if_few_open_files();
    serve(listener, Arc::new(Hub::default())).await
}
// ANCHOR_END: main

// ANCHOR: serve
/// Accepts clients forever, and starts each one's tasks.
async fn serve(listener: TcpListener, hub: Arc<Hub>) -> Result<()> {
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // A failed accept (say, too many open files) is about one
                // client, not the server: wait a moment and go on.
                eprintln!("accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        connect(socket, peer, &hub);
    }
}

/// Registers a new client, and starts its two tasks: one reads its lines
/// and acts on them, the other writes what is queued for it. They are
/// apart so that reading never waits on writing: a client that does not
/// read cannot stop us hearing it, or hearing it leave.
fn connect(socket: TcpStream, peer: SocketAddr, hub: &Arc<Hub>) {
    // The writer already sends what is queued in one write; don't let
    // Nagle's algorithm hold a line back waiting for an acknowledgement.
    let _ = socket.set_nodelay(true);
    let (read_half, write_half) = socket.into_split();
    let (id, outbox) = hub.join(peer);
    let writer = tokio::spawn(outbox::write_outbox(write_half, outbox));
    let writer_abort = writer.abort_handle();
    let reader = tokio::spawn(handle_client(read_half, Arc::clone(hub), id, writer));
    hub.attach_tasks(id, vec![writer_abort, reader.abort_handle()]);
}
// ANCHOR_END: serve

// ANCHOR: handle_client
/// The client's reader task: acts on every line it sends, until it leaves,
/// sends `/quit`, or is disconnected for not reading (then this task is
/// stopped from outside, at its next `.await`).
async fn handle_client(
    socket: OwnedReadHalf,
    hub: Arc<Hub>,
    id: ClientId,
    mut writer: JoinHandle<std::io::Result<()>>,
) {
    let mut lines = LineReader::default();
    let quit = 'connection: loop {
        while let Some(line) = lines.next_line() {
            let flow = match line {
                Line::Text(raw) => hub.handle_line(id, &line::clean(&raw)),
                Line::TooLong => {
                    hub.line_too_long(id);
                    Flow::Continue
                }
            };
            if flow == Flow::Stop {
                break 'connection true;
            }
        }
        // Let the writers of everyone these lines went to run before we
        // read more. Without this, a client sending as fast as it can is
        // served read after read (Tokio makes a task yield only after 128
        // of them), its lines pile up unwritten in the outboxes, and
        // clients that do read look as if they did not.
        tokio::task::yield_now().await;
        match lines.read_from(&socket).await {
            Ok(true) => {}
            // The client closed the connection, or it broke.
            Ok(false) | Err(_) => break false,
        }
    };
    hub.leave(id);
    // Leaving closed the client's outbox: its writer writes what is left
    // ("* bye" after /quit) and ends our side of the connection. A client
    // that does not read it gets CLOSE_TIMEOUT, not forever.
    if tokio::time::timeout(CLOSE_TIMEOUT, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    if quit {
        discard_input(socket).await;
    }
}
// ANCHOR_END: handle_client

/// Reads and throws away what a client that sent `/quit` still sends, for
/// a moment, before the socket is closed.
///
/// Closing a socket while the client's bytes sit unread in the kernel makes
/// the kernel send a reset instead of a normal end of stream, and a reset
/// can destroy "* bye" before the client has read it (stage 5 met this with
/// QUIT).
async fn discard_input(mut socket: OwnedReadHalf) {
    use tokio::io::AsyncReadExt;
    let drain = async {
        // On the heap: an array here would be part of every client's
        // reader task, 4 KiB each, for the moment after a /quit.
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
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_on_open_files() {
        let limits = "\
Limit                     Soft Limit           Hard Limit           Units     
Max processes             127533               127533               processes 
Max open files            1024                 524288               files     
Max locked memory         8388608              8388608              bytes     
";
        assert_eq!(open_files_limit(limits), Some(1024));
        let unlimited = "Max open files            unlimited            unlimited            files";
        assert_eq!(open_files_limit(unlimited), None);
        assert_eq!(open_files_limit(""), None);
    }

    /// Each client costs its two tasks, always in memory: with 10,000
    /// clients, every KiB in them is 10 MB. (A 4 KiB array held across an
    /// `.await` once made the reader task 4.4 KiB.)
    #[tokio::test]
    async fn a_clients_tasks_are_small() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let _client = TcpStream::connect(address).await.unwrap();
        let (socket, _) = listener.accept().await.unwrap();
        let (read_half, write_half) = socket.into_split();
        let hub = Arc::new(Hub::default());
        let (id, outbox) = hub.join(address);
        let writer = outbox::write_outbox(write_half, outbox);
        assert!(std::mem::size_of_val(&writer) < 512);
        let reader = handle_client(read_half, hub, id, tokio::spawn(writer));
        assert!(std::mem::size_of_val(&reader) < 1024);
    }
}
