//! Stage 11's length-prefixed binary protocol as the tester sees it: build
//! requests, and read replies strictly, naming what is wrong.
//!
//! Every number is big-endian. A request: `| length: u32 | count: u8 |`
//! then per string `| length: u32 | bytes |`. A reply: `| length: u32 |`
//! then one value: NIL `0`; ERR `1 | len: u32 | message`; STR
//! `2 | len: u32 | bytes`; INT `3 | i64`; ARR `4 | count: u32 | values`.

use crate::escape::escape_shortened;
use crate::frame::{Frame, Parsed};

/// The largest message either side may send: 32 MB.
pub const MAX_MESSAGE: usize = 32 * 1024 * 1024;

/// A reply's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Nil,
    Err(Vec<u8>),
    Str(Vec<u8>),
    Int(i64),
    Arr(Vec<Value>),
}

impl Value {
    pub fn str(bytes: impl AsRef<[u8]>) -> Value {
        Value::Str(bytes.as_ref().to_vec())
    }

    pub fn err(text: &str) -> Value {
        Value::Err(text.as_bytes().to_vec())
    }

    fn encode_value(&self, out: &mut Vec<u8>) {
        match self {
            Value::Nil => out.push(0),
            Value::Err(bytes) | Value::Str(bytes) => {
                out.push(if matches!(self, Value::Err(_)) { 1 } else { 2 });
                out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
                out.extend_from_slice(bytes);
            }
            Value::Int(n) => {
                out.push(3);
                out.extend_from_slice(&n.to_be_bytes());
            }
            Value::Arr(items) => {
                out.push(4);
                out.extend_from_slice(&(items.len() as u32).to_be_bytes());
                for item in items {
                    item.encode_value(out);
                }
            }
        }
    }
}

/// A request's bytes: the length prefix, the count, the strings.
pub fn request(strings: &[&[u8]]) -> Vec<u8> {
    let body: usize = 1 + strings.iter().map(|s| 4 + s.len()).sum::<usize>();
    let mut out = (body as u32).to_be_bytes().to_vec();
    out.push(strings.len() as u8);
    for string in strings {
        out.extend_from_slice(&(string.len() as u32).to_be_bytes());
        out.extend_from_slice(string);
    }
    out
}

impl Frame for Value {
    const PROTOCOL: &'static str = "binary protocol";

    fn parse(buffer: &[u8]) -> Parsed<Value> {
        let Some(prefix) = buffer.first_chunk::<4>() else {
            return Parsed::Incomplete;
        };
        let length = u32::from_be_bytes(*prefix) as usize;
        if length > MAX_MESSAGE {
            return Parsed::Invalid {
                at: 0,
                reason: format!("a reply of {length} bytes is over the 32 MB limit"),
            };
        }
        if length == 0 {
            return Parsed::Invalid {
                at: 0,
                reason: "a reply of 0 bytes has no value (NIL is one byte: its tag, 0)".to_string(),
            };
        }
        if buffer.len() < 4 + length {
            return Parsed::Incomplete;
        }
        let message = &buffer[4..4 + length];
        let mut position = 0;
        match decode(message, &mut position, 0) {
            Err((at, reason)) => Parsed::Invalid { at: 4 + at, reason },
            Ok(_) if position != length => Parsed::Invalid {
                at: 4 + position,
                reason: format!(
                    "the length prefix says {length} bytes, but the value ends after {position}"
                ),
            },
            Ok(value) => Parsed::Complete {
                value,
                length: 4 + length,
            },
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut value = Vec::new();
        self.encode_value(&mut value);
        let mut out = (value.len() as u32).to_be_bytes().to_vec();
        out.extend(value);
        out
    }

    fn kind(&self) -> &'static str {
        match self {
            Value::Nil => "NIL",
            Value::Err(_) => "ERR",
            Value::Str(_) => "STR",
            Value::Int(_) => "INT",
            Value::Arr(_) => "ARR",
        }
    }

    fn describe(&self) -> String {
        match self {
            Value::Nil => "NIL".to_string(),
            Value::Err(bytes) | Value::Str(bytes) => {
                format!("{} \"{}\"", self.kind(), escape_shortened(bytes, 40))
            }
            Value::Int(n) => format!("INT {n}"),
            Value::Arr(items) => format!("ARR of {} values", items.len()),
        }
    }

    fn mismatch_hint(_expected: &Value, got: &Value) -> Option<String> {
        match got {
            Value::Err(message) => Some(format!(
                "Your server answered with an ERR value: \"{}\".",
                escape_shortened(message, 60)
            )),
            _ => None,
        }
    }
}

type Invalid = (usize, String);

/// Reads one value at `*position` in a whole message.
fn decode(message: &[u8], position: &mut usize, depth: usize) -> Result<Value, Invalid> {
    if depth > 32 {
        return Err((*position, "arrays nested more than 32 deep".to_string()));
    }
    let tag = *take(message, position, 1, "a type tag")?
        .first()
        .unwrap_or(&0);
    let at = *position - 1;
    match tag {
        0 => Ok(Value::Nil),
        1 | 2 => {
            let length =
                u32::from_be_bytes(take_array(message, position, "a string length")?) as usize;
            let bytes = take(message, position, length, "the string's bytes")?.to_vec();
            Ok(if tag == 1 {
                Value::Err(bytes)
            } else {
                Value::Str(bytes)
            })
        }
        3 => Ok(Value::Int(i64::from_be_bytes(take_array(
            message,
            position,
            "an 8-byte integer",
        )?))),
        4 => {
            let count =
                u32::from_be_bytes(take_array(message, position, "an array count")?) as usize;
            // No `with_capacity(count)`: the count is only a claim.
            let mut items = Vec::new();
            for _ in 0..count {
                items.push(decode(message, position, depth + 1)?);
            }
            Ok(Value::Arr(items))
        }
        other => Err((
            at,
            format!("unknown type tag {other} (NIL 0, ERR 1, STR 2, INT 3, ARR 4)"),
        )),
    }
}

fn take<'a>(
    message: &'a [u8],
    position: &mut usize,
    n: usize,
    what: &str,
) -> Result<&'a [u8], Invalid> {
    let end = position.saturating_add(n);
    if end > message.len() {
        return Err((
            message.len(),
            format!("the message ends where {what} ({n} bytes) should be"),
        ));
    }
    let bytes = &message[*position..end];
    *position = end;
    Ok(bytes)
}

fn take_array<const N: usize>(
    message: &[u8],
    position: &mut usize,
    what: &str,
) -> Result<[u8; N], Invalid> {
    let bytes = take(message, position, N, what)?;
    let mut array = [0u8; N];
    array.copy_from_slice(bytes);
    Ok(array)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips() {
        for value in [
            Value::Nil,
            Value::err("ERR no"),
            Value::str("a\0b"),
            Value::Int(-2),
            Value::Arr(vec![Value::str("k"), Value::Nil, Value::Arr(vec![])]),
        ] {
            let bytes = value.encode();
            assert_eq!(
                Value::parse(&bytes),
                Parsed::Complete {
                    value: value.clone(),
                    length: bytes.len()
                }
            );
            for cut in 0..bytes.len() {
                assert_eq!(Value::parse(&bytes[..cut]), Parsed::Incomplete);
            }
        }
    }

    #[test]
    fn a_request_as_bytes() {
        assert_eq!(
            request(&[b"get", b"k"]),
            b"\0\0\0\x0d\x02\0\0\0\x03get\0\0\0\x01k"
        );
    }

    #[test]
    fn wrong_lengths_are_named() {
        // The prefix says 3 bytes, the STR inside needs 5 more.
        assert!(matches!(
            Value::parse(b"\0\0\0\x03\x02\0\0"),
            Parsed::Invalid { .. }
        ));
        // Prefix 6 for a 5-byte value.
        let Parsed::Invalid { reason, .. } = Value::parse(b"\0\0\0\x06\x02\0\0\0\0\0") else {
            panic!("must be invalid");
        };
        assert!(reason.contains("says 6 bytes"), "{reason}");
        assert!(matches!(
            Value::parse(b"\0\0\0\x01\x09"),
            Parsed::Invalid { at: 4, .. }
        ));
    }
}
