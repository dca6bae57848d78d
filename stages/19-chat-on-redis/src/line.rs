//! Lines: from whatever bytes the reads deliver to whole lines, and from a
//! line's bytes to text that is safe to show on anyone's terminal.
//!
//! A read returns what has arrived, not a line: half of one, or several,
//! or the end of one and the start of the next. So bytes collect in a
//! buffer, and a line is taken off its front once its `\n` has arrived:
//!
//! ```text
//! read 1: | h e l l o \n w o |          -> "hello"; "wo" waits
//! read 2: | r l d \r \n |               -> "world" (the "\r" of "\r\n" dropped)
//! ```
//!
//! A line over [`MAX_LINE`] bytes is refused, and the rest of it thrown
//! away as it arrives: the buffer never holds more than one line's limit
//! and one read, however long a line that never ends.

use bytes::{Bytes, BytesMut};
use tokio::net::tcp::OwnedReadHalf;

/// The longest line, in bytes, not counting its `\n` or `\r\n`.
pub const MAX_LINE: usize = 4096;

/// Room made in the buffer for each read.
const READ_CHUNK: usize = 8 * 1024;

/// What the front of the buffer held.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A whole line, without its `\n` or `\r\n`: raw bytes, not yet
    /// checked to be UTF-8 (see [`clean`]).
    Text(Bytes),
    /// A line over [`MAX_LINE`] bytes. Reported once per line, as soon as
    /// it is known; the rest of the line is discarded.
    TooLong,
}

// ANCHOR: line_reader
/// A client's bytes that are not yet a whole line.
#[derive(Default)]
pub struct LineReader {
    buffer: BytesMut,
    /// How much of `buffer` is known to hold no `\n`: each byte is searched
    /// once, not again at every read (a client sending one byte at a time
    /// would otherwise make us scan its line 4096 times).
    scanned: usize,
    /// Inside a line that was too long: throw bytes away up to its `\n`.
    discarding: bool,
}

impl LineReader {
    /// Takes the next whole line off the front of the buffer: `None` until
    /// its `\n` has arrived.
    pub fn next_line(&mut self) -> Option<Line> {
        loop {
            let newline = self.buffer[self.scanned..]
                .iter()
                .position(|&byte| byte == b'\n')
                .map(|offset| self.scanned + offset);
            let Some(end) = newline else {
                if self.discarding {
                    // Still in the long line: none of it is kept.
                    self.buffer.clear();
                    self.scanned = 0;
                    return None;
                }
                self.scanned = self.buffer.len();
                // A "\r" at the end may be the start of "\r\n", which is not
                // part of the line: don't count it yet.
                let ends_with_return = self.buffer.last() == Some(&b'\r');
                let length = self.buffer.len() - usize::from(ends_with_return);
                if length > MAX_LINE {
                    // Too long, whatever comes next: say so now, and stop
                    // keeping its bytes.
                    self.buffer.clear();
                    self.scanned = 0;
                    self.discarding = true;
                    return Some(Line::TooLong);
                }
                return None;
            };
            let mut line = self.buffer.split_to(end + 1);
            self.scanned = 0;
            if std::mem::take(&mut self.discarding) {
                // The end of a line already reported as too long.
                continue;
            }
            line.truncate(end);
            if line.last() == Some(&b'\r') {
                line.truncate(end - 1);
            }
            if line.len() > MAX_LINE {
                return Some(Line::TooLong);
            }
            return Some(Line::Text(line.freeze()));
        }
    }

    // ANCHOR: read_from
    /// Reads more bytes from the client. `false` when the client has closed
    /// the connection. (Bytes of an unfinished last line are dropped then:
    /// a line is a line only once its `\n` has arrived.)
    pub async fn read_from(&mut self, socket: &OwnedReadHalf) -> std::io::Result<bool> {
        loop {
            // An idle client holds no buffer: with 10,000 clients connected,
            // 8 KiB each kept while they wait would be 80 MB for nothing. So
            // free an empty buffer, wait until the socket has bytes for us,
            // and only then make room and read them.
            if self.buffer.is_empty() {
                self.buffer = BytesMut::new();
            }
            socket.readable().await?;
            self.buffer.reserve(READ_CHUNK);
            match socket.try_read_buf(&mut self.buffer) {
                Ok(0) => return Ok(false),
                Ok(_) => return Ok(true),
                // Readiness can be a false alarm: wait again.
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(error) => return Err(error),
            }
        }
    }
    // ANCHOR_END: read_from

    /// Reads what has arrived already, without waiting: `true` if it read
    /// anything. (An end or an error is left for `read_from` to meet.)
    pub fn read_ready(&mut self, socket: &OwnedReadHalf) -> bool {
        self.buffer.reserve(READ_CHUNK);
        matches!(socket.try_read_buf(&mut self.buffer), Ok(read) if read > 0)
    }
}
// ANCHOR_END: line_reader

// ANCHOR: clean
/// A line's text as the chat shows it: UTF-8 (invalid bytes become
/// U+FFFD), with its control characters stripped (see [`strip_controls`]).
pub fn clean(raw: &[u8]) -> String {
    strip_controls(&String::from_utf8_lossy(raw))
}

/// Removes what could take over the terminal of whoever reads this text:
/// control characters, and whole escape sequences, not just their ESC (a
/// "[2J" left behind would still be litter). Nothing else is changed.
///
/// - every character below U+0020 (tab included) and U+007F;
/// - the C1 controls, U+0080 to U+009F;
/// - CSI: ESC `[` or U+009B, then anything up to and including a final
///   character from U+0040 to U+007E (`ESC [ 2 J` clears the screen);
/// - OSC: ESC `]` or U+009D, then anything up to BEL, ESC `\` or U+009C
///   (`ESC ] 0 ; title BEL` sets the window's title);
/// - ESC followed by any other one character.
///
/// An escape sequence that the line ends inside of is dropped to the end
/// of the line.
pub fn strip_controls(text: &str) -> String {
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(char) = chars.next() {
        // U+009B and U+009D are one-character forms of ESC [ and ESC ]:
        // terminals that obey them read the parameters after them too.
        let introducer = match char {
            '\x1b' => chars.next(),
            '\u{9b}' => Some('['),
            '\u{9d}' => Some(']'),
            '\0'..='\x1f' | '\x7f' | '\u{80}'..='\u{9f}' => continue,
            _ => {
                clean.push(char);
                continue;
            }
        };
        match introducer {
            Some('[') => {
                for char in chars.by_ref() {
                    if ('\x40'..='\x7e').contains(&char) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(char) = chars.next() {
                    if char == '\x07' || char == '\u{9c}' {
                        break;
                    }
                    if char == '\x1b' && chars.as_str().starts_with('\\') {
                        chars.next();
                        break;
                    }
                }
            }
            // ESC and the one character after it (if any) are gone.
            _ => {}
        }
    }
    clean
}
// ANCHOR_END: clean

#[cfg(test)]
mod tests;
