//! Lines: from whatever bytes the reads deliver to whole lines, and from a
//! line's bytes to text that is safe to show on anyone's terminal.
//!
//! TCP delivers a stream of bytes, not lines. One read may bring half a
//! line, or many lines, or the end of one and the start of the next
//! (smallchat assumes one read is one line, and a message typed fast, or
//! sent over a slow link, comes out cut in two). So bytes collect in a
//! buffer, and a line is taken off its front only when its `\n` has
//! arrived:
//!
//! ```text
//! read 1: | h e l l o \n w o |          -> "hello"; "wo" waits
//! read 2: | r l d \r \n |               -> "world" (the "\r" of "\r\n" dropped)
//! ```
//!
//! A line has a limit, [`MAX_LINE`] bytes. A client that sends more gets an
//! error, and the rest of its line is thrown away as it arrives, up to the
//! next `\n`: the buffer never holds more than one line's limit and one
//! read, however long a line that never ends.

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
}
// ANCHOR_END: line_reader

// ANCHOR: clean
/// A line's text as the server uses it: UTF-8 (invalid bytes become
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
/// - CSI: ESC `[`, then anything up to and including a final character
///   from U+0040 to U+007E (`ESC [ 3 1 m` sets red; `ESC [ 2 J` clears
///   the screen);
/// - OSC: ESC `]`, then anything up to BEL or ESC `\` (`ESC ] 0 ; title
///   BEL` sets the window's title; some terminals do far more with OSC);
/// - ESC followed by any other one character.
///
/// An escape sequence that the line ends inside of is dropped to the end
/// of the line.
pub fn strip_controls(text: &str) -> String {
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(char) = chars.next() {
        match char {
            '\x1b' => match chars.next() {
                Some('[') => {
                    for char in chars.by_ref() {
                        if ('\x40'..='\x7e').contains(&char) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(char) = chars.next() {
                        if char == '\x07' {
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
            },
            '\0'..='\x1f' | '\x7f' | '\u{80}'..='\u{9f}' => {}
            _ => clean.push(char),
        }
    }
    clean
}
// ANCHOR_END: clean

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `piece` bytes, and collects every line.
    fn lines_of(input: &[u8], piece: usize) -> Vec<Line> {
        let mut reader = LineReader::default();
        let mut lines = Vec::new();
        for chunk in input.chunks(piece.max(1)) {
            reader.buffer.extend_from_slice(chunk);
            while let Some(line) = reader.next_line() {
                lines.push(line);
            }
        }
        lines
    }

    fn text(line: &str) -> Line {
        Line::Text(Bytes::copy_from_slice(line.as_bytes()))
    }

    #[test]
    fn lines_split_at_every_byte_or_all_in_one_read() {
        let input = "hello\nwörld\r\n\r\n\nlast one\n".as_bytes();
        let expected = vec![
            text("hello"),
            text("wörld"),
            text(""),
            text(""),
            text("last one"),
        ];
        for piece in 1..=input.len() {
            assert_eq!(lines_of(input, piece), expected, "pieces of {piece}");
        }
    }

    #[test]
    fn every_split_of_a_two_line_input() {
        let input = b"one line\r\nand another\n";
        for cut in 0..=input.len() {
            let mut reader = LineReader::default();
            let mut lines = Vec::new();
            for piece in [&input[..cut], &input[cut..]] {
                reader.buffer.extend_from_slice(piece);
                while let Some(line) = reader.next_line() {
                    lines.push(line);
                }
            }
            assert_eq!(
                lines,
                vec![text("one line"), text("and another")],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn only_a_final_return_is_dropped() {
        // A "\r" elsewhere stays in the raw line (the stripping removes it).
        assert_eq!(lines_of(b"a\rb\r\r\n", 64), vec![text("a\rb\r")]);
    }

    #[test]
    fn no_line_until_its_newline() {
        assert_eq!(lines_of(b"no end yet", 3), vec![]);
    }

    #[test]
    fn the_limit_is_exact_and_does_not_count_the_line_end() {
        let longest = "x".repeat(MAX_LINE);
        for ending in ["\n", "\r\n"] {
            let input = format!("{longest}{ending}");
            for piece in [1, 7, 4096, 5000] {
                assert_eq!(lines_of(input.as_bytes(), piece), vec![text(&longest)]);
            }
        }
        let over = format!("{longest}y\nnext\n");
        for piece in [1, 7, 4096, 5000] {
            assert_eq!(
                lines_of(over.as_bytes(), piece),
                vec![Line::TooLong, text("next")],
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn a_long_line_is_reported_once_and_discarded_to_its_end() {
        let input = format!("before\n{}\r\nafter\n", "z".repeat(3 * MAX_LINE));
        for piece in [1, 100, 4097, 10_000] {
            assert_eq!(
                lines_of(input.as_bytes(), piece),
                vec![text("before"), Line::TooLong, text("after")],
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn a_line_that_never_ends_is_not_buffered() {
        let mut reader = LineReader::default();
        let chunk = vec![b'a'; 1000];
        let mut reports = 0;
        for _ in 0..10_000 {
            reader.buffer.extend_from_slice(&chunk);
            while let Some(line) = reader.next_line() {
                assert_eq!(line, Line::TooLong);
                reports += 1;
            }
            assert!(
                reader.buffer.len() <= MAX_LINE + 1,
                "{}",
                reader.buffer.len()
            );
        }
        // 10 MB of one line: one error, and at most a line's worth kept.
        assert_eq!(reports, 1);
        reader.buffer.extend_from_slice(b"end of it\nhi\n");
        assert_eq!(reader.next_line(), Some(text("hi")));
    }

    #[test]
    fn a_return_at_the_limit_waits_for_its_newline() {
        // 4096 bytes and a "\r": it may yet be a line of 4096 and "\r\n".
        let mut reader = LineReader::default();
        reader.buffer.extend_from_slice(&[b'x'; MAX_LINE]);
        reader.buffer.extend_from_slice(b"\r");
        assert_eq!(reader.next_line(), None);
        reader.buffer.extend_from_slice(b"\n");
        assert!(matches!(reader.next_line(), Some(Line::Text(line)) if line.len() == MAX_LINE));
        // But 4096 bytes and anything else is already too long.
        reader.buffer.extend_from_slice(&[b'x'; MAX_LINE]);
        reader.buffer.extend_from_slice(b"\rx");
        assert_eq!(reader.next_line(), Some(Line::TooLong));
    }

    #[test]
    fn invalid_utf8_becomes_the_replacement_character() {
        assert_eq!(clean(b"caf\xc3\xa9 \xff\xfe!"), "café \u{fffd}\u{fffd}!");
        // A C1 control sent as one raw byte is not UTF-8: it is replaced,
        // and U+FFFD is harmless.
        assert_eq!(clean(b"a\x9bb"), "a\u{fffd}b");
    }

    #[test]
    fn control_characters_are_stripped() {
        assert_eq!(strip_controls("a\tb\x00c\x07d\x7fe\r"), "abcde");
        assert_eq!(strip_controls("\x01\x02\x1f"), "");
        // C1 controls, as UTF-8 characters: U+0080, U+0085, U+009B, U+009F.
        assert_eq!(strip_controls("x\u{80}\u{85}y\u{9b}31mz\u{9f}"), "xy31mz");
        // Around the ranges: kept.
        assert_eq!(strip_controls(" ~\u{a0}\u{ff}é"), " ~\u{a0}\u{ff}é");
    }

    #[test]
    fn spaces_are_kept_as_typed() {
        assert_eq!(strip_controls("  two  spaces  "), "  two  spaces  ");
        assert_eq!(strip_controls("   "), "   ");
    }

    #[test]
    fn csi_sequences_are_stripped_whole() {
        assert_eq!(strip_controls("\x1b[31mred\x1b[0m"), "red");
        assert_eq!(strip_controls("\x1b[2J\x1b[Hhome"), "home");
        assert_eq!(strip_controls("a\x1b[?25lb"), "ab");
        // Parameters and intermediates of any kind, up to the final byte.
        assert_eq!(strip_controls("a\x1b[1;2 !@b"), "ab");
        // The final byte can be any of 0x40-0x7e: `~` ends this one.
        assert_eq!(strip_controls("\x1b[15~key"), "key");
        // Unfinished at the end of the line: dropped to the end.
        assert_eq!(strip_controls("text\x1b[12;3"), "text");
    }

    #[test]
    fn osc_sequences_are_stripped_whole() {
        assert_eq!(strip_controls("\x1b]0;evil title\x07hi"), "hi");
        assert_eq!(
            strip_controls("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"),
            "link"
        );
        // An ESC inside that does not start ESC `\` does not end it.
        assert_eq!(strip_controls("\x1b]0;a\x1bb\x07c"), "c");
        assert_eq!(strip_controls("x\x1b]0;never ends"), "x");
    }

    #[test]
    fn other_escapes_take_one_character() {
        assert_eq!(strip_controls("a\x1bcb"), "ab"); // ESC c: reset the terminal
        assert_eq!(strip_controls("a\x1b7b\x1b8"), "ab");
        assert_eq!(strip_controls("a\x1béb"), "ab");
        assert_eq!(strip_controls("\x1b\x1b[31mx"), "[31mx"); // ESC ESC, then text
        assert_eq!(strip_controls("end\x1b"), "end");
    }
}
