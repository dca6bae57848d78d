//! The client of stage 7: what redis-cli is to stages 2-6, for the binary
//! protocol, which redis-cli cannot speak.
//!
//! ```text
//! stage-11-binary-protocol-client set greeting "hello world"   # "OK"
//! stage-11-binary-protocol-client get greeting                 # "hello world"
//! stage-11-binary-protocol-client keys '*'                     # 1) "greeting"
//! stage-11-binary-protocol-client                              # interactive: type commands
//! ```
//!
//! Replies print as redis-cli prints them: `(nil)`, `(integer) 1`,
//! `(error) ERR ...`, quoted strings with escapes, numbered array items.
//! One-shot mode exits with status 1 after an error reply, so scripts can
//! tell.

// The wire format, from the server's own files: one definition of it.
#[allow(dead_code)]
#[path = "../protocol.rs"]
mod protocol;
#[allow(dead_code)]
#[path = "../reply.rs"]
mod reply;

use std::io::{BufRead, IsTerminal, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::protocol::{MAX_MESSAGE, encode_request};
use crate::reply::{TAG_ARR, TAG_ERR, TAG_INT, TAG_NIL, TAG_STR};

const USAGE: &str = "\
stage-11-binary-protocol-client: sends commands to a stage 7 server

usage: stage-11-binary-protocol-client [--host ADDR] [--port N] [COMMAND [ARG ...]]
  --host ADDR  the server's address (default 127.0.0.1)
  --port N     the server's port (default 1234)
With a command, sends it and prints the reply; without one, reads commands,
one per line (words, \"double quotes\" or 'single quotes'), until `quit`.";

/// The most strings a request can hold: its count is one byte.
const MAX_STRINGS: usize = 255;

/// A reply, decoded.
#[derive(Debug, PartialEq)]
enum Value {
    Nil,
    Error(Vec<u8>),
    Str(Vec<u8>),
    Int(i64),
    Array(Vec<Value>),
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode> {
    let mut host = "127.0.0.1".to_string();
    let mut port: u16 = 1234;
    let mut command = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" if command.is_empty() => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            "--host" if command.is_empty() => {
                host = args.next().context("--host needs an address")?
            }
            "--port" | "-p" if command.is_empty() => {
                let value = args.next().context("--port needs a number")?;
                port = value
                    .parse()
                    .with_context(|| format!("--port {value}: not a port"))?;
            }
            _ => command.push(arg.into_bytes()),
        }
    }
    let mut stream = TcpStream::connect((host.as_str(), port)).with_context(|| {
        format!("could not connect to {host}:{port}: is the stage 7 server running?")
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    if !command.is_empty() {
        let value = send(&mut stream, &command)?;
        print!("{}", format_value(&value));
        return Ok(if matches!(value, Value::Error(_)) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    // Interactive: a prompt when a person is typing, none when commands
    // come from a pipe.
    let prompt = std::io::stdin()
        .is_terminal()
        .then(|| format!("{host}:{port}> "));
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        if let Some(prompt) = &prompt {
            print!("{prompt}");
            std::io::stdout().flush()?;
        }
        let Some(line) = lines.next() else {
            return Ok(ExitCode::SUCCESS);
        };
        let words = match split_words(&line?) {
            Ok(words) => words,
            Err(message) => {
                println!("(error) {message}");
                continue;
            }
        };
        match words.first().map(|w| w.to_ascii_lowercase()) {
            None => continue,
            Some(first) if first == b"quit" || first == b"exit" => return Ok(ExitCode::SUCCESS),
            Some(_) => {}
        }
        if words.len() > MAX_STRINGS {
            println!(
                "(error) a request holds at most {MAX_STRINGS} strings (its count is one byte)"
            );
            continue;
        }
        let value = send(&mut stream, &words)?;
        print!("{}", format_value(&value));
    }
}

/// Sends one request and reads its reply.
fn send(stream: &mut TcpStream, words: &[Vec<u8>]) -> Result<Value> {
    if words.len() > MAX_STRINGS {
        bail!("a request holds at most {MAX_STRINGS} strings (its count is one byte)");
    }
    let borrowed: Vec<&[u8]> = words.iter().map(|w| w.as_slice()).collect();
    stream
        .write_all(&encode_request(&borrowed))
        .context("could not send")?;
    let mut prefix = [0u8; 4];
    stream
        .read_exact(&mut prefix)
        .context("no reply: the server closed the connection or did not answer")?;
    let length = u32::from_be_bytes(prefix) as usize;
    if length > MAX_MESSAGE {
        bail!("the server announced a reply of {length} bytes, over the limit of {MAX_MESSAGE}");
    }
    let mut message = vec![0u8; length];
    stream
        .read_exact(&mut message)
        .context("the reply was cut short")?;
    let mut rest = message.as_slice();
    let value = decode_value(&mut rest, 0)?;
    if !rest.is_empty() {
        bail!("{} bytes left over after the reply's value", rest.len());
    }
    Ok(value)
}

/// Reads one value off the front of `bytes`.
fn decode_value(bytes: &mut &[u8], depth: usize) -> Result<Value> {
    if depth > 64 {
        bail!("arrays nested more than 64 deep");
    }
    let tag = take(bytes, 1)?[0];
    Ok(match tag {
        TAG_NIL => Value::Nil,
        TAG_ERR => Value::Error(take_string(bytes)?),
        TAG_STR => Value::Str(take_string(bytes)?),
        TAG_INT => Value::Int(i64::from_be_bytes(take(bytes, 8)?.try_into()?)),
        TAG_ARR => {
            let count = u32::from_be_bytes(take(bytes, 4)?.try_into()?) as usize;
            // Each value is at least one byte: a count larger than what is
            // left is a lie, and nothing is allocated for it.
            if count > bytes.len() {
                bail!("an array of {count} values in {} bytes", bytes.len());
            }
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                items.push(decode_value(bytes, depth + 1)?);
            }
            Value::Array(items)
        }
        other => bail!("unknown type tag {other}"),
    })
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    if bytes.len() < n {
        bail!("the reply ends in the middle of a value");
    }
    let (taken, rest) = bytes.split_at(n);
    *bytes = rest;
    Ok(taken)
}

fn take_string(bytes: &mut &[u8]) -> Result<Vec<u8>> {
    let length = u32::from_be_bytes(take(bytes, 4)?.try_into()?) as usize;
    Ok(take(bytes, length)?.to_vec())
}

// ANCHOR: format_value
/// A reply as redis-cli shows it, ending in a newline.
fn format_value(value: &Value) -> String {
    match value {
        Value::Nil => "(nil)\n".to_string(),
        Value::Error(message) => format!("(error) {}\n", String::from_utf8_lossy(message)),
        Value::Str(bytes) => format!("{}\n", quote(bytes)),
        Value::Int(n) => format!("(integer) {n}\n"),
        Value::Array(items) if items.is_empty() => "(empty array)\n".to_string(),
        Value::Array(items) => {
            // `1) ` ... `10) `: numbers right-aligned, nested lines indented
            // under their item.
            let width = items.len().to_string().len();
            let mut out = String::new();
            for (i, item) in items.iter().enumerate() {
                let number = format!("{:>width$}) ", i + 1);
                let indent = " ".repeat(number.len());
                for (line_number, line) in format_value(item).lines().enumerate() {
                    out.push_str(if line_number == 0 { &number } else { &indent });
                    out.push_str(line);
                    out.push('\n');
                }
            }
            out
        }
    }
}
// ANCHOR_END: format_value

/// `"hello\n"`: in double quotes, with escapes for anything not printable.
fn quote(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &byte in bytes {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push('"');
    out
}

/// Splits a typed line into words: spaces separate them, "double quotes"
/// allow spaces and escapes (`\n`, `\"`, `\x41`), 'single quotes' allow
/// spaces and `\'`.
fn split_words(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes = line.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let mut word = Vec::new();
        let quote_char = match bytes[i] {
            b'"' | b'\'' => {
                i += 1;
                Some(bytes[i - 1])
            }
            _ => None,
        };
        loop {
            let Some(&byte) = bytes.get(i) else {
                if quote_char.is_some() {
                    return Err("unbalanced quotes".to_string());
                }
                break;
            };
            i += 1;
            match quote_char {
                None if byte.is_ascii_whitespace() => break,
                Some(q) if byte == q => break,
                Some(b'"') if byte == b'\\' => {
                    let escaped = bytes.get(i).copied().ok_or("unbalanced quotes")?;
                    i += 1;
                    word.push(match escaped {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'x' => {
                            let hex = line.get(i..i + 2).ok_or("\\x needs two hex digits")?;
                            i += 2;
                            u8::from_str_radix(hex, 16).map_err(|_| "\\x needs two hex digits")?
                        }
                        other => other,
                    });
                }
                Some(b'\'') if byte == b'\\' && bytes.get(i) == Some(&b'\'') => {
                    i += 1;
                    word.push(b'\'');
                }
                _ => word.push(byte),
            }
        }
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_redis_cli() {
        assert_eq!(format_value(&Value::Nil), "(nil)\n");
        assert_eq!(format_value(&Value::Int(3)), "(integer) 3\n");
        assert_eq!(
            format_value(&Value::Error(b"ERR no".to_vec())),
            "(error) ERR no\n"
        );
        assert_eq!(
            format_value(&Value::Str(b"a\"b\n\x01".to_vec())),
            "\"a\\\"b\\n\\x01\"\n"
        );
        assert_eq!(format_value(&Value::Array(vec![])), "(empty array)\n");
        let nested = Value::Array(vec![
            Value::Array(vec![Value::Str(b"a".to_vec()), Value::Nil]),
            Value::Int(1),
        ]);
        assert_eq!(
            format_value(&nested),
            "1) 1) \"a\"\n   2) (nil)\n2) (integer) 1\n"
        );
        let ten: Vec<Value> = (0..10).map(Value::Int).collect();
        let shown = format_value(&Value::Array(ten));
        assert!(shown.starts_with(" 1) (integer) 0\n"));
        assert!(shown.ends_with("10) (integer) 9\n"));
    }

    #[test]
    fn decodes_what_the_server_encodes() {
        use bytes::{Bytes, BytesMut};
        // Encoded by the server's own reply.rs, decoded by the client.
        let mut wire = BytesMut::new();
        reply::Reply::Array(vec![
            reply::Reply::Bulk(Bytes::from_static(b"a")),
            reply::Reply::Integer(7),
            reply::Reply::Null,
            reply::Reply::error("no"),
        ])
        .write_to(&mut wire);
        let mut message = &wire[4..];
        assert_eq!(
            decode_value(&mut message, 0).unwrap(),
            Value::Array(vec![
                Value::Str(b"a".to_vec()),
                Value::Int(7),
                Value::Nil,
                Value::Error(b"ERR no".to_vec())
            ])
        );
        assert!(message.is_empty());
        let mut lie: &[u8] = b"\x04\xff\xff\xff\xff";
        assert!(decode_value(&mut lie, 0).is_err());
    }

    #[test]
    fn splits_typed_lines() {
        assert_eq!(
            split_words(r#"set k "a b\n" 'it\'s'"#).unwrap(),
            vec![
                b"set".to_vec(),
                b"k".to_vec(),
                b"a b\n".to_vec(),
                b"it's".to_vec()
            ]
        );
        assert!(split_words("get \"open").is_err());
    }
}
