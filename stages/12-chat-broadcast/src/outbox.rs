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
//! ```
//!
//! Each line is a `Bytes`: one line fanned out to 1,000 clients is 1,000
//! handles to one allocation, not 1,000 copies.

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// A new outbox: the sending end for the chat, the receiving end for the
/// client's writer task.
pub fn outbox() -> (Outbox, OutboxReceiver) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (Outbox { sender }, OutboxReceiver { receiver })
}

// ANCHOR: outbox
/// Where lines for one client are put. Putting a line never waits.
pub struct Outbox {
    // SHORTCUT(stage 13): unbounded. A client that stops reading holds up
    // nobody, but its lines pile up here without end, and so does the
    // server's memory.
    sender: mpsc::UnboundedSender<Bytes>,
}

impl Outbox {
    /// Queues `line` for the client. `clone` copies a handle, not the line.
    pub fn send(&self, line: &Bytes) {
        // It fails only when the writer task has ended, because the
        // connection broke: the client's reader sees that too, and leaves.
        let _ = self.sender.send(line.clone());
    }
}
// ANCHOR_END: outbox

/// The writer task's end of an outbox.
pub struct OutboxReceiver {
    receiver: mpsc::UnboundedReceiver<Bytes>,
}

#[cfg(test)]
impl OutboxReceiver {
    /// Everything queued so far, as text, taken as if written.
    pub fn take_text(&mut self) -> String {
        let mut text = Vec::new();
        while let Ok(line) = self.receiver.try_recv() {
            text.extend_from_slice(&line);
        }
        String::from_utf8(text).expect("the server sends UTF-8")
    }
}

// ANCHOR: write_outbox
/// The client's writer task: writes each line its outbox receives, in
/// order, until the client has left (its outbox is closed, and empty);
/// then ends the connection's sending side.
pub async fn write_outbox<W>(mut socket: W, mut outbox: OutboxReceiver) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    while let Some(line) = outbox.receiver.recv().await {
        // SHORTCUT(stage 13): a client that has left but does not read
        // keeps this task waiting here, with its socket, forever.
        socket.write_all(&line).await?;
    }
    socket.shutdown().await
}
// ANCHOR_END: write_outbox
