//! # Stage 3: answer many PINGs on one connection
//!
//! **What this stage adds over stage 2:** it reads what arrives. TCP is a
//! stream of bytes with no message boundaries: two PINGs can come in one
//! read, and one PING can come split over several reads. So the server keeps
//! the bytes it has received in a buffer, takes every whole PING off the
//! front of it, answers each (all the answers in one write), and keeps any
//! unfinished PING for the next read.
//!
//! **Try it:**
//!
//! ```text
//! cargo run -p stage-03-many-pings -- --port 6380
//! # in another terminal: three PINGs in one write get three PONGs
//! printf '*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nping\r\n' | nc -q1 127.0.0.1 6380
//! ```
//!
//! **Shortcuts it still takes** (each is marked `SHORTCUT(stage N)` where it
//! is taken, N being the stage that removes it):
//! - it understands PING only, and only as `redis-cli` sends it; anything
//!   else gets an error and the connection is closed, because without a real
//!   parser it cannot tell where an unknown command ends (stage 5);
//! - it serves one client at a time, its log waits when nobody reads it, and
//!   a signal kills it mid-client (stage 4).

mod config;

use std::time::Duration;

use anyhow::Result;
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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
    println!(
        "{} listening on {}",
        env!("CARGO_PKG_NAME"),
        listener.local_addr()?
    );
    serve(listener).await
}
// ANCHOR_END: main

// ANCHOR: serve
/// Accepts clients forever, one after another.
async fn serve(listener: TcpListener) -> Result<()> {
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
        // SHORTCUT(stage 4): a plain `println!`, which waits when nobody
        // reads stdout (a full pipe, a paused terminal), and nothing catches
        // Ctrl-C or SIGTERM: the signal kills the server mid-client.
        println!("{peer} connected");
        // SHORTCUT(stage 4): we wait for this client to leave before we
        // accept the next one, so a second client waits in the kernel's
        // queue of not-yet-accepted connections.
        match handle_client(socket).await {
            Ok(()) => println!("{peer} left"),
            Err(error) => println!("{peer} dropped: {error}"),
        }
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
/// the client leaves.
async fn handle_client(mut socket: TcpStream) -> std::io::Result<()> {
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
        // `read_buf` appends to the buffer, after any unfinished PING.
        if socket.read_buf(&mut buffer).await? == 0 {
            return Ok(());
        }
    }
}
// ANCHOR_END: handle_client
