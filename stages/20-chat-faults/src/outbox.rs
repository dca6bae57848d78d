//! A client's outbox: the lines waiting to be written to it, and the task
//! that writes them.
//!
//! Writing to a socket can wait: when the client does not read, its kernel
//! buffers fill, and a write waits until it reads again, perhaps forever.
//! Whoever writes to a client is at that client's mercy. So nobody does but
//! the client's own writer task; everyone else puts lines in its outbox,
//! which never waits.
//!
//! ```text
//!  fanout ──> | line | line | line | ──> writer task ──> socket ──> client
//!             └─ queued: bytes not yet written, at most MAX_QUEUED ─┘
//! ```
//!
//! The bound is in bytes, not lines, because what it protects is memory,
//! and a line is anything from 10 bytes to 4 KiB: beside an unbounded
//! channel, a count of the bytes put in and not yet written. A line that
//! would take it over [`MAX_QUEUED`] is refused, and the chat disconnects
//! that client (`chat.rs`): a client that stops reading costs at most
//! 256 KiB of our memory, and nobody's time.
//!
//! Each line is a `Bytes`: one line fanned out to 1,000 clients is 1,000
//! handles to one allocation, not 1,000 copies.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// The most bytes a client may have waiting for it (256 KiB): more than a
/// client that reads ever needs (64 of the longest lines, or thousands of
/// short ones), and small enough that 10,000 stuck clients would cost
/// 2.5 GB at worst, not the machine.
pub const MAX_QUEUED: usize = 256 * 1024;

/// The most the writer copies into one write.
const MAX_BATCH: usize = 64 * 1024;

/// A new outbox: the sending end for the chat, the receiving end for the
/// client's writer task.
pub fn outbox() -> (Outbox, OutboxReceiver) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let outbox = Outbox {
        sender,
        queued: Arc::clone(&queued),
    };
    (outbox, OutboxReceiver { receiver, queued })
}

// ANCHOR: outbox
/// Where lines for one client are put. Putting a line never waits.
pub struct Outbox {
    sender: mpsc::UnboundedSender<Bytes>,
    /// Bytes put in and not yet written: the writer task subtracts what it
    /// has written. An atomic, because the writer runs on its own.
    queued: Arc<AtomicUsize>,
}

impl Outbox {
    /// Queues `line` for the client. `false` when it would take the queue
    /// over [`MAX_QUEUED`]: the client is not reading, and the line is not
    /// queued.
    pub fn send(&self, line: &Bytes) -> bool {
        let waiting = self.queued.fetch_add(line.len(), Ordering::Relaxed);
        // A line goes into an empty queue whatever its size: the bound is on
        // what piles up behind a client.
        if waiting > 0 && waiting + line.len() > MAX_QUEUED {
            self.queued.fetch_sub(line.len(), Ordering::Relaxed);
            return false;
        }
        // `clone` copies a handle, not the line. It fails only when the
        // writer task has ended, because the connection broke: its reader
        // sees that too, and leaves.
        if self.sender.send(line.clone()).is_err() {
            self.queued.fetch_sub(line.len(), Ordering::Relaxed);
        }
        true
    }

    /// Bytes waiting to be written.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}
// ANCHOR_END: outbox

/// The writer task's end of an outbox.
pub struct OutboxReceiver {
    receiver: mpsc::UnboundedReceiver<Bytes>,
    queued: Arc<AtomicUsize>,
}

#[cfg(test)]
impl OutboxReceiver {
    /// Everything queued so far, as text, taken as if written.
    pub fn take_text(&mut self) -> String {
        let mut text = Vec::new();
        while let Ok(line) = self.receiver.try_recv() {
            self.queued.fetch_sub(line.len(), Ordering::Relaxed);
            text.extend_from_slice(&line);
        }
        String::from_utf8(text).expect("the server sends UTF-8")
    }

    /// Whether the client is still registered: its outbox has a sender.
    pub fn is_open(&self) -> bool {
        !self.receiver.is_closed()
    }
}

// ANCHOR: write_outbox
/// The client's writer task: writes what its outbox receives, in order,
/// until the client has left (its outbox is closed, and empty); then ends
/// the connection's sending side. Lines that have piled up are written
/// together, up to [`MAX_BATCH`] bytes in one system call; a single line
/// is written as it is, without a copy.
pub async fn write_outbox<W>(mut socket: W, mut outbox: OutboxReceiver) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    while let Some(first) = outbox.receiver.recv().await {
        let written = match outbox.receiver.try_recv() {
            Err(_) => {
                socket.write_all(&first).await?;
                first.len()
            }
            Ok(second) => {
                // A new buffer each time, dropped after the write: a client
                // that once had a burst does not keep 64 KiB while idle.
                let mut batch = Vec::with_capacity(MAX_BATCH);
                batch.extend_from_slice(&first);
                batch.extend_from_slice(&second);
                while batch.len() < MAX_BATCH {
                    match outbox.receiver.try_recv() {
                        Ok(line) => batch.extend_from_slice(&line),
                        Err(_) => break,
                    }
                }
                socket.write_all(&batch).await?;
                batch.len()
            }
        };
        outbox.queued.fetch_sub(written, Ordering::Relaxed);
    }
    socket.shutdown().await
}
// ANCHOR_END: write_outbox

#[cfg(test)]
mod tests;
