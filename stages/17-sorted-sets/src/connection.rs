//! One client's connection: the socket, what has been read and not yet
//! parsed, and the replies not yet written.
//!
//! Replies are collected in a buffer and written once for every batch of
//! commands that arrived together: with pipelining, sixteen commands in one
//! read cost one write, not sixteen.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
    write_buffer: BytesMut,
}

impl Connection {
    pub fn new(stream: TcpStream) -> Connection {
        // Replies are sent in batches already: don't let Nagle's algorithm
        // hold the last one back waiting for an acknowledgement.
        let _ = stream.set_nodelay(true);
        Connection {
            stream,
            read_buffer: BytesMut::with_capacity(READ_CHUNK),
            parser: Parser::default(),
            write_buffer: BytesMut::with_capacity(READ_CHUNK),
        }
    }

    /// The next whole command already read, if any.
    pub fn next_command(&mut self) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        self.parser.next_command(&mut self.read_buffer)
    }

    /// Reads more bytes from the client. `false` when the client has closed
    /// the connection.
    pub async fn read_more(&mut self) -> std::io::Result<bool> {
        // Room for a read. Once the commands of the last batch are dropped,
        // this reuses the buffer's space instead of allocating.
        self.read_buffer.reserve(READ_CHUNK);
        Ok(self.stream.read_buf(&mut self.read_buffer).await? > 0)
    }

    /// Adds a reply to the ones waiting to be written.
    pub fn queue(&mut self, reply: &Reply) {
        reply.write_to(&mut self.write_buffer);
    }

    /// How many bytes of replies are waiting.
    pub fn queued(&self) -> usize {
        self.write_buffer.len()
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

    /// Writes every waiting reply, in one system call when the socket takes
    /// them all.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        if !self.write_buffer.is_empty() {
            self.stream.write_all(&self.write_buffer).await?;
            self.write_buffer.clear();
        }
        Ok(())
    }
    // ANCHOR_END: close
}
