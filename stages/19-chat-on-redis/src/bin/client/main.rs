//! The chat's own client: a prompt that incoming lines do not break (the
//! chapter shows it beside `nc`). What you type, and every line printed, is
//! held to the protocol of the server's library: its limit, and its rule
//! for cleaning a line. Two threads read, the keyboard and the socket, and
//! send what they read over a channel to the main thread, which alone
//! draws. Without a terminal, it is a line pipe for scripts (`pipe.rs`).
//! What is simplified on purpose is marked so where it is.

mod pipe;

use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Sender};
use std::thread;

use anyhow::{Context, Result, bail};
use stage_19_chat_on_redis::DEFAULT_PORT;
use stage_19_chat_on_redis::line::{MAX_LINE, clean};

const USAGE: &str = "\
usage: stage-19-chat-on-redis-client [--host ADDR] [--port N]   (default 127.0.0.1 7711)
Keys: Enter sends, Backspace deletes, Ctrl-U clears the line, Ctrl-D (on an
empty line) or Ctrl-C leaves. Your own lines are shown as `you> ...`.";

const PROMPT: &str = "> ";

/// The longest line taken from the server before it is cut (a `/who` of a
/// crowded chat is long, but a line that never ends must not fill memory).
const MAX_SERVER_LINE: u64 = 64 * 1024;

/// What the reading threads tell the drawing thread.
enum Event {
    /// Bytes typed on the terminal, as they came.
    Typed(Vec<u8>),
    InputClosed,
    /// A line from the server, without its "\n".
    ServerLine(Vec<u8>),
    ServerClosed,
}

fn main() -> Result<()> {
    let (mut host, mut port) = ("127.0.0.1".to_string(), DEFAULT_PORT);
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        match pair {
            [name, value] if name == "--host" => host = value.clone(),
            [name, value] if name == "--port" => port = value.parse().context("--port N")?,
            _ => bail!("{USAGE}"),
        }
    }
    let stream = TcpStream::connect((host.as_str(), port))
        .with_context(|| format!("could not connect to {host}:{port}: is the server running?"))?;
    // Lines are small and typed by people: send each at once.
    stream.set_nodelay(true)?;
    if io::stdin().is_terminal() {
        run_terminal(stream)
    } else {
        pipe::run_pipe(stream)
    }
}

/// The terminal in raw mode, put back as it was when this is dropped.
struct RawTerminal {
    saved: String,
}

impl RawTerminal {
    /// Keys one at a time (`-icanon`), not echoed (`-echo`), and Ctrl-C a
    /// byte to read rather than a signal that would kill us (`-isig`).
    fn enter() -> Result<RawTerminal> {
        // simplified on purpose: stty, not termios through a new dependency.
        let saved = stty(&["-g"])?.trim().to_string();
        stty(&["-icanon", "-echo", "-isig", "min", "1"])?;
        Ok(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = stty(&[&self.saved]);
    }
}

/// Runs `stty ARGS` on our terminal (its standard input, inherited).
fn stty(args: &[&str]) -> Result<String> {
    let output = Command::new("stty")
        .args(args)
        .stdin(Stdio::inherit())
        .stderr(Stdio::inherit())
        .output()
        .context("could not run stty")?;
    if !output.status.success() {
        bail!("stty {} failed", args.join(" "));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The terminal's width in columns, from `stty size` ("ROWS COLUMNS").
/// simplified on purpose: read once, at start.
fn terminal_columns() -> Option<usize> {
    let size = stty(&["size"]).ok()?;
    size.split_whitespace().nth(1)?.parse().ok()
}

/// The end of the typed line that fits on one row after the prompt.
/// simplified on purpose: every character counts as one column, though a
/// Chinese character or an emoji takes two.
fn visible_tail(line: &str, columns: usize) -> &str {
    // The last column stays free: writing there wraps the row on some.
    let room = columns.saturating_sub(PROMPT.len() + 1).max(1);
    let count = line.chars().count();
    if count <= room {
        return line;
    }
    match line.char_indices().nth(count - room) {
        Some((start, _)) => &line[start..],
        None => line,
    }
}

// ANCHOR: redraw
/// Prints a line above the prompt, then draws the prompt again below it:
/// "\r" goes to the start of the prompt's row, "\x1b[2K" erases it, the
/// line takes its place, and its "\n" moves down a row for the prompt. The
/// half-typed line lives in the editor, not on the screen.
fn print_above_prompt(
    out: &mut impl Write,
    text: &str,
    typed: &str,
    columns: usize,
) -> io::Result<()> {
    write!(out, "\r\x1b[2K{text}\n")?;
    draw_prompt(out, typed, columns)
}

/// Draws the prompt row from scratch.
fn draw_prompt(out: &mut impl Write, typed: &str, columns: usize) -> io::Result<()> {
    write!(out, "\r\x1b[2K{PROMPT}{}", visible_tail(typed, columns))?;
    // Standard output is flushed at "\n" only, and the prompt has none.
    out.flush()
}
// ANCHOR_END: redraw

// ANCHOR: run_terminal
fn run_terminal(stream: TcpStream) -> Result<()> {
    let columns = terminal_columns().unwrap_or(80);
    let (events_sender, events) = mpsc::channel();
    spawn_server_reader(
        stream.try_clone().context("cloning the socket")?,
        events_sender.clone(),
    );
    // Raw mode first: a read that started in line mode would wait for Enter.
    let terminal = RawTerminal::enter()?;
    spawn_key_reader(events_sender);
    let mut socket = stream;
    let mut editor = Editor::default();
    let mut out = io::stdout().lock();
    draw_prompt(&mut out, &editor.line(), columns)?;
    let closed_by_server = 'events: loop {
        let Ok(event) = events.recv() else {
            break false;
        };
        match event {
            Event::ServerLine(bytes) => {
                print_above_prompt(&mut out, &clean(&bytes), &editor.line(), columns)?;
            }
            Event::ServerClosed => break true,
            Event::Typed(keys) => {
                // Drawn once for all the keys of one read.
                let mut redraw = false;
                for key in keys {
                    match editor.apply_key(key) {
                        KeyAction::Nothing => {}
                        KeyAction::Redraw => redraw = true,
                        KeyAction::Send(line) => {
                            let shown = format!("you> {line}");
                            print_above_prompt(&mut out, &shown, &editor.line(), columns)?;
                            redraw = false;
                            // If the server is gone, its reader says so.
                            let _ = socket.write_all(format!("{line}\n").as_bytes());
                        }
                        KeyAction::Quit => {
                            let _ = socket.write_all(b"/quit\n");
                            let _ = socket.shutdown(Shutdown::Both);
                            break 'events false;
                        }
                    }
                }
                if redraw {
                    draw_prompt(&mut out, &editor.line(), columns)?;
                }
            }
            Event::InputClosed => break false,
        }
    };
    // Erase the prompt and give the terminal back before our last words.
    write!(out, "\r\x1b[2K")?;
    out.flush()?;
    drop(terminal);
    if closed_by_server {
        writeln!(out, "connection closed")?;
    }
    Ok(())
}
// ANCHOR_END: run_terminal

/// A thread that reads the keyboard, byte by byte as the keys come.
fn spawn_key_reader(events: Sender<Event>) {
    thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut chunk = [0u8; 1024];
        while let Ok(read @ 1..) = stdin.read(&mut chunk) {
            if events.send(Event::Typed(chunk[..read].to_vec())).is_err() {
                return;
            }
        }
        let _ = events.send(Event::InputClosed);
    });
}

/// A thread that reads the server's lines.
fn spawn_server_reader(stream: TcpStream, events: Sender<Event>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        while let Ok(Some(line)) = read_server_line(&mut reader) {
            if events.send(Event::ServerLine(line)).is_err() {
                return;
            }
        }
        let _ = events.send(Event::ServerClosed);
    });
}

/// The next line from the server, without its "\n" (a longer line than
/// [`MAX_SERVER_LINE`] comes in pieces); `None` at the end of the stream.
fn read_server_line(reader: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    reader
        .by_ref()
        .take(MAX_SERVER_LINE)
        .read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    Ok(Some(line))
}

/// What a key asks the drawing thread to do.
#[derive(Debug, PartialEq, Eq)]
enum KeyAction {
    Nothing,
    /// Draw the prompt again.
    Redraw,
    Send(String),
    /// Ctrl-C, or Ctrl-D on an empty line.
    Quit,
}

const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;
const BACKSPACE: u8 = 0x08;
const CTRL_U: u8 = 0x15;
const ESCAPE: u8 = 0x1b;
const DELETE: u8 = 0x7f;

// ANCHOR: editor
/// The line being typed, fed one byte at a time. It keeps the bytes as they
/// were typed and shows them as the chat will, cleaned by the protocol's
/// rule: half a UTF-8 character, an arrow key or Alt and a key reaches
/// neither the screen nor the server. simplified on purpose: the cursor is
/// always at the end of the line; Backspace is the only way back.
#[derive(Debug, Default)]
struct Editor {
    typed: Vec<u8>,
}

impl Editor {
    /// The line as it is shown, and as it would be sent.
    fn line(&self) -> String {
        clean(&self.typed)
    }

    fn apply_key(&mut self, byte: u8) -> KeyAction {
        match byte {
            // Enter: "\n" from most terminals (icrnl), "\r" from some.
            b'\r' | b'\n' => {
                let line = self.line();
                self.typed.clear();
                if line.is_empty() {
                    KeyAction::Nothing
                } else {
                    KeyAction::Send(line)
                }
            }
            DELETE | BACKSPACE => {
                // The last character as shown, however many bytes it took.
                let mut line = self.line();
                if line.pop().is_none() && self.typed.is_empty() {
                    return KeyAction::Nothing;
                }
                self.typed = line.into_bytes();
                KeyAction::Redraw
            }
            CTRL_U if !self.typed.is_empty() => {
                self.typed.clear();
                KeyAction::Redraw
            }
            CTRL_C => KeyAction::Quit,
            CTRL_D if self.typed.is_empty() => KeyAction::Quit,
            // simplified on purpose: a lone Esc followed by a key swallows
            // that key, as the cleaning cannot tell it from Alt+key.
            ESCAPE => self.push(byte),
            // Tab and the other control keys: cleaning would drop them.
            0x00..=0x1f => KeyAction::Nothing,
            _ => self.push(byte),
        }
    }

    fn push(&mut self, byte: u8) -> KeyAction {
        // The server refuses a line over its limit: take no more.
        if self.typed.len() >= MAX_LINE {
            return KeyAction::Nothing;
        }
        self.typed.push(byte);
        KeyAction::Redraw
    }
}
// ANCHOR_END: editor

#[cfg(test)]
mod tests;
