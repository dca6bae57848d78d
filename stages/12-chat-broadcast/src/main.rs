//! # Stage 12: a chat server
//!
//! **What this stage adds over stage 4:** other people. Until now each
//! client talked to the server alone; here a line that one client sends
//! goes to all the others, under its nick. It is antirez's smallchat, done
//! right: a line is cut from whatever the reads bring, never taken to be
//! one read; it is at most 4096 bytes; and it is cleaned of anything that
//! could take over the terminals it is shown on (`line.rs`, the protocol,
//! in the library that stage 14's client shares). Each client has a
//! default nick, `userN`, and `/nick NAME` changes it (`nick.rs`). The
//! fanout (`chat.rs`) puts each line in every other client's outbox, and
//! each client's own writer task writes it (`outbox.rs`): nobody waits on
//! another client's socket. The accept loop, a task per client and
//! `config.rs` are stage 4's; the port is smallchat's, 7711.
//!
//! **Try it:**
//!
//! ```text
//! cargo run -p stage-12-chat-broadcast         # listens on 127.0.0.1:7711
//! nc 127.0.0.1 7711                            # in a second terminal
//! telnet 127.0.0.1 7711                        # in a third; then type:
//! /nick alice
//! hello, everyone
//! ```
//!
//! **Shortcuts it still takes** (each is marked `SHORTCUT(stage N)` where it
//! is taken, N being the stage that removes it):
//! - a client that stops reading is never dropped: its lines pile up in its
//!   outbox, and the server's memory with them; every idle client keeps a
//!   read buffer; the queue of connections waiting to be accepted is the
//!   system's default, 128 (stage 13);
//! - nobody is told who joins or leaves, and there is no history, `/who`,
//!   `/msg`, `/me`, `/help` or `/quit` (stage 14).

// First: the `log!` macro it defines is for the modules below it.
#[macro_use]
mod log;
mod chat;
mod config;
mod nick;
mod outbox;
mod shutdown;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use stage_12_chat_broadcast::line::{self, Line, LineReader};
use tokio::net::{TcpListener, TcpStream};

use crate::chat::Hub;
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
        result = serve(listener, Arc::new(Hub::default()), &shutdown) => return result,
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
        // Every task holds the chat: an `Arc` is a shared pointer, and
        // cloning it copies the pointer.
        let hub = Arc::clone(&hub);
        // The task owns its notice of the shutdown: when the task ends, the
        // notice is dropped, and the server knows.
        let mut notice = shutdown.notice();
        tokio::spawn(async move {
            match handle_client(socket, hub, &mut notice).await {
                Ok(()) => log!("{peer} left"),
                Err(error) => log!("{peer} dropped: {error}"),
            }
        });
    }
}
// ANCHOR_END: serve

// ANCHOR: handle_client
/// Joins the client to the chat, and acts on every line it sends until it
/// leaves. What the others say reaches it through its outbox, which a
/// second task writes: this one only reads, so a client that does not read
/// cannot stop us hearing what it says, or hearing it leave.
async fn handle_client(
    socket: TcpStream,
    hub: Arc<Hub>,
    notice: &mut Notice,
) -> std::io::Result<()> {
    let (mut read_half, write_half) = socket.into_split();
    let (id, outbox) = hub.join();
    let writer = tokio::spawn(outbox::write_outbox(write_half, outbox));
    let mut lines = LineReader::default();
    let result = loop {
        // Every whole line in the buffer first, then read more.
        while let Some(line) = lines.next_line() {
            match line {
                Line::Text(raw) => hub.handle_line(id, &line::clean(&raw)),
                Line::TooLong => hub.line_too_long(id),
            }
        }
        // More lines, or the shutdown (`biased`: lines that arrived before
        // it are read first).
        tokio::select! {
            biased;
            more = lines.read_from(&mut read_half) => match more {
                Ok(true) => {}
                // The client closed the connection.
                Ok(false) => break Ok(()),
                Err(error) => break Err(error),
            },
            () = notice.received() => {
                // Its last line, after what its outbox holds: its writer
                // writes them all and ends the connection. Waiting for it
                // keeps our notice until then (the grace period bounds it).
                hub.shut_down(id);
                let _ = writer.await;
                return Ok(());
            }
        }
    };
    // Leaving closes the client's outbox: its writer writes what is still
    // queued, and ends the connection.
    hub.leave(id);
    result
}
// ANCHOR_END: handle_client
