//! RESP as the tester sees it: a reader for one reply at a time, strict
//! about every byte, and words for what arrived ("bulk string "PONG"").
//!
//! This is deliberately not the course's server-side parser (stage 5 teaches
//! that): it reads replies, it accepts only what Redis itself would send,
//! and when it rejects something it says which byte and why.

use crate::escape::{escape, escape_shortened};

/// One RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+OK\r\n`
    Simple(Vec<u8>),
    /// `-ERR message\r\n`
    Error(Vec<u8>),
    /// `:42\r\n`
    Integer(i64),
    /// `$5\r\nhello\r\n`
    Bulk(Vec<u8>),
    /// `$-1\r\n`
    NullBulk,
    /// `*2\r\n...`
    Array(Vec<Reply>),
    /// `*-1\r\n`
    NullArray,
}

impl Reply {
    pub fn simple(text: &str) -> Reply {
        Reply::Simple(text.as_bytes().to_vec())
    }

    pub fn bulk(bytes: impl AsRef<[u8]>) -> Reply {
        Reply::Bulk(bytes.as_ref().to_vec())
    }

    pub fn error(text: &str) -> Reply {
        Reply::Error(text.as_bytes().to_vec())
    }

    /// The exact bytes of this reply on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(text) => line(out, b'+', text),
            Reply::Error(text) => line(out, b'-', text),
            Reply::Integer(n) => line(out, b':', n.to_string().as_bytes()),
            Reply::Bulk(bytes) => {
                line(out, b'$', bytes.len().to_string().as_bytes());
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
            Reply::NullBulk => out.extend_from_slice(b"$-1\r\n"),
            Reply::Array(items) => {
                line(out, b'*', items.len().to_string().as_bytes());
                for item in items {
                    item.encode_into(out);
                }
            }
            Reply::NullArray => out.extend_from_slice(b"*-1\r\n"),
        }
    }

    /// The kind of reply in words, without its value: "simple string".
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Simple(_) => "simple string",
            Reply::Error(_) => "error",
            Reply::Integer(_) => "integer",
            Reply::Bulk(_) => "bulk string",
            Reply::NullBulk => "null bulk string",
            Reply::Array(_) => "array",
            Reply::NullArray => "null array",
        }
    }

    /// The reply in words: `simple string "PONG"`, `integer 3`.
    pub fn describe(&self) -> String {
        match self {
            // An error is a sentence the learner must read whole to compare
            // (Redis's are under 200 bytes but for a quoted argument); a
            // bulk string is data, and may be a megabyte.
            Reply::Simple(text) | Reply::Error(text) => {
                format!("{} \"{}\"", self.kind(), escape_shortened(text, 100))
            }
            Reply::Bulk(text) => format!("{} \"{}\"", self.kind(), escape_shortened(text, 40)),
            Reply::Integer(n) => format!("integer {n}"),
            Reply::NullBulk => "null bulk string ($-1)".to_string(),
            Reply::NullArray => "null array (*-1)".to_string(),
            Reply::Array(items) => format!(
                "array of {} element{}",
                items.len(),
                if items.len() == 1 { "" } else { "s" }
            ),
        }
    }
}

impl Frame for Reply {
    const PROTOCOL: &'static str = "RESP";

    fn parse(buffer: &[u8]) -> Parsed<Reply> {
        parse(buffer)
    }

    fn encode(&self) -> Vec<u8> {
        Reply::encode(self)
    }

    fn kind(&self) -> &'static str {
        Reply::kind(self)
    }

    fn describe(&self) -> String {
        Reply::describe(self)
    }

    fn mismatch_hint(expected: &Reply, got: &Reply) -> Option<String> {
        match (expected, got) {
            (Reply::Simple(_), Reply::Bulk(_)) => Some(
                "A simple string is one line, `+PONG\\r\\n`; a bulk string has a length first, \
                 `$4\\r\\nPONG\\r\\n`. This reply must be a simple string."
                    .to_string(),
            ),
            (Reply::Bulk(_), Reply::Simple(_)) => Some(
                "This reply must be a bulk string, `$<length>\\r\\n<bytes>\\r\\n`, not a simple \
                 string."
                    .to_string(),
            ),
            (_, Reply::Error(message)) => Some(format!(
                "Your server answered with an error: \"{}\".",
                escape(message)
            )),
            _ => None,
        }
    }
}

fn line(out: &mut Vec<u8>, kind: u8, body: &[u8]) {
    out.push(kind);
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
}

/// A request as `redis-cli` sends it: an array of bulk strings.
pub fn command(args: &[&[u8]]) -> Vec<u8> {
    Reply::Array(args.iter().map(Reply::bulk).collect()).encode()
}

use crate::frame::Frame;
pub use crate::frame::Parsed;

/// How deep arrays may nest before the tester gives up on a reply.
const MAX_DEPTH: usize = 32;

/// Reads one reply from the front of `buffer`.
pub fn parse(buffer: &[u8]) -> Parsed<Reply> {
    match parse_at(buffer, 0, 0) {
        Ok(Some((reply, end))) => Parsed::Complete {
            value: reply,
            length: end,
        },
        Ok(None) => Parsed::Incomplete,
        Err((at, reason)) => Parsed::Invalid { at, reason },
    }
}

/// A parse error: the offset of the bad byte, and why it is bad.
type Invalid = (usize, String);
/// `Ok(None)`: more bytes are needed.
type Step = Result<Option<(Reply, usize)>, Invalid>;
/// A line's body and the offset just past its `\r\n`.
type Line<'a> = Option<(&'a [u8], usize)>;

fn parse_at(buffer: &[u8], start: usize, depth: usize) -> Step {
    let Some(&kind) = buffer.get(start) else {
        return Ok(None);
    };
    let Some((body, after_line)) = read_line(buffer, start + 1)? else {
        return Ok(None);
    };
    match kind {
        b'+' => Ok(Some((Reply::Simple(body.to_vec()), after_line))),
        b'-' => Ok(Some((Reply::Error(body.to_vec()), after_line))),
        b':' => {
            let n = parse_integer(body).ok_or_else(|| {
                (
                    start + 1,
                    format!(
                        "an integer reply needs a number after ':', got \"{}\"",
                        escape(body)
                    ),
                )
            })?;
            Ok(Some((Reply::Integer(n), after_line)))
        }
        b'$' => {
            let length = parse_integer(body).ok_or_else(|| {
                (
                    start + 1,
                    format!(
                        "a bulk string needs its length after '$', got \"{}\"",
                        escape(body)
                    ),
                )
            })?;
            if length == -1 {
                return Ok(Some((Reply::NullBulk, after_line)));
            }
            if length < 0 {
                return Err((
                    start + 1,
                    format!("a bulk string length cannot be {length}"),
                ));
            }
            let length = length as usize;
            let end_of_data = after_line.saturating_add(length);
            if buffer.len() < end_of_data.saturating_add(2) {
                // Check the bytes we do have, so that a wrong terminator is
                // reported at once instead of after a timeout.
                if buffer.len() > end_of_data && buffer[end_of_data] != b'\r' {
                    return Err((end_of_data, terminator_reason(length)));
                }
                return Ok(None);
            }
            if &buffer[end_of_data..end_of_data + 2] != b"\r\n" {
                let at = if buffer[end_of_data] == b'\r' {
                    end_of_data + 1
                } else {
                    end_of_data
                };
                return Err((at, terminator_reason(length)));
            }
            let data = buffer[after_line..end_of_data].to_vec();
            Ok(Some((Reply::Bulk(data), end_of_data + 2)))
        }
        b'*' => {
            let count = parse_integer(body).ok_or_else(|| {
                (
                    start + 1,
                    format!(
                        "an array needs its length after '*', got \"{}\"",
                        escape(body)
                    ),
                )
            })?;
            if count == -1 {
                return Ok(Some((Reply::NullArray, after_line)));
            }
            if count < 0 {
                return Err((start + 1, format!("an array length cannot be {count}")));
            }
            if depth >= MAX_DEPTH {
                return Err((start, format!("arrays nested more than {MAX_DEPTH} deep")));
            }
            // No `with_capacity(count)`: the count is only a claim.
            let mut items = Vec::new();
            let mut position = after_line;
            for _ in 0..count {
                match parse_at(buffer, position, depth + 1)? {
                    Some((item, next)) => {
                        items.push(item);
                        position = next;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Reply::Array(items), position)))
        }
        other => Err((
            start,
            format!(
                "a RESP reply starts with '+', '-', ':', '$' or '*', not \"{}\"",
                escape(&[other])
            ),
        )),
    }
}

fn terminator_reason(length: usize) -> String {
    format!("a bulk string of {length} bytes must be followed by \\r\\n: is the length right?")
}

/// The line that starts at `from`, up to `\r\n`: its body and the offset
/// just past the `\n`. A bare `\n` (or a `\r` without `\n`) is an error.
fn read_line(buffer: &[u8], from: usize) -> Result<Line<'_>, Invalid> {
    let rest = &buffer[from.min(buffer.len())..];
    for (i, &byte) in rest.iter().enumerate() {
        match byte {
            b'\n' => {
                return Err((
                    from + i,
                    "a line ends with \\n alone: RESP lines end with \\r\\n".to_string(),
                ));
            }
            b'\r' => {
                return match rest.get(i + 1) {
                    Some(b'\n') => Ok(Some((&rest[..i], from + i + 2))),
                    Some(_) => Err((from + i + 1, "\\r must be followed by \\n".to_string())),
                    None => Ok(None),
                };
            }
            _ => {}
        }
    }
    Ok(None)
}

/// A decimal integer as Redis writes one: an optional `-`, digits, no `+`,
/// no leading zeros, no `-0`. Anything else is not what Redis sends.
fn parse_integer(text: &[u8]) -> Option<i64> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    let canonical = match digits {
        [] => false,
        [b'0'] => digits.len() == text.len(),
        [b'0', ..] => false,
        _ => digits.iter().all(u8::is_ascii_digit),
    };
    if !canonical {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// What a sequence of requests looks like typed into redis-cli:
/// `PING`, `SET key "hello world"`, `PING (x5)`. `None` when the bytes are
/// not whole RESP commands.
pub fn describe_commands(bytes: &[u8]) -> Option<String> {
    let mut commands: Vec<String> = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Parsed::Complete {
            value: Reply::Array(args),
            length,
        } = parse(rest)
        else {
            return None;
        };
        let words: Option<Vec<String>> = args
            .iter()
            .map(|arg| match arg {
                Reply::Bulk(bytes) => Some(cli_quote(bytes)),
                _ => None,
            })
            .collect();
        commands.push(words?.join(" "));
        rest = &rest[length..];
    }
    if commands.is_empty() {
        return None;
    }
    Some(count_runs(commands).join("; "))
}

/// The names of the commands in `bytes` (whole arrays of bulk strings):
/// `SET` for a SET with a 1 MB value, `PING (x3)`.
pub fn command_names(bytes: &[u8]) -> Option<String> {
    let mut names = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Parsed::Complete {
            value: Reply::Array(args),
            length,
        } = parse(rest)
        else {
            return None;
        };
        match args.first() {
            Some(Reply::Bulk(name)) => names.push(cli_quote(name)),
            _ => return None,
        }
        rest = &rest[length..];
    }
    (!names.is_empty()).then(|| count_runs(names).join(", "))
}

/// Runs of the same text, counted: `PING, PING, GET a` becomes
/// `PING (x2), GET a`.
pub fn count_runs(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut runs: Vec<(String, usize)> = Vec::new();
    for item in items {
        match runs.last_mut() {
            Some((last, count)) if *last == item => *count += 1,
            _ => runs.push((item, 1)),
        }
    }
    runs.into_iter()
        .map(|(text, count)| {
            if count == 1 {
                text
            } else {
                format!("{text} (x{count})")
            }
        })
        .collect()
}

/// An argument as you would type it in redis-cli: bare when it is a plain
/// word, in double quotes with escapes otherwise.
fn cli_quote(bytes: &[u8]) -> String {
    let plain = !bytes.is_empty()
        && bytes.len() <= 60
        && bytes
            .iter()
            .all(|b| b.is_ascii_graphic() && *b != b'"' && *b != b'\'' && *b != b'\\');
    if plain {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        format!("\"{}\"", escape_shortened(bytes, 30))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(bytes: &[u8]) -> Reply {
        match parse(bytes) {
            Parsed::Complete {
                value: reply,
                length,
            } => {
                assert_eq!(length, bytes.len());
                reply
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_every_kind_and_encodes_it_back() {
        for bytes in [
            &b"+PONG\r\n"[..],
            b"-ERR unknown command\r\n",
            b":-42\r\n",
            b"$5\r\nhe\r\nl\r\n",
            b"$0\r\n\r\n",
            b"$-1\r\n",
            b"*2\r\n$3\r\nfoo\r\n:1\r\n",
            b"*0\r\n",
            b"*-1\r\n",
        ] {
            assert_eq!(complete(bytes).encode(), bytes);
        }
    }

    #[test]
    fn waits_for_the_rest_of_a_split_reply() {
        let whole = b"*2\r\n$3\r\nfoo\r\n+OK\r\n";
        for cut in 0..whole.len() {
            assert_eq!(parse(&whole[..cut]), Parsed::Incomplete, "cut at {cut}");
        }
    }

    #[test]
    fn a_bare_newline_is_named() {
        match parse(b"+PONG\n") {
            Parsed::Invalid { at, reason } => {
                assert_eq!(at, 5);
                assert!(reason.contains("\\r\\n"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_wrong_bulk_length_is_caught_early() {
        assert!(matches!(
            parse(b"$3\r\nPONG\r\n"),
            Parsed::Invalid { at: 7, .. }
        ));
    }

    #[test]
    fn lengths_and_integers_must_be_written_as_redis_writes_them() {
        for bytes in [
            &b"$05\r\nhello\r\n"[..],
            b":+2\r\n",
            b":-0\r\n",
            b"*01\r\n",
            b": 1\r\n",
        ] {
            assert!(matches!(parse(bytes), Parsed::Invalid { .. }), "{bytes:?}");
        }
        assert!(matches!(parse(b":0\r\n"), Parsed::Complete { .. }));
        assert!(matches!(parse(b":-10\r\n"), Parsed::Complete { .. }));
    }

    #[test]
    fn an_unknown_type_byte_is_invalid() {
        assert!(matches!(parse(b"PONG\r\n"), Parsed::Invalid { at: 0, .. }));
    }

    #[test]
    fn a_huge_declared_array_is_not_allocated() {
        assert_eq!(parse(b"*9223372036854775807\r\n+a\r\n"), Parsed::Incomplete);
        assert_eq!(parse(b"$9223372036854775807\r\nabc"), Parsed::Incomplete);
    }

    #[test]
    fn describes_replies_in_words() {
        assert_eq!(Reply::simple("PONG").describe(), "simple string \"PONG\"");
        assert_eq!(Reply::bulk("PONG").describe(), "bulk string \"PONG\"");
        assert_eq!(Reply::Integer(3).describe(), "integer 3");
    }

    #[test]
    fn describes_requests_as_redis_cli_commands() {
        let ping = command(&[b"PING"]);
        assert_eq!(describe_commands(&ping).unwrap(), "PING");
        assert_eq!(describe_commands(&ping.repeat(3)).unwrap(), "PING (x3)");
        let set = command(&[b"SET", b"k", b"hello world"]);
        assert_eq!(describe_commands(&set).unwrap(), "SET k \"hello world\"");
        assert_eq!(describe_commands(b"PING\r\n"), None);
    }
}
