//! A client's outbox: the lines waiting to be written to it, and the task
//! that writes them.
//!
//! Writing to a socket can wait: when the client does not read, its kernel
//! buffers fill, and a write waits until it reads again, perhaps forever.
//! Whoever waits on a client is at that client's mercy. So nobody does but
//! the client's own writer task; everyone else puts lines in its outbox,
//! which never waits.
//!
//! ```text
//!  fanout ──> gathered ──flush──> try_write_vectored ─────────> socket ──> client
//!                           └──> | batch | batch | ──> writer task ──┘
//!                                └─ queued: at most MAX_QUEUED ─┘
//! ```
//!
//! The lines fanned out from one read are gathered per client, and flushed
//! together: straight to the socket with `try_write_vectored`, one write
//! that never waits, when nothing is queued before them; what the socket does not
//! take at once is queued for the writer task, which waits for room.
//!
//! The bound is in bytes, not lines, because what it protects is memory,
//! and a line is anything from 10 bytes to 4 KiB: beside an unbounded
//! channel, a count of the bytes put in and not yet written. A line that
//! would take what waits over [`MAX_QUEUED`] is refused, and the chat
//! disconnects that client (`chat.rs`): a client that stops reading costs
//! at most 256 KiB of our memory, and nobody's time.

use std::io::IoSlice;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

/// The most bytes a client may have waiting for it (256 KiB): more than a
/// client that reads ever needs (64 of the longest lines, or thousands of
/// short ones), and small enough that 10,000 stuck clients would cost
/// 2.5 GB at worst, not the machine.
pub const MAX_QUEUED: usize = 256 * 1024;

/// The most the writer copies into one write.
const MAX_BATCH: usize = 64 * 1024;

/// The most lines a flush writes with one system call (the rest queue).
const MAX_SLICES: usize = 64;

/// A new outbox: the sending end for the chat, the receiving end for the
/// client's writer task.
pub fn outbox() -> (Outbox, OutboxReceiver) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let outbox = Outbox {
        sender,
        queued: Arc::clone(&queued),
        gathered: Vec::new(),
        gathered_bytes: 0,
        socket: None,
    };
    (outbox, OutboxReceiver { receiver, queued })
}

// ANCHOR: outbox
/// Where lines for one client are put. Putting a line never waits.
pub struct Outbox {
    sender: mpsc::UnboundedSender<Bytes>,
    /// Bytes in the queue or being written by the writer task, which
    /// subtracts what it has written. An atomic, because the writer runs on
    /// its own.
    queued: Arc<AtomicUsize>,
    /// Lines given since the last flush: handles, not copies.
    gathered: Vec<Bytes>,
    gathered_bytes: usize,
    /// The client's socket, once its tasks run (never, in unit tests: then
    /// everything goes through the queue).
    socket: Option<Arc<OwnedWriteHalf>>,
}

impl Outbox {
    /// Takes `line` for the client: with `gather`, kept for the next
    /// flush; without, queued for the writer task at once. `false` when it
    /// would take what waits for the client over [`MAX_QUEUED`]: the
    /// client is not reading, and the line is not taken.
    pub fn send(&mut self, line: &Bytes, gather: bool) -> bool {
        let waiting = self.queued();
        // A line goes into an empty outbox whatever its size: the bound is
        // on what piles up behind a client.
        if waiting > 0 && waiting + line.len() > MAX_QUEUED {
            return false;
        }
        // `clone` copies a handle, not the line.
        if gather {
            self.gathered.push(line.clone());
            self.gathered_bytes += line.len();
        } else {
            self.queue(line.clone());
        }
        true
    }

    /// Writes what was gathered straight to the socket, all in one system
    /// call, if nothing is queued before it; queues the rest, or all of it,
    /// for the writer task.
    pub fn flush(&mut self) {
        // Taken whole, so that an idle client keeps no buffer.
        let lines = std::mem::take(&mut self.gathered);
        self.gathered_bytes = 0;
        let mut written = 0;
        if let Some(socket) = &self.socket {
            // Anything queued, or being written, goes first.
            if self.queued.load(Ordering::Acquire) == 0 && !lines.is_empty() {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                for (slice, line) in slices.iter_mut().zip(&lines) {
                    *slice = IoSlice::new(line);
                }
                let count = lines.len().min(MAX_SLICES);
                match socket.try_write_vectored(&slices[..count]) {
                    Ok(bytes) => written = bytes,
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                    // The connection broke: its reader sees that too, and
                    // leaves.
                    Err(_) => return,
                }
            }
        }
        for line in lines {
            if written >= line.len() {
                written -= line.len();
                continue;
            }
            // What the socket did not take, in order.
            self.queue(line.slice(written..));
            written = 0;
        }
    }

    /// Puts `line` in the queue for the writer task, and counts it.
    fn queue(&self, line: Bytes) {
        self.queued.fetch_add(line.len(), Ordering::AcqRel);
        // It fails only when the writer task has ended, because the
        // connection broke.
        if let Err(unsent) = self.sender.send(line) {
            self.queued.fetch_sub(unsent.0.len(), Ordering::AcqRel);
        }
    }

    /// From now on, a flush may write to `socket` itself.
    pub fn attach(&mut self, socket: Arc<OwnedWriteHalf>) {
        self.socket = Some(socket);
    }

    /// Bytes waiting to be written: gathered or queued.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire) + self.gathered_bytes
    }

    /// Whether nothing was gathered since the last flush.
    pub fn is_flushed(&self) -> bool {
        self.gathered.is_empty()
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
            self.queued.fetch_sub(line.len(), Ordering::AcqRel);
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
/// the connection's sending side (dropping the last handle on `socket`
/// does). Batches that have piled up are written together, up to
/// [`MAX_BATCH`] bytes in one system call; a single one is written as it
/// is, without a copy.
pub async fn write_outbox(
    socket: Arc<OwnedWriteHalf>,
    mut outbox: OutboxReceiver,
) -> std::io::Result<()> {
    while let Some(first) = outbox.receiver.recv().await {
        let written = match outbox.receiver.try_recv() {
            Err(_) => {
                write_all(&socket, &first).await?;
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
                write_all(&socket, &batch).await?;
                batch.len()
            }
        };
        outbox.queued.fetch_sub(written, Ordering::AcqRel);
    }
    Ok(())
}

/// Writes all of `bytes`, waiting while the socket has no room.
async fn write_all(socket: &OwnedWriteHalf, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        socket.writable().await?;
        match socket.try_write(bytes) {
            Ok(written) => bytes = &bytes[written..],
            // Readiness can be a false alarm: wait again.
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
// ANCHOR_END: write_outbox

#[cfg(test)]
mod tests;
