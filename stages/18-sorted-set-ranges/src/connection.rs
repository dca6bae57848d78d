//! One client's connection: the socket, what has been read and not yet
//! parsed, and the replies not yet written.
//!
//! Replies are collected in the client's outbox (`outbox.rs`), with the
//! messages publishers push to it, and written once for every batch of
//! commands that arrived together, or of messages that piled up: with
//! pipelining, sixteen commands in one read cost one write, not sixteen.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::outbox::{Outbox, cut_off_error};
use crate::protocol::{Parser, ProtocolError};
use crate::reply::Reply;

/// Room made in the read buffer before each read.
const READ_CHUNK: usize = 16 * 1024;
/// Past this many bytes of replies, write them out before running more
/// commands, so that a long pipeline of large replies cannot pile up in
/// memory.
pub const WRITE_HIGH_WATER: usize = 64 * 1024;

pub struct Connection {
    stream: TcpStream,
    read_buffer: BytesMut,
    parser: Parser,
    /// Where replies and messages wait, shared with publishers.
    outbox: Arc<Outbox>,
    /// What is being written: the last batch taken from the outbox.
    write_buffer: BytesMut,
}

impl Connection {
    pub fn new(stream: TcpStream, outbox: Arc<Outbox>) -> Connection {
        // Replies are sent in batches already: don't let Nagle's algorithm
        // hold the last one back waiting for an acknowledgement.
        let _ = stream.set_nodelay(true);
        Connection {
            stream,
            read_buffer: BytesMut::with_capacity(READ_CHUNK),
            parser: Parser::default(),
            outbox,
            write_buffer: BytesMut::with_capacity(READ_CHUNK),
        }
    }

    /// The next whole command already read, if any.
    pub fn next_command(&mut self) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        self.parser.next_command(&mut self.read_buffer)
    }

    // ANCHOR: read_more
    /// Reads more bytes from the client, or returns early when a publisher
    /// has pushed a message to write. `false` when the client has closed
    /// the connection.
    pub async fn read_more(&mut self) -> std::io::Result<bool> {
        // Room for a read. Once the commands of the last batch are dropped,
        // this reuses the buffer's space instead of allocating.
        self.read_buffer.reserve(READ_CHUNK);
        // Whichever comes first. A read that loses the race has read
        // nothing: `read_buf` takes bytes only when it completes.
        tokio::select! {
            read = self.stream.read_buf(&mut self.read_buffer) => Ok(read? > 0),
            () = self.outbox.ready() => Ok(true),
        }
    }
    // ANCHOR_END: read_more

    /// Adds a reply to the ones waiting to be written.
    pub fn queue(&mut self, reply: &Reply) {
        self.outbox.queue(reply);
    }

    /// How many bytes of replies and messages are waiting.
    pub fn queued(&self) -> usize {
        self.outbox.queued()
    }

    // ANCHOR: close
    /// Writes the waiting replies, then closes the connection so that the
    /// client surely reads them.
    ///
    /// Closing a socket while the client's bytes sit unread in the kernel
    /// makes the kernel send a reset instead of a normal end of stream, and a
    /// reset can destroy the error reply before the client has read it. So:
    /// end our side (`shutdown`), then read and throw away what the client
    /// still sends, for a moment, before we let go of the socket.
    pub async fn close(mut self) -> std::io::Result<()> {
        self.flush().await?;
        self.stream.shutdown().await?;
        let drain = async {
            let mut sink = [0u8; 4096];
            let mut drained = 0;
            while drained < 1024 * 1024 {
                match self.stream.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(read) => drained += read,
                }
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), drain).await;
        Ok(())
    }

    // ANCHOR_END: close

    // ANCHOR: flush
    /// Writes everything waiting in the outbox, a batch at a time, each in
    /// one system call when the socket takes it all; until the outbox is
    /// empty, or the client is cut off (a client that does not read would
    /// keep us here until then).
    pub async fn flush(&mut self) -> std::io::Result<()> {
        loop {
            self.outbox.take(&mut self.write_buffer)?;
            if self.write_buffer.is_empty() {
                return Ok(());
            }
            tokio::select! {
                written = self.stream.write_all(&self.write_buffer) => written?,
                () = self.outbox.cut_off() => return Err(cut_off_error()),
            }
            self.write_buffer.clear();
            // A buffer that grew for a burst is let go, not kept while idle.
            if self.write_buffer.capacity() > 16 * READ_CHUNK {
                self.write_buffer = BytesMut::new();
            }
        }
    }
    // ANCHOR_END: flush
}
