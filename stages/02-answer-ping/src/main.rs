//! # Stage 2: answer PING
//!
//! **What this stage adds over stage 1:** a reply. When a client such as
//! `redis-cli` sends `PING` (the bytes `*1\r\n$4\r\nPING\r\n`), the server
//! answers `+PONG\r\n`, and the connection stays open for more.
//!
//! **Try it:**
//!
//! ```text
//! cargo run -p stage-02-answer-ping -- --port 6380
//! redis-cli -p 6380 PING   # in another terminal: prints PONG
//! ```
//!
//! **Shortcuts it still takes** (each is marked `SHORTCUT(stage N)` where it
//! is taken, N being the stage that removes it):
//! - it answers once per `read`, without looking at what arrived: two PINGs
//!   that arrive in one read get one PONG, and anything at all gets a PONG
//!   (stage 3);
//! - it serves one client at a time, its log waits when nobody reads it, and
//!   a signal kills it mid-client (stage 4).

mod config;

use std::time::Duration;

use anyhow::Result;
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

// ANCHOR: handle_client
/// Answers PONG to whatever the client sends, until it leaves.
async fn handle_client(mut socket: TcpStream) -> std::io::Result<()> {
    let mut buffer = [0u8; 4096];
    loop {
        // `read` waits for bytes; it returns 0 only when the client has
        // closed its side of the connection.
        let received = socket.read(&mut buffer).await?;
        if received == 0 {
            return Ok(());
        }
        // SHORTCUT(stage 3): one reply per read. We assume that one read
        // holds exactly one PING, and never look at the bytes. TCP keeps no
        // message boundaries: two PINGs can arrive in one read, and one PING
        // can arrive split over two.
        socket.write_all(b"+PONG\r\n").await?;
    }
}
// ANCHOR_END: handle_client
