//! # Stage 16: sets, and values with a type
//!
//! **What this stage adds over stage 15:** a key holds a value of a type,
//! a string or a set (`db.rs`'s `Value`), and each command works on its
//! type: SADD, SREM, SMEMBERS, SISMEMBER and SCARD on sets, GET on strings,
//! `-WRONGTYPE` for a key of the other type; TYPE names it. A set is the
//! stage 9 hash table again, with members as keys. DEL, EXISTS, KEYS,
//! expiry and FLUSHALL work on keys of every type, and a set left empty is
//! deleted.
//!
//! **Try it:**
//!
//! ```text
//! cargo run -p stage-16-sets -- --port 6380
//! redis-cli -p 6380 SADD online alice bob      # (integer) 2
//! redis-cli -p 6380 SMEMBERS online            # 1) "bob" 2) "alice"
//! redis-cli -p 6380 GET online                 # (error) WRONGTYPE ...
//! redis-cli -p 6380 TYPE online                # set
//! ```
//!
//! The layers, one file each: `protocol` (bytes to commands), `command`
//! (arguments to a checked command, and running it), `db` (the key space
//! and its typed values), `hash_table` (the table under both), `glob`
//! (patterns), `pubsub` (who listens to what), `outbox` (what waits to be
//! written to a client), `reply` (replies to bytes), `connection` (the
//! socket and its buffers).
//!
//! **Shortcuts it still takes:** none of its own. Redis keeps a small set
//! of integers as a sorted array (an `intset`) and converts it to a hash
//! table when it grows; here every set is a hash table from its first
//! member, so SMEMBERS lists small integer sets in the table's order, not
//! sorted.

// First: the `log!` macro it defines is for the modules below it.
#[macro_use]
mod log;
mod command;
mod config;
mod connection;
mod db;
mod glob;
mod hash_table;
mod outbox;
mod protocol;
mod pubsub;
mod random;
mod reply;
mod shutdown;
mod stored_bytes;
#[cfg(test)]
mod tests;

use std::time::Duration;

use anyhow::Result;
use tokio::net::{TcpListener, TcpStream};

use crate::command::{Command, Session};
use crate::connection::{Connection, WRITE_HIGH_WATER};
use crate::db::Db;
use crate::pubsub::PubSub;
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
    tokio::spawn(db::cron(db.clone()));
    let shutdown = Shutdown::new();
    // The accept loop runs until a signal comes. Leaving the `select!`
    // drops it, and the listener with it: no client is accepted after.
    let signal = tokio::select! {
        result = serve(listener, db, PubSub::default(), &shutdown) => return result,
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
async fn serve(listener: TcpListener, db: Db, pubsub: PubSub, shutdown: &Shutdown) -> Result<()> {
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
        let (db, pubsub) = (db.clone(), pubsub.clone());
        tokio::spawn(async move {
            match handle_client(socket, db, pubsub, &mut notice).await {
                Ok(()) => log!("{peer} left"),
                Err(error) => log!("{peer} dropped: {error}"),
            }
        });
    }
}
// ANCHOR_END: serve

// ANCHOR: handle_client
/// Runs every command the client sends, and writes the messages published
/// to it, until it leaves, sends QUIT, breaks the protocol, or is cut off.
async fn handle_client(
    socket: TcpStream,
    db: Db,
    pubsub: PubSub,
    notice: &mut Notice,
) -> std::io::Result<()> {
    // Its side of Pub/Sub: dropped when this function returns, however it
    // returns, which unsubscribes it from everything.
    let mut client = pubsub.client();
    let mut session = Session::default();
    let mut connection = Connection::new(socket, client.outbox());
    loop {
        // Run every whole command already read; their replies collect in
        // the outbox.
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
            let command = if client.is_subscribed() {
                Command::parse_subscribed(args)
            } else {
                Command::parse(args)
            };
            let quit = matches!(command, Ok(Command::Quit));
            let reply = match command {
                Ok(command) => command.execute(&db, &mut session, &mut client),
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
        // One write for all the replies this read made possible, and the
        // messages published meanwhile.
        connection.flush().await?;
        // More commands, or more messages.
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
