//! The client of stage 11: what redis-cli is to stages 2-10, for the binary
//! protocol, which redis-cli cannot speak. The wire format is the package's
//! library, shared with the server.
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
//!
//! It does not trust the server: a reply is read whole (at most 32 MB),
//! checked, then printed straight from its bytes, so memory stays the size
//! of the reply and the output a small multiple of it; the text of errors
//! is escaped as strings are, so no reply can send the terminal its own
//! escape sequences.

#[cfg(test)]
mod tests;

use std::io::{BufRead, BufWriter, IsTerminal, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use binary_protocol::protocol::{MAX_MESSAGE, MAX_STRINGS, encode_request};
use binary_protocol::reply::{Value, decode_reply};

const USAGE: &str = "\
stage-11-binary-protocol-client: sends commands to a stage 11 server

usage: stage-11-binary-protocol-client [--host ADDR] [--port N] [COMMAND [ARG ...]]
  --host ADDR  the server's address (default 127.0.0.1)
  --port N     the server's port (default 1234)
With a command, sends it and prints the reply; without one, reads commands,
one per line (words, \"double quotes\" or 'single quotes'), until `quit`.";

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
        format!("could not connect to {host}:{port}: is the stage 11 server running?")
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    if !command.is_empty() {
        let message = send(&mut stream, &command)?;
        let value = decode_reply(&message)?;
        print_reply(&value)?;
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
        let message = send(&mut stream, &words)?;
        print_reply(&decode_reply(&message)?)?;
    }
}

/// Sends one request, and reads its reply: the message after the length
/// prefix.
fn send(stream: &mut TcpStream, words: &[Vec<u8>]) -> Result<Vec<u8>> {
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
    Ok(message)
}

/// Prints a reply on standard output.
fn print_reply(value: &Value) -> Result<()> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    write_value(value.clone(), &mut Vec::new(), &mut out)?;
    out.flush()?;
    Ok(())
}

// ANCHOR: format_value
/// Writes a reply as redis-cli shows it, ending in a newline. The caller
/// has written the start of its first line; `indent` starts the others.
/// Each line goes straight to `out`: nothing is built and copied again at
/// each level of nesting.
fn write_value(value: Value, indent: &mut Vec<u8>, out: &mut impl Write) -> std::io::Result<()> {
    match value {
        Value::Nil => out.write_all(b"(nil)\n"),
        Value::Error(message) => {
            out.write_all(b"(error) ")?;
            write_escaped(message, out)?;
            out.write_all(b"\n")
        }
        Value::Str(bytes) => {
            out.write_all(b"\"")?;
            write_escaped(bytes, out)?;
            out.write_all(b"\"\n")
        }
        Value::Int(n) => writeln!(out, "(integer) {n}"),
        Value::Array(items) if items.len() == 0 => out.write_all(b"(empty array)\n"),
        Value::Array(items) => {
            // `1) ` ... `10) `: numbers right-aligned, nested lines indented
            // under their item.
            let width = items.len().to_string().len();
            for (i, item) in items.enumerate() {
                if i > 0 {
                    out.write_all(indent)?;
                }
                write!(out, "{:>width$}) ", i + 1)?;
                let outer = indent.len();
                indent.resize(outer + width + 2, b' ');
                write_value(item, indent, out)?;
                indent.truncate(outer);
            }
            Ok(())
        }
    }
}
// ANCHOR_END: format_value

/// `hello\n` as `hello\\n`: anything not printable escaped, and `\` and
/// `"`, so that the text is unambiguous and safe for a terminal.
fn write_escaped(bytes: &[u8], out: &mut impl Write) -> std::io::Result<()> {
    for &byte in bytes {
        match byte {
            b'\\' => out.write_all(b"\\\\")?,
            b'"' => out.write_all(b"\\\"")?,
            b'\n' => out.write_all(b"\\n")?,
            b'\r' => out.write_all(b"\\r")?,
            b'\t' => out.write_all(b"\\t")?,
            0x07 => out.write_all(b"\\a")?,
            0x08 => out.write_all(b"\\b")?,
            0x20..=0x7e => out.write_all(&[byte])?,
            _ => write!(out, "\\x{byte:02x}")?,
        }
    }
    Ok(())
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
