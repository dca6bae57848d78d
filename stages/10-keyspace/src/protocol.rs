//! Reading commands off the wire: RESP arrays of bulk strings, what every
//! client library sends (and inline commands, `inline.rs`).
//!
//! The parser is incremental and resumable: it takes whole arguments off the
//! front of the buffer as soon as they are there, and remembers how many
//! more the current command needs and how far it has searched for a line
//! end. So a command may arrive split at any byte, many commands may arrive
//! in one read, and however slowly a large command trickles in, each read
//! costs work for its own bytes only (plus reading one argument's short
//! `$<length>` line again while that argument's data is still arriving).
//!
//! Three outcomes, kept apart: a whole command, "need more bytes"
//! (`Ok(None)`), and a broken stream (`Err(ProtocolError)`), after which the
//! connection cannot be trusted to be in step and is closed, as Redis does.

mod inline;
#[cfg(test)]
mod tests;

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

// ANCHOR: limits
// Redis's own limits (its defaults), and why each exists.

/// How much a client may send before a line end, in an inline command or
/// a `*`/`$` header: a peer that never sends `\n` cannot grow the buffer
/// without bound.
pub const MAX_INLINE_LENGTH: usize = 64 * 1024;
/// The most arguments one command may declare (Redis 6's limit; 7.0 allows
/// more). Declared is not allocated: this bounds how long a client can keep
/// a half-read command going.
pub const MAX_ARGUMENTS: i64 = 1024 * 1024;
/// The longest bulk string (`proto-max-bulk-len`, 512 MB): the most one
/// argument can make the server buffer.
pub const MAX_BULK_LENGTH: i64 = 512 * 1024 * 1024;
// ANCHOR_END: limits

/// A stream that is not RESP. The text is what Redis replies, after `ERR `.
#[derive(Debug, PartialEq, Eq)]
pub enum ProtocolError {
    InvalidMultibulkLength,
    InvalidBulkLength,
    ExpectedDollar(u8),
    /// The bytes after a bulk string's data were not `\r\n`: its length
    /// was wrong. (Redis skips those two bytes without looking; we check.)
    BulkNotTerminated,
    UnbalancedQuotes,
    TooBigInlineRequest,
    TooBigMultibulkCount,
    TooBigBulkCount,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("Protocol error: ")?;
        match self {
            ProtocolError::InvalidMultibulkLength => f.write_str("invalid multibulk length"),
            ProtocolError::InvalidBulkLength => f.write_str("invalid bulk length"),
            ProtocolError::ExpectedDollar(got) => {
                write!(f, "expected '$', got '{}'", got.escape_ascii())
            }
            ProtocolError::BulkNotTerminated => {
                f.write_str("expected '\\r\\n' after the bulk string data")
            }
            ProtocolError::UnbalancedQuotes => f.write_str("unbalanced quotes in request"),
            ProtocolError::TooBigInlineRequest => f.write_str("too big inline request"),
            ProtocolError::TooBigMultibulkCount => f.write_str("too big mbulk count string"),
            ProtocolError::TooBigBulkCount => f.write_str("too big bulk count string"),
        }
    }
}

impl ProtocolError {
    /// The error reply's text, after the `-`. Bytes, not a `String`: Redis
    /// quotes the byte it got instead of a `$` as it came (C's `%c`), and a
    /// byte of 0x80 or more is not UTF-8 on its own.
    pub fn reply_text(&self) -> Vec<u8> {
        match self {
            ProtocolError::ExpectedDollar(got) => [
                &b"ERR Protocol error: expected '$', got '"[..],
                &[*got],
                b"'",
            ]
            .concat(),
            _ => format!("ERR {self}").into_bytes(),
        }
    }
}

// ANCHOR: parser
/// Where the parser is between reads.
#[derive(Default)]
pub struct Parser {
    /// The command being read, when its array header has arrived but not
    /// all of its arguments.
    pending: Option<Pending>,
    /// How many bytes at the front of the buffer are known to hold no line
    /// end yet, so that a long line arriving in small pieces is searched
    /// once, not once per piece.
    searched: usize,
}

struct Pending {
    remaining: usize,
    args: Vec<Bytes>,
}

impl Parser {
    /// Takes the next whole command off the front of `buffer`: `Ok(None)`
    /// when more bytes are needed.
    pub fn next_command(
        &mut self,
        buffer: &mut BytesMut,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            let pending = match &mut self.pending {
                Some(pending) => pending,
                None => {
                    if buffer.is_empty() {
                        return Ok(None);
                    }
                    if buffer[0] != b'*' {
                        match inline::parse_inline(buffer, &mut self.searched)? {
                            None => return Ok(None),
                            // An empty line: nothing to do, as in Redis.
                            Some(args) if args.is_empty() => continue,
                            Some(args) => return Ok(Some(args)),
                        }
                    }
                    let Some((count, header_length)) = parse_header(
                        buffer,
                        &mut self.searched,
                        ProtocolError::TooBigMultibulkCount,
                    )?
                    else {
                        return Ok(None);
                    };
                    if count > MAX_ARGUMENTS {
                        return Err(ProtocolError::InvalidMultibulkLength);
                    }
                    buffer.advance(header_length);
                    if count <= 0 {
                        // `*0` and `*-1` are empty commands: Redis skips them.
                        continue;
                    }
                    // The count is a claim, not bytes: reserve room for a few
                    // arguments, and let the vector grow as they arrive.
                    let count = count as usize;
                    self.pending.insert(Pending {
                        remaining: count,
                        args: Vec::with_capacity(count.min(8)),
                    })
                }
            };
            while pending.remaining > 0 {
                match take_bulk(buffer, &mut self.searched)? {
                    Some(arg) => {
                        pending.args.push(arg);
                        pending.remaining -= 1;
                    }
                    None => return Ok(None),
                }
            }
            return Ok(self.pending.take().map(|pending| pending.args));
        }
    }
}

/// Takes one whole bulk string, `$<length>\r\n<bytes>\r\n`, off the front of
/// `buffer`, or returns `Ok(None)` and leaves the buffer as it was.
fn take_bulk(buffer: &mut BytesMut, searched: &mut usize) -> Result<Option<Bytes>, ProtocolError> {
    if buffer.is_empty() {
        return Ok(None);
    }
    let Some((length, header_length)) =
        parse_header(buffer, searched, ProtocolError::TooBigBulkCount)?
    else {
        return Ok(None);
    };
    if length > MAX_BULK_LENGTH {
        return Err(ProtocolError::InvalidBulkLength);
    }
    let Ok(length) = usize::try_from(length) else {
        return Err(ProtocolError::InvalidBulkLength);
    };
    // Wait until all of it is here. We never reserve `length` bytes up
    // front: the buffer grows only with bytes that actually arrive.
    if buffer.len() - header_length < length.saturating_add(2) {
        return Ok(None);
    }
    if &buffer[header_length + length..header_length + length + 2] != b"\r\n" {
        return Err(ProtocolError::BulkNotTerminated);
    }
    buffer.advance(header_length);
    // `split_to` hands out the bytes without copying them.
    let data = buffer.split_to(length).freeze();
    buffer.advance(2);
    Ok(Some(data))
}
// ANCHOR_END: parser

/// Reads the number in a `*<n>\r\n` or `$<n>\r\n` line at the front of the
/// buffer: `(n, length of the line)`, or `Ok(None)` while the line is not
/// all here. A line that never ends is cut off at [`MAX_INLINE_LENGTH`].
fn parse_header(
    buffer: &[u8],
    searched: &mut usize,
    too_big: ProtocolError,
) -> Result<Option<(i64, usize)>, ProtocolError> {
    let Some(end) = find_crlf(buffer, searched) else {
        if buffer.len() > MAX_INLINE_LENGTH {
            return Err(too_big);
        }
        return Ok(None);
    };
    let invalid = match buffer[0] {
        b'*' => ProtocolError::InvalidMultibulkLength,
        b'$' => ProtocolError::InvalidBulkLength,
        // Where an argument's `$` belongs. Redis looks once the line is
        // whole, and so do we, to answer what it answers.
        other => return Err(ProtocolError::ExpectedDollar(other)),
    };
    let number = parse_integer(&buffer[1..end]).ok_or(invalid)?;
    Ok(Some((number, end + 2)))
}

/// The offset of the first `\r\n`, searching only bytes not searched
/// before. Finding one resets `searched`: the caller takes the line off.
fn find_crlf(buffer: &[u8], searched: &mut usize) -> Option<usize> {
    // Back one byte: a `\r` at the end of the last search may now have its `\n`.
    let from = searched.saturating_sub(1).min(buffer.len());
    match buffer[from..]
        .windows(2)
        .position(|pair| pair == b"\r\n" || pair[0] == 0)
    {
        // A zero byte before the line end hides it, as in Redis, which
        // looks for it with C's `strchr`, stopped by a zero byte: the line
        // never ends, and runs into the limit. The next search finds the
        // zero byte again.
        Some(offset) if buffer[from + offset] == 0 => {
            *searched = from + offset + 1;
            None
        }
        Some(offset) => {
            *searched = 0;
            Some(from + offset)
        }
        None => {
            *searched = buffer.len();
            None
        }
    }
}

/// A decimal integer exactly as Redis reads one (`string2ll`): an optional
/// `-`, digits, no `+`, no spaces, no leading zeros, no overflow.
pub fn parse_integer(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    match digits {
        [] => return None,
        [b'0'] => return if negative { None } else { Some(0) },
        [b'0', ..] => return None,
        _ => {}
    }
    let mut value: i64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        let digit = i64::from(digit - b'0');
        // Accumulate as a negative number: i64::MIN has no positive twin.
        value = value.checked_mul(10)?.checked_sub(digit)?;
    }
    if negative {
        Some(value)
    } else {
        value.checked_neg()
    }
}
