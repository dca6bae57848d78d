//! # Stage 1: bind a port
//!
//! **What this stage adds:** the server itself. It listens on a TCP port,
//! accepts connections, and keeps each one open until the client leaves.
//! It does not answer anything yet: whatever a client sends is read and
//! thrown away.
//!
//! **Try it:**
//!
//! ```text
//! cargo run -p stage-01-bind-port -- --port 6380
//! nc 127.0.0.1 6380        # in another terminal: type anything, Ctrl-C to leave
//! ```
//!
//! **Shortcuts it still takes** (each is marked `SHORTCUT(stage N)` where it
//! is taken, N being the stage that removes it):
//! - it serves one client at a time: a second client waits until the first
//!   leaves; its log is a `println!` that waits when nobody reads it; a
//!   signal kills it mid-client (stage 4);
//! - it never replies (stage 2).

mod config;

use std::time::Duration;

use anyhow::Result;
use tokio::io::AsyncReadExt;
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
/// Reads and throws away whatever the client sends, until it leaves.
async fn handle_client(mut socket: TcpStream) -> std::io::Result<()> {
    let mut buffer = [0u8; 4096];
    loop {
        // `read` waits for bytes; it returns 0 only when the client has
        // closed its side of the connection.
        let received = socket.read(&mut buffer).await?;
        if received == 0 {
            return Ok(());
        }
        // SHORTCUT(stage 2): we never answer.
    }
}
// ANCHOR_END: handle_client
