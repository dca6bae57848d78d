//! Requests on the wire: length-prefixed binary messages. The server reads
//! them (`Parser`), the client writes them (`encode_request`).
//!
//! Every number is big-endian (network byte order: the most significant
//! byte first), unsigned unless said otherwise.
//!
//! ```text
//! a request:  | length: u32 | count: u8 | len 1: u32 | string 1 | len 2: u32 | string 2 | ...
//!                           └──────────── length bytes: the rest of the message ────────────┘
//! ```
//!
//! The length prefix says where a message ends before a byte of it is
//! parsed: the server waits until that many bytes have arrived, then
//! parses the message as a whole, with every offset checked against its
//! end. No line to search for, no escaping, binary-safe by construction.

#[cfg(test)]
mod tests;

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

// ANCHOR: limits
/// The largest message, request or reply (32 MB). A length prefix over it
/// is refused before any of the message is read: a client cannot make the
/// server wait for, or allocate, more.
pub const MAX_MESSAGE: usize = 32 * 1024 * 1024;
/// The most strings a request holds: its count is one byte.
pub const MAX_STRINGS: usize = u8::MAX as usize;
// ANCHOR_END: limits

/// A message that cannot be trusted. The server answers with an ERR reply
/// (the framing still tells it where the message ended, or that it will
/// not read it), then closes the connection.
#[derive(Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// The length prefix is over [`MAX_MESSAGE`].
    TooLong(usize),
    /// A message of 0 bytes: not even a count.
    NoCount,
    /// A string's length runs past the end of the message.
    StringPastEnd { index: usize },
    /// The strings ended before the message did: the count is wrong.
    CountMismatch { count: usize, extra: usize },
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("Protocol error: ")?;
        match self {
            ProtocolError::TooLong(length) => {
                write!(
                    f,
                    "message of {length} bytes is over the limit of {MAX_MESSAGE}"
                )
            }
            ProtocolError::NoCount => f.write_str("empty message: no count of strings"),
            ProtocolError::StringPastEnd { index } => {
                write!(f, "string {} runs past the end of the message", index + 1)
            }
            ProtocolError::CountMismatch { count, extra } => write!(
                f,
                "{extra} bytes left after the strings the count announced ({count})"
            ),
        }
    }
}

// ANCHOR: parser
/// The request reader. It keeps no state between reads: the length prefix
/// makes "is the whole message here?" one comparison.
pub struct Parser;

impl Parser {
    /// Takes the next whole request off the front of `buffer`: `Ok(None)`
    /// while its bytes have not all arrived.
    pub fn next_command(
        &mut self,
        buffer: &mut BytesMut,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let Some(prefix) = buffer.first_chunk::<4>() else {
            return Ok(None);
        };
        let length = u32::from_be_bytes(*prefix) as usize;
        if length > MAX_MESSAGE {
            return Err(ProtocolError::TooLong(length));
        }
        // Wait for the whole message. Nothing is reserved for it: the
        // buffer grows only with bytes that actually arrive.
        if buffer.len() < 4 + length {
            return Ok(None);
        }
        buffer.advance(4);
        let message = buffer.split_to(length).freeze();
        parse_message(message).map(Some)
    }
}

/// Splits a whole message into its strings, checking every length against
/// the message's end.
fn parse_message(mut message: Bytes) -> Result<Vec<Bytes>, ProtocolError> {
    if message.is_empty() {
        return Err(ProtocolError::NoCount);
    }
    let count = usize::from(message.get_u8());
    // At most 255 strings: this capacity is bounded, not a client's claim.
    let mut strings = Vec::with_capacity(count);
    for index in 0..count {
        if message.len() < 4 {
            return Err(ProtocolError::StringPastEnd { index });
        }
        let length = message.get_u32() as usize;
        if message.len() < length {
            return Err(ProtocolError::StringPastEnd { index });
        }
        // `split_to` hands out the bytes without copying them.
        strings.push(message.split_to(length));
    }
    if !message.is_empty() {
        return Err(ProtocolError::CountMismatch {
            count,
            extra: message.len(),
        });
    }
    Ok(strings)
}
// ANCHOR_END: parser

/// A request's bytes, as the client builds them. At most [`MAX_STRINGS`]
/// strings: the caller checks (the count is one byte).
pub fn encode_request(strings: &[&[u8]]) -> Vec<u8> {
    let body: usize = 1 + strings.iter().map(|s| 4 + s.len()).sum::<usize>();
    let mut out = Vec::with_capacity(4 + body);
    out.extend_from_slice(&(body as u32).to_be_bytes());
    out.push(strings.len() as u8);
    for string in strings {
        out.extend_from_slice(&(string.len() as u32).to_be_bytes());
        out.extend_from_slice(string);
    }
    out
}

/// Numbers in commands (`set k v ex 100`) are still decimal text.
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
