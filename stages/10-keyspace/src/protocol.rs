//! Reading commands off the wire: RESP arrays of bulk strings (what every
//! client library sends) and inline commands (what you type into telnet).
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

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

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
                write!(f, "expected '$', got '{}'", char::from(*got))
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
                        match parse_inline(buffer, &mut self.searched)? {
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
                    if !(..=MAX_ARGUMENTS).contains(&count) {
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
    let Some(&first) = buffer.first() else {
        return Ok(None);
    };
    if first != b'$' {
        return Err(ProtocolError::ExpectedDollar(first));
    }
    let Some((length, header_length)) =
        parse_header(buffer, searched, ProtocolError::TooBigBulkCount)?
    else {
        return Ok(None);
    };
    if !(0..=MAX_BULK_LENGTH).contains(&length) {
        return Err(ProtocolError::InvalidBulkLength);
    }
    let length = length as usize;
    // Wait until all of it is here. We never reserve `length` bytes up
    // front: the buffer grows only with bytes that actually arrive.
    if buffer.len() < header_length + length + 2 {
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
        _ => ProtocolError::InvalidBulkLength,
    };
    let number = parse_integer(&buffer[1..end]).ok_or(invalid)?;
    Ok(Some((number, end + 2)))
}

/// The offset of the first `\r\n`, searching only bytes not searched
/// before. Finding one resets `searched`: the caller takes the line off.
fn find_crlf(buffer: &[u8], searched: &mut usize) -> Option<usize> {
    // Back one byte: a `\r` at the end of the last search may now have its `\n`.
    let from = searched.saturating_sub(1).min(buffer.len());
    match buffer[from..].windows(2).position(|pair| pair == b"\r\n") {
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

// ANCHOR: inline
/// An inline command: one line of words, as typed into telnet, split the
/// way Redis splits it (`sdssplitargs`): spaces separate words, "double
/// quotes" allow escapes (`\n`, `\x41`), 'single quotes' allow `\'`.
fn parse_inline(
    buffer: &mut BytesMut,
    searched: &mut usize,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let from = (*searched).min(buffer.len());
    let Some(newline) = buffer[from..].iter().position(|&byte| byte == b'\n') else {
        *searched = buffer.len();
        if buffer.len() > MAX_INLINE_LENGTH {
            return Err(ProtocolError::TooBigInlineRequest);
        }
        return Ok(None);
    };
    let newline = from + newline;
    *searched = 0;
    // (A whole line that arrived in one go is taken whatever its length,
    // as Redis does: the limit is on waiting for a line end.)
    // The line ends with `\n`, or `\r\n` as telnet sends it.
    let end = if newline > 0 && buffer[newline - 1] == b'\r' {
        newline - 1
    } else {
        newline
    };
    let args = split_words(&buffer[..end])?;
    buffer.advance(newline + 1);
    Ok(Some(args))
}
// ANCHOR_END: inline

fn split_words(line: &[u8]) -> Result<Vec<Bytes>, ProtocolError> {
    let mut words = Vec::new();
    let mut i = 0;
    // Like the C original, a NUL byte ends the line.
    let at = |i: usize| line.get(i).copied().filter(|&byte| byte != 0);
    loop {
        while at(i).is_some_and(is_space) {
            i += 1;
        }
        if at(i).is_none() {
            return Ok(words);
        }
        let mut word = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let byte = at(i);
            if in_double {
                match byte {
                    None => return Err(ProtocolError::UnbalancedQuotes),
                    Some(b'\\')
                        if at(i + 1) == Some(b'x')
                            && at(i + 2).is_some_and(|b| b.is_ascii_hexdigit())
                            && at(i + 3).is_some_and(|b| b.is_ascii_hexdigit()) =>
                    {
                        word.push(hex_value(line[i + 2]) * 16 + hex_value(line[i + 3]));
                        i += 3;
                    }
                    Some(b'\\') if at(i + 1).is_some() => {
                        i += 1;
                        word.push(match line[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    Some(b'"') => {
                        // A closing quote must end the word.
                        if at(i + 1).is_some_and(|b| !is_space(b)) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => word.push(other),
                }
            } else if in_single {
                match byte {
                    None => return Err(ProtocolError::UnbalancedQuotes),
                    Some(b'\\') if at(i + 1) == Some(b'\'') => {
                        i += 1;
                        word.push(b'\'');
                    }
                    Some(b'\'') => {
                        if at(i + 1).is_some_and(|b| !is_space(b)) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => word.push(other),
                }
            } else {
                match byte {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t') => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(other) => word.push(other),
                }
            }
            i += 1;
        }
        words.push(Bytes::from(word));
    }
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(bytes: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
        let mut parser = Parser::default();
        let mut buffer = BytesMut::from(bytes);
        let mut commands = Vec::new();
        while let Some(command) = parser.next_command(&mut buffer)? {
            commands.push(command);
        }
        Ok(commands)
    }

    fn words(command: &[Bytes]) -> Vec<&[u8]> {
        command.iter().map(|arg| arg.as_ref()).collect()
    }

    #[test]
    fn reads_a_command_split_at_every_byte() {
        let bytes = b"*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$0\r\n\r\n";
        let mut parser = Parser::default();
        let mut buffer = BytesMut::new();
        let mut commands = Vec::new();
        for &byte in bytes {
            buffer.extend_from_slice(&[byte]);
            while let Some(command) = parser.next_command(&mut buffer).unwrap() {
                commands.push(command);
            }
        }
        assert_eq!(commands.len(), 1);
        assert_eq!(words(&commands[0]), [&b"SET"[..], b"k\r\n", b""]);
        assert!(buffer.is_empty());
    }

    #[test]
    fn reads_many_commands_from_one_buffer() {
        let one = b"*1\r\n$4\r\nPING\r\n";
        let commands = parse_all(&one.repeat(100)).unwrap();
        assert_eq!(commands.len(), 100);
    }

    #[test]
    fn skips_empty_arrays_and_empty_lines() {
        let commands = parse_all(b"*0\r\n*-1\r\n\r\n\nPING\r\n").unwrap();
        assert_eq!(commands.len(), 1);
        assert_eq!(words(&commands[0]), [&b"PING"[..]]);
    }

    #[test]
    fn protocol_errors_as_redis_words_them() {
        for (bytes, expected) in [
            (&b"*abc\r\n"[..], "Protocol error: invalid multibulk length"),
            (b"*1048577\r\n", "Protocol error: invalid multibulk length"),
            (b"*1\r\n$abc\r\n", "Protocol error: invalid bulk length"),
            (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
            (
                b"*1\r\n$536870913\r\n",
                "Protocol error: invalid bulk length",
            ),
            (b"*2\r\n+foo\r\n", "Protocol error: expected '$', got '+'"),
            (
                b"SET a \"unbalanced\r\n",
                "Protocol error: unbalanced quotes in request",
            ),
            (
                b"*1\r\n$4\r\nPINGxx",
                "Protocol error: expected '\\r\\n' after the bulk string data",
            ),
        ] {
            assert_eq!(
                parse_all(bytes).unwrap_err().to_string(),
                expected,
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn a_line_that_never_ends_is_cut_off() {
        let mut parser = Parser::default();
        let mut buffer = BytesMut::from(&vec![b'a'; MAX_INLINE_LENGTH + 1][..]);
        assert_eq!(
            parser.next_command(&mut buffer),
            Err(ProtocolError::TooBigInlineRequest)
        );
        let mut buffer =
            BytesMut::from(&[b"*1".as_slice(), &vec![b'1'; MAX_INLINE_LENGTH]].concat()[..]);
        assert_eq!(
            parser.next_command(&mut buffer),
            Err(ProtocolError::TooBigMultibulkCount)
        );
    }

    #[test]
    fn a_declared_length_allocates_nothing() {
        let mut parser = Parser::default();
        let mut buffer = BytesMut::from(&b"*1048576\r\n$536870912\r\nab"[..]);
        let capacity = buffer.capacity();
        assert_eq!(parser.next_command(&mut buffer), Ok(None));
        assert!(buffer.capacity() <= capacity, "the buffer did not grow");
        assert!(parser.pending.as_ref().unwrap().args.capacity() <= 8);
    }

    #[test]
    fn inline_commands_split_like_redis() {
        let commands =
            parse_all(b"SET a \"hello world\"\r\nECHO \"a\\x41\\n\" 'it\\'s'\n").unwrap();
        assert_eq!(words(&commands[0]), [&b"SET"[..], b"a", b"hello world"]);
        assert_eq!(words(&commands[1]), [&b"ECHO"[..], b"aA\n", b"it's"]);
        assert_eq!(
            parse_all(b"ECHO \"a\"b\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
    }

    #[test]
    fn integers_are_read_as_redis_reads_them() {
        assert_eq!(parse_integer(b"0"), Some(0));
        assert_eq!(parse_integer(b"-12"), Some(-12));
        assert_eq!(parse_integer(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_integer(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"01",
            b"-0",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1e3",
        ] {
            assert_eq!(parse_integer(bad), None, "{bad:?}");
        }
    }
}
