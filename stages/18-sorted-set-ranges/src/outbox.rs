//! A client's outbox: the bytes waiting to be written to it, which Redis
//! calls the client's output buffer. The client's own replies go there, and
//! so do the messages that publishers push to it, in the order they happen;
//! only the client's own task writes it to the socket, so a publisher never
//! waits for a subscriber.
//!
//! ```text
//!  publishers ──push──> | message | reply | message | ──take──> connection ──> socket
//!  the client's commands ──queue──┘    └─ unsent: at most HARD_LIMIT ─┘
//! ```
//!
//! A subscriber that does not read would make it grow without end, so
//! pushes obey Redis's `client-output-buffer-limit pubsub 32mb 8mb 60`: past
//! 32 MiB unsent, or past 8 MiB for 60 seconds on end, the client is cut
//! off: what waited for it is dropped, and its connection closes.

#[cfg(test)]
mod tests;

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::sync::Notify;

use crate::reply::Reply;

/// Past this many bytes unsent, a subscriber is cut off at once.
pub const HARD_LIMIT: usize = 32 * 1024 * 1024;
/// Past this many bytes unsent for [`SOFT_LIMIT_TIME`] on end, too.
pub const SOFT_LIMIT: usize = 8 * 1024 * 1024;
pub const SOFT_LIMIT_TIME: Duration = Duration::from_secs(60);

// ANCHOR: outbox
/// One client's output, shared by its connection and the publishers.
#[derive(Default)]
pub struct Outbox {
    state: Mutex<State>,
    /// Told when a push finds nothing waiting: the connection has bytes to
    /// write.
    ready: Notify,
    /// Told when the client is cut off.
    cut_off: Notify,
}

#[derive(Default)]
struct State {
    /// What waits to be written.
    waiting: BytesMut,
    /// What the connection has taken and is still writing: unsent too.
    writing: usize,
    /// Since when the unsent bytes have been over the soft limit.
    over_soft_limit_since: Option<Instant>,
    cut_off: bool,
}
// ANCHOR_END: outbox

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds one of the client's own replies. No limit: the connection
    /// writes them out past a high-water mark, before it reads more.
    pub fn queue(&self, reply: &Reply) {
        reply.write_to(&mut self.lock().waiting);
    }

    /// How many bytes wait to be written.
    pub fn queued(&self) -> usize {
        self.lock().waiting.len()
    }

    // ANCHOR: push
    /// Adds a message from a publisher, unless that takes the client over
    /// its limits: then it is cut off instead.
    pub fn push(&self, message: &[u8]) {
        let mut state = self.lock();
        if state.cut_off {
            return; // Its connection is closing, and will unsubscribe.
        }
        // Judged before the copy: a message that goes over is not copied.
        let unsent = state.waiting.len() + state.writing + message.len();
        let over_soft_limit = unsent > SOFT_LIMIT;
        let since =
            over_soft_limit.then(|| *state.over_soft_limit_since.get_or_insert_with(Instant::now));
        state.over_soft_limit_since = since;
        if unsent > HARD_LIMIT || since.is_some_and(|since| since.elapsed() >= SOFT_LIMIT_TIME) {
            state.cut_off = true;
            state.waiting = BytesMut::new();
            self.cut_off.notify_one();
            self.ready.notify_one();
        } else {
            if state.waiting.is_empty() {
                self.ready.notify_one();
            }
            state.waiting.extend_from_slice(message);
        }
    }
    // ANCHOR_END: push

    /// Swaps what waits into `batch`, which the connection has emptied, for
    /// the connection to write; an error once the client is cut off.
    pub fn take(&self, batch: &mut BytesMut) -> std::io::Result<()> {
        let mut state = self.lock();
        if state.cut_off {
            return Err(cut_off_error());
        }
        std::mem::swap(&mut state.waiting, batch);
        state.writing = batch.len();
        Ok(())
    }

    /// Returns when a publisher has pushed to an empty outbox (or cut the
    /// client off) since the connection last looked.
    pub async fn ready(&self) {
        self.ready.notified().await;
    }

    /// Returns when the client has been cut off.
    pub async fn cut_off(&self) {
        self.cut_off.notified().await;
    }
}

/// Why a connection ends when its client is cut off, in Redis's words.
pub fn cut_off_error() -> std::io::Error {
    std::io::Error::other("closed for overcoming of output buffer limits (pubsub 32mb 8mb 60)")
}
