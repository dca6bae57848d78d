//! Writing replies: the RESP2 types the commands answer with, encoded
//! straight into the connection's write buffer.

#[cfg(test)]
mod tests;

use bytes::{BufMut, Bytes, BytesMut};

/// One reply to one command.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+OK\r\n`: a short, fixed status.
    Simple(&'static str),
    /// `-ERR ...\r\n`: the text after the `-`, e.g. `ERR syntax error`.
    /// Bytes, not a `String`: it may quote what a client sent.
    Error(Vec<u8>),
    /// `:42\r\n`
    Integer(i64),
    /// `$5\r\nhello\r\n`: any bytes.
    Bulk(Bytes),
    /// `$-1\r\n`: no value (RESP2's null).
    Null,
    /// `*2\r\n...`
    Array(Vec<Reply>),
    /// Nothing more: the command has queued its replies itself (SUBSCRIBE
    /// and UNSUBSCRIBE, in `pubsub.rs`).
    Queued,
}

impl Reply {
    /// `-ERR <message>`, the prefix every generic Redis error carries.
    pub fn error(message: impl std::fmt::Display) -> Reply {
        Reply::Error(format!("ERR {message}").into_bytes())
    }

    // ANCHOR: write_to
    /// Appends this reply's bytes to `out`.
    pub fn write_to(&self, out: &mut BytesMut) {
        match self {
            Reply::Simple(text) => {
                out.put_u8(b'+');
                out.put_slice(text.as_bytes());
                out.put_slice(b"\r\n");
            }
            Reply::Error(text) => {
                out.put_u8(b'-');
                // An error is one line: a newline inside would end it early
                // and leave the rest to be read as another reply. Redis
                // replaces them with spaces, and so do we.
                out.extend(
                    text.iter()
                        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
                );
                out.put_slice(b"\r\n");
            }
            Reply::Integer(n) => {
                out.put_u8(b':');
                put_decimal(out, *n);
                out.put_slice(b"\r\n");
            }
            Reply::Bulk(bytes) => {
                out.put_u8(b'$');
                put_decimal(out, bytes.len() as i64);
                out.put_slice(b"\r\n");
                out.put_slice(bytes);
                out.put_slice(b"\r\n");
            }
            Reply::Null => out.put_slice(b"$-1\r\n"),
            Reply::Array(items) => {
                out.put_u8(b'*');
                put_decimal(out, items.len() as i64);
                out.put_slice(b"\r\n");
                for item in items {
                    item.write_to(out);
                }
            }
            Reply::Queued => {}
        }
    }
    // ANCHOR_END: write_to
}

/// Writes `n` in decimal without going through `format!`, which would
/// allocate a `String` for every reply.
fn put_decimal(out: &mut BytesMut, n: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.put_u8(b'-');
    }
    out.put_slice(&digits[at..]);
}
