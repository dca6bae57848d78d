//! Replies on the wire: typed values, each message length-prefixed. The
//! server writes them (`Reply`), the client reads them (`Value`).
//!
//! ```text
//! a reply:  | length: u32 | value |
//! a value:  | tag: u8 | payload |
//!   NIL  0  (no payload)
//!   ERR  1  | len: u32 | message |
//!   STR  2  | len: u32 | bytes |
//!   INT  3  | i64, big-endian two's complement |
//!   ARR  4  | count: u32 | value | value | ... |
//! ```
//!
//! Why a reply needs a type tag, when a request does not: a request is
//! always a list of strings, but a reply may be nothing (a missing key), a
//! number (DEL's count), an error, or a list. Without the tag the client
//! could not tell "the key holds the text 0" from "0 keys were deleted".

#[cfg(test)]
mod tests;

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::protocol::MAX_MESSAGE;

pub const TAG_NIL: u8 = 0;
pub const TAG_ERR: u8 = 1;
pub const TAG_STR: u8 = 2;
pub const TAG_INT: u8 = 3;
pub const TAG_ARR: u8 = 4;

/// One reply to one command. (The same kinds of value as stage 10's RESP
/// replies, so the commands did not change: only how they are written.)
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// A short, fixed status, such as OK: sent as a STR.
    Simple(&'static str),
    /// An error message, such as `ERR syntax error`: an ERR.
    /// Bytes, not a `String`: it may quote what a client sent.
    Error(Vec<u8>),
    /// An INT.
    Integer(i64),
    /// Any bytes: a STR.
    Bulk(Bytes),
    /// No value: NIL.
    Null,
    /// An ARR.
    Array(Vec<Reply>),
}

impl Reply {
    /// `ERR <message>`, the prefix every generic error carries.
    pub fn error(message: impl std::fmt::Display) -> Reply {
        Reply::Error(format!("ERR {message}").into_bytes())
    }

    // ANCHOR: write_to
    /// Appends this reply, as one length-prefixed message, to `out`.
    pub fn write_to(&self, out: &mut BytesMut) {
        let start = out.len();
        // The length is known only once the value is written: leave room
        // for it, then fill it in.
        out.put_u32(0);
        self.write_value(out);
        let length = out.len() - start - 4;
        if length > MAX_MESSAGE {
            // A reply the client would refuse (say, KEYS * over millions of
            // keys): say so instead.
            out.truncate(start);
            Reply::error(format!(
                "reply of {length} bytes is over the limit of {MAX_MESSAGE}"
            ))
            .write_to(out);
            return;
        }
        out[start..start + 4].copy_from_slice(&(length as u32).to_be_bytes());
    }

    fn write_value(&self, out: &mut BytesMut) {
        match self {
            Reply::Null => out.put_u8(TAG_NIL),
            Reply::Error(message) => {
                out.put_u8(TAG_ERR);
                out.put_u32(message.len() as u32);
                out.put_slice(message);
            }
            Reply::Simple(text) => {
                out.put_u8(TAG_STR);
                out.put_u32(text.len() as u32);
                out.put_slice(text.as_bytes());
            }
            Reply::Bulk(bytes) => {
                out.put_u8(TAG_STR);
                out.put_u32(bytes.len() as u32);
                out.put_slice(bytes);
            }
            Reply::Integer(n) => {
                out.put_u8(TAG_INT);
                out.put_i64(*n);
            }
            Reply::Array(items) => {
                out.put_u8(TAG_ARR);
                out.put_u32(items.len() as u32);
                for item in items {
                    item.write_value(out);
                }
            }
        }
    }
    // ANCHOR_END: write_to
}

// ANCHOR: decode
/// The most levels of arrays in a reply the client accepts. The server's
/// replies nest one level; hiredis, the reader under redis-cli, long
/// stopped at 8 too. The limit bounds the recursion, and how far the
/// client indents a printed line.
pub const MAX_DEPTH: usize = 8;

/// A reply as the client reads it. It borrows the message's bytes, and an
/// array's items are read one by one as they are walked: decoding
/// allocates nothing, whatever counts the server claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Nil,
    Error(&'a [u8]),
    Str(&'a [u8]),
    Int(i64),
    Array(Items<'a>),
}

/// An array's items, each decoded when the walk reaches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Items<'a> {
    left: u32,
    bytes: &'a [u8],
    depth: usize,
}

impl<'a> Iterator for Items<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Value<'a>> {
        self.left = self.left.checked_sub(1)?;
        // Every item was checked when the array was decoded, so this
        // cannot fail; if it did, the walk would end, not panic.
        read_value(&mut self.bytes, self.depth).ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl ExactSizeIterator for Items<'_> {}

/// A reply the client cannot trust.
#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The message ends in the middle of a value.
    Truncated,
    UnknownTag(u8),
    /// Arrays nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Bytes left after the value.
    LeftOver(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("the reply ends in the middle of a value"),
            DecodeError::UnknownTag(tag) => write!(f, "unknown type tag {tag}"),
            DecodeError::TooDeep => write!(f, "arrays nested more than {MAX_DEPTH} deep"),
            DecodeError::LeftOver(extra) => {
                write!(f, "{extra} bytes left over after the reply's value")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes a whole reply message (what follows its length prefix), and
/// checks all of it before anything is shown.
pub fn decode_reply(message: &[u8]) -> Result<Value<'_>, DecodeError> {
    let mut rest = message;
    let value = read_value(&mut rest, 0)?;
    if !rest.is_empty() {
        return Err(DecodeError::LeftOver(rest.len()));
    }
    Ok(value)
}

/// Reads one value off the front of `bytes`, nested arrays and all.
fn read_value<'a>(bytes: &mut &'a [u8], depth: usize) -> Result<Value<'a>, DecodeError> {
    let [tag] = take(bytes)?;
    Ok(match tag {
        TAG_NIL => Value::Nil,
        TAG_ERR => Value::Error(take_string(bytes)?),
        TAG_STR => Value::Str(take_string(bytes)?),
        TAG_INT => Value::Int(i64::from_be_bytes(take(bytes)?)),
        TAG_ARR if depth >= MAX_DEPTH => return Err(DecodeError::TooDeep),
        TAG_ARR => {
            let left = u32::from_be_bytes(take(bytes)?);
            // Walk the items to find where the array ends: a count larger
            // than the message runs out of bytes, having allocated nothing.
            let items = *bytes;
            for _ in 0..left {
                read_value(bytes, depth + 1)?;
            }
            Value::Array(Items {
                left,
                bytes: &items[..items.len() - bytes.len()],
                depth: depth + 1,
            })
        }
        other => return Err(DecodeError::UnknownTag(other)),
    })
}

/// The next `N` bytes, off the front of `bytes`.
fn take<const N: usize>(bytes: &mut &[u8]) -> Result<[u8; N], DecodeError> {
    let (taken, rest) = bytes
        .split_first_chunk::<N>()
        .ok_or(DecodeError::Truncated)?;
    *bytes = rest;
    Ok(*taken)
}

/// A `| len: u32 | bytes |` payload.
fn take_string<'a>(bytes: &mut &'a [u8]) -> Result<&'a [u8], DecodeError> {
    let length = u32::from_be_bytes(take(bytes)?) as usize;
    let (string, rest) = bytes
        .split_at_checked(length)
        .ok_or(DecodeError::Truncated)?;
    *bytes = rest;
    Ok(string)
}
// ANCHOR_END: decode
