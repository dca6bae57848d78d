//! Inline commands: one line of words, as typed into telnet, with no RESP
//! framing at all. Redis reads them so that a person can talk to it by
//! hand; any first byte but `*` starts one.

use bytes::{Buf, Bytes, BytesMut};

use super::{MAX_INLINE_LENGTH, ProtocolError};

// ANCHOR: inline
/// Takes one inline command off the front of `buffer`, split the way Redis
/// splits it (`sdssplitargs`): spaces separate words, "double quotes" allow
/// escapes (`\n`, `\x41`), 'single quotes' allow `\'`. `Ok(None)` while the
/// line has not ended.
pub fn parse_inline(
    buffer: &mut BytesMut,
    searched: &mut usize,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let from = (*searched).min(buffer.len());
    let stop = buffer[from..]
        .iter()
        .position(|&byte| byte == b'\n' || byte == 0)
        .map(|offset| from + offset);
    let newline = match stop {
        Some(at) if buffer[at] == b'\n' => at,
        // No line end yet; or a zero byte before it, which hides it, as in
        // Redis, which looks for `\n` with C's `strchr`, stopped by a zero
        // byte: that line never ends, and runs into the limit.
        _ => {
            *searched = stop.unwrap_or(buffer.len());
            if buffer.len() > MAX_INLINE_LENGTH {
                return Err(ProtocolError::TooBigInlineRequest);
            }
            return Ok(None);
        }
    };
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
    let at = |i: usize| line.get(i).copied();
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
