//! Writing replies: typed values, each message length-prefixed.
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

use bytes::{BufMut, Bytes, BytesMut};

use crate::protocol::MAX_MESSAGE;

pub const TAG_NIL: u8 = 0;
pub const TAG_ERR: u8 = 1;
pub const TAG_STR: u8 = 2;
pub const TAG_INT: u8 = 3;
pub const TAG_ARR: u8 = 4;

/// One reply to one command. (The same kinds of value as stage 6's RESP
/// replies, so the commands did not change: only how they are written.)
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// A short, fixed status, such as OK: sent as a STR.
    Simple(&'static str),
    /// An error message, such as `ERR syntax error`.
    Error(Vec<u8>),
    Integer(i64),
    /// Any bytes: a STR.
    Bulk(Bytes),
    /// No value: NIL.
    Null,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(reply: Reply) -> Vec<u8> {
        let mut out = BytesMut::new();
        reply.write_to(&mut out);
        out.to_vec()
    }

    #[test]
    fn every_type_as_bytes() {
        assert_eq!(encode(Reply::Null), b"\x00\x00\x00\x01\x00");
        assert_eq!(
            encode(Reply::Simple("OK")),
            b"\x00\x00\x00\x07\x02\x00\x00\x00\x02OK"
        );
        assert_eq!(
            encode(Reply::error("no")),
            b"\x00\x00\x00\x0b\x01\x00\x00\x00\x06ERR no"
        );
        assert_eq!(
            encode(Reply::Integer(-2)),
            b"\x00\x00\x00\x09\x03\xff\xff\xff\xff\xff\xff\xff\xfe"
        );
        assert_eq!(
            encode(Reply::Array(vec![
                Reply::Bulk(Bytes::from_static(b"a")),
                Reply::Null
            ])),
            b"\x00\x00\x00\x0c\x04\x00\x00\x00\x02\x02\x00\x00\x00\x01a\x00"
        );
    }
}
