//! # Stage 8: Redis's exact edges
//!
//! **What this stage adds over stage 7:** the details a person at a
//! terminal, a client library or a hostile peer runs into, each in a place
//! of its own. Inline commands typed into telnet, split as Redis splits them
//! (`protocol/inline.rs`); Redis's limits on line lengths, argument counts
//! and bulk lengths, with its protocol errors; a close that lets the error
//! reply reach the client; the unknown-command error cut at 128 bytes as
//! Redis cuts it; the commands clients send when they connect
//! (`command/handshake.rs`); and QUIT.
//!
//! **Try it:**
//!
//! ```text
//! cargo run -p stage-08-errors-and-limits -- --port 6380
//! telnet 127.0.0.1 6380              # then type: SET greeting "hello world"
//! redis-cli -p 6380 CONFIG GET save  # 1) "save" 2) ""
//! redis-benchmark -p 6380 -t set,get -P 16 -q
//! ```
//!
//! The layers, one file each: `protocol` (bytes to commands), `command`
//! (arguments to a checked command, and running it), `db` (the key space),
//! `reply` (replies to bytes), `connection` (the socket and its buffers).
//!
//! **Shortcuts it still takes** (each is marked `SHORTCUT(stage N)` where it
//! is taken, N being the stage that removes it):
//! - the key space is std's `HashMap`, and expiry keeps an ordered set of
//!   deadlines instead of sampling keys as Redis does (stage 9).

// First: the `log!` macro it defines is for the modules below it.
#[macro_use]
mod log;
mod command;
mod config;
mod connection;
mod db;
mod protocol;
mod reply;
mod shutdown;
#[cfg(test)]
mod tests;

use std::time::Duration;

use anyhow::Result;
use tokio::net::{TcpListener, TcpStream};

use crate::command::{Command, Session};
use crate::connection::{Connection, WRITE_HIGH_WATER};
use crate::db::Db;
use crate::reply::Reply;
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
    let db = Db::default();
    tokio::spawn(db::purge_expired_keys(db.clone()));
    let shutdown = Shutdown::new();
    // The accept loop runs until a signal comes. Leaving the `select!`
    // drops it, and the listener with it: no client is accepted after.
    let signal = tokio::select! {
        result = serve(listener, db, &shutdown) => return result,
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
async fn serve(listener: TcpListener, db: Db, shutdown: &Shutdown) -> Result<()> {
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
        let db = db.clone();
        tokio::spawn(async move {
            match handle_client(socket, db, &mut notice).await {
                Ok(()) => log!("{peer} left"),
                Err(error) => log!("{peer} dropped: {error}"),
            }
        });
    }
}
// ANCHOR_END: serve

// ANCHOR: handle_client
/// Runs every command the client sends, until it leaves, sends QUIT, or
/// breaks the protocol.
async fn handle_client(socket: TcpStream, db: Db, notice: &mut Notice) -> std::io::Result<()> {
    let mut connection = Connection::new(socket);
    let mut session = Session::default();
    loop {
        // Run every whole command already read; their replies collect in
        // the write buffer.
        loop {
            let args = match connection.next_command() {
                Ok(Some(args)) => args,
                Ok(None) => break,
                Err(error) => {
                    // The stream is out of step: we cannot know where the
                    // next command starts. Say why, and close, as Redis does.
                    connection.queue(&Reply::Error(error.reply_text()));
                    connection.close().await?;
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        error.to_string(),
                    ));
                }
            };
            let command = Command::parse(args);
            let quit = matches!(command, Ok(Command::Quit));
            let reply = match command {
                Ok(command) => command.execute(&db, &mut session),
                // A bad command gets its error; the connection goes on.
                Err(error) => error,
            };
            connection.queue(&reply);
            if quit {
                connection.close().await?;
                return Ok(());
            }
            if connection.queued() > WRITE_HIGH_WATER {
                connection.flush().await?;
            }
        }
        // One write for all the replies this read made possible.
        connection.flush().await?;
        // Wait for more bytes, or for the shutdown: it ends the connection
        // here, between batches, after the replies to what was read are
        // written. `biased` tries the read first, so a command that arrived
        // before the signal is answered.
        tokio::select! {
            biased;
            more = connection.read_more() => {
                if !more? {
                    return Ok(());
                }
            }
            () = notice.received() => return Ok(()),
        }
    }
}
// ANCHOR_END: handle_client
