//! Stopping together: on SIGINT (Ctrl-C) or SIGTERM (`kill`, a service
//! manager), the server stops accepting, tells every client task to finish
//! what it is doing, waits for them (a short grace period at most), and
//! exits with status 0. A second signal exits at once.
//!
//! One `watch` channel does it all, as mini-redis's broadcast channel does:
//! each client task holds a [`Notice`], a receiver; the accept loop holds
//! the [`Shutdown`], the sender. Sending tells every task; the number of
//! receivers still alive is the number of clients still open; and the
//! sender's `closed()` is ready when the last of them is gone. (The chapter,
//! "Stopping together", says more.)

use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch;

/// How long the clients have, after the signal, to finish and close.
pub const GRACE: Duration = Duration::from_secs(2);

/// The signals that ask the server to stop.
pub struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    /// Starts listening for SIGINT and SIGTERM: from now on they no longer
    /// kill the process, they come out of [`Signals::next`].
    pub fn listen() -> std::io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Waits for the next signal, and names it.
    pub async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}

/// The server's end: tells every client to finish, and waits for them.
pub struct Shutdown {
    sender: watch::Sender<bool>,
}

/// A client task's end: says when the server is shutting down. Dropping it
/// tells the server this client is closed.
pub struct Notice {
    receiver: watch::Receiver<bool>,
}

impl Shutdown {
    pub fn new() -> Shutdown {
        // The first receiver is not a client's: drop it, so that the count
        // of receivers is the count of clients.
        let (sender, _) = watch::channel(false);
        Shutdown { sender }
    }

    /// A notice for a new client's task.
    pub fn notice(&self) -> Notice {
        Notice {
            receiver: self.sender.subscribe(),
        }
    }

    /// Tells every client to finish, and waits until all have closed, for
    /// [`GRACE`] at most; a second signal exits at once. Returns how many
    /// clients closed, and how many were still open when time ran out.
    pub async fn finish(self, signals: &mut Signals) -> (usize, usize) {
        let open = self.sender.receiver_count();
        self.sender.send_replace(true);
        tokio::select! {
            _ = tokio::time::timeout(GRACE, self.sender.closed()) => {}
            _ = signals.next() => std::process::exit(1),
        }
        let still_open = self.sender.receiver_count();
        (open - still_open, still_open)
    }
}

/// "1 client", "2 clients": for the last line a server logs.
pub fn clients(count: usize) -> String {
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} client{plural}")
}

impl Notice {
    /// Ready once the server is shutting down (at once if it already is).
    pub async fn received(&mut self) {
        // An error means the server is gone, which is a shutdown too.
        let _ = self.receiver.wait_for(|stopping| *stopping).await;
    }
}
