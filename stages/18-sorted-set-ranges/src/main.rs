//! # Stage 18: ranges by score, and updates that depend on the old score
//!
//! **What this stage adds over stage 17:** walking the skip list by
//! score. ZRANGE BYSCORE (with `(` exclusive bounds and `-inf`/`+inf`),
//! REV and LIMIT, ZRANGEBYSCORE, ZCOUNT and ZREMRANGEBYSCORE find where a
//! range of scores starts and ends by two searches down the levels, whose
//! spans give ranks (`count_below` in `skip_list.rs`); ZREVRANK and
//! ZREMRANGEBYRANK use the ranks as they are. ZADD's options NX, XX, GT,
//! LT, CH and INCR, and ZINCRBY, decide from a member's old score
//! (`command/sorted_sets.rs`).
//!
//! **Try it:**
//!
//! ```text
//! cargo run -p stage-18-sorted-set-ranges -- --port 6380
//! redis-cli -p 6380 ZADD history 1700000001 hello 1700000002 hi 1700000003 hey
//! redis-cli -p 6380 ZRANGE history '(1700000001' +inf BYSCORE  # hi hey
//! redis-cli -p 6380 ZCOUNT history -inf 1700000002             # (integer) 2
//! redis-cli -p 6380 ZADD history GT CH 1700000000 hello        # (integer) 0
//! ```
//!
//! The layers, one file each: `protocol` (bytes to commands), `command`
//! (arguments to a checked command, and running it), `db` (the key space
//! and its typed values), `hash_table` (the table under both), `glob`
//! (patterns), `pubsub` (who listens to what), `outbox` (what waits to be
//! written to a client), `reply` (replies to bytes), `connection` (the
//! socket and its buffers).
//!
//! **Shortcuts it still takes:** no BYLEX ranges (ZRANGE's BYLEX is a
//! syntax error here), ZRANGESTORE, ZREVRANGE, ZREVRANGEBYSCORE or
//! ZPOPMIN; ZREMRANGEBY* delete member by member; hexadecimal scores are
//! refused; no small-set `listpack`.

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
mod score;
mod shutdown;
mod skip_list;
mod sorted_set;
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
// One thread, as in Redis (and the chat since stage 13). A sorted-set
// command is a microsecond or two of work under the database's lock: with
// two worker threads, much of the time went to taking turns at that lock
// (chapter 17 has the figures). On one thread it is never contended.
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
        // Tokio runs thousands of them, here on one thread, switching at
        // each `.await` that has to wait. The task owns the socket (`move`),
        // so it can outlive this loop iteration. It owns its notice of the shutdown too: when
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
        // messages published meanwhile: after every other client ready to
        // run has had its turn, as Redis writes just before it waits for
        // events again. A benchmark's client, reading all its connections,
        // is then woken once for many replies, not once for each.
        tokio::task::yield_now().await;
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
