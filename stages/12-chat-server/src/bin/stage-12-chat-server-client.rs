//! The client of stage 8: a chat prompt that incoming messages do not break.
//!
//! With `nc` or `telnet`, a message that arrives while you type lands in the
//! middle of your half-typed line. smallchat's README lists the fix as
//! future work: "a proper client: line editing able to handle asynchronous
//! events". This is that client. You type on a prompt line, `> `; every
//! line from the server is printed above it, and the prompt is drawn again
//! below, with what you had typed so far. (smallchat's own client prints
//! whatever one `read()` returned, so half a line can arrive, and the
//! prompt is drawn in the middle of it: we print whole lines only.)
//!
//! ```text
//! cargo run -p stage-12-chat-server                                         # the server, port 7711
//! cargo run -p stage-12-chat-server --bin stage-12-chat-server-client      # in two more terminals
//! cargo run -p stage-12-chat-server --bin stage-12-chat-server-client -- --port 7712
//! ```
//!
//! Keys: Enter sends the line, Backspace deletes the last character, Ctrl-U
//! clears the line, Ctrl-D on an empty line or Ctrl-C leaves (sending
//! `/quit`). Your own lines are shown as `you> ...`: the server does not send
//! a chat line back to its sender.
//!
//! When standard input is not a terminal, the client is a plain line pipe:
//! each line of input is sent, each line from the server is printed, and it
//! exits when the server closes the connection (which stage 8 does when the
//! input ends), so that it can be scripted:
//! `printf '/nick ada\n/who\n' | stage-12-chat-server-client`.
//!
//! **Simplified on purpose** (each place is marked "simplified on purpose"):
//! the cursor stays at the end of the line (no left and right, no history,
//! no word deletion); a line longer than the terminal scrolls sideways,
//! counting every character as one column; the terminal's width is read
//! once, at start; a lone Esc swallows the key after it; raw mode comes
//! from the `stty` program rather than from the C library, and a client
//! killed by a signal (not Ctrl-C, which is a key here) leaves it set:
//! `stty sane` repairs it.
//!
//! How it is built: two threads read, one the keyboard and one the socket,
//! and send what they read to the main thread over a channel; the main
//! thread alone draws. Two threads may never write to the terminal at once,
//! or a message could land in the middle of a redrawn prompt.

use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc::{self, Sender};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, bail};

const USAGE: &str = "\
stage-12-chat-server-client: a chat prompt for stage 8, unbroken by incoming messages

usage: stage-12-chat-server-client [--host ADDR] [--port N]
  --host ADDR  the server's address (default 127.0.0.1)
  --port N     the server's port (default 7711)
Keys: Enter sends, Backspace deletes, Ctrl-U clears the line, Ctrl-D (on an
empty line) or Ctrl-C leaves. Without a terminal, sends each line of standard
input and prints each line from the server.";

/// What the prompt line starts with.
const PROMPT: &str = "> ";

/// The longest line the server accepts (4096 bytes, without its "\n"): the
/// editor takes no more, rather than have the server refuse the line.
const MAX_LINE_BYTES: usize = 4096;

/// The longest line we take from the server before we cut it: a server that
/// never sends "\n" must not fill our memory.
const MAX_SERVER_LINE_BYTES: usize = 64 * 1024;

/// What the reading threads tell the drawing thread.
enum Event {
    /// Bytes typed on the terminal, as they came.
    Typed(Vec<u8>),
    /// A whole line of standard input, when it is not a terminal.
    InputLine(Vec<u8>),
    /// Standard input ended.
    InputClosed,
    /// A line from the server, without its "\n".
    ServerLine(Vec<u8>),
    /// The server closed the connection, or reading from it failed.
    ServerClosed(Option<io::Error>),
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<()> {
    let mut host = "127.0.0.1".to_string();
    let mut port: u16 = 7711;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            "--host" => host = args.next().context("--host needs an address")?,
            "--port" | "-p" => {
                let value = args.next().context("--port needs a number")?;
                port = value
                    .parse()
                    .with_context(|| format!("--port {value}: a port is a number, 1-65535"))?;
            }
            other => bail!("unknown argument '{other}'\n\n{USAGE}"),
        }
    }
    let stream = connect(&host, port)?;
    if io::stdin().is_terminal() {
        run_terminal(stream)
    } else {
        run_pipe(stream)
    }
}

fn connect(host: &str, port: u16) -> Result<TcpStream> {
    let addresses = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {host}"))?;
    let mut last_error = None;
    for address in addresses {
        match TcpStream::connect_timeout(&address, Duration::from_secs(5)) {
            Ok(stream) => {
                // Lines are small and typed by people: send each at once.
                stream.set_nodelay(true).context("setting TCP_NODELAY")?;
                return Ok(stream);
            }
            Err(error) => last_error = Some(error),
        }
    }
    let error = last_error.map_or("no address".to_string(), |error| error.to_string());
    bail!(
        "could not connect to {host}:{port}: {error}. Is the server running? \
         `cargo run -p stage-12-chat-server -- --port {port}`"
    )
}

// ============================================================================
// The terminal: raw mode, and drawing
// ============================================================================

/// The terminal in raw mode, put back as it was when this is dropped: on a
/// normal exit, on an error, and on a panic (which unwinds through `main`).
struct RawTerminal {
    saved: String,
}

impl RawTerminal {
    /// `-icanon`: every key reaches us at once, not a line at a time.
    /// `-echo`: we draw what is typed, the terminal must not. `-isig`: Ctrl-C
    /// is a byte (0x03) that we read, not a signal that would kill us before
    /// we put the terminal back. `min 1`: a read waits for one byte.
    fn enter() -> Result<RawTerminal> {
        // simplified on purpose: the stty program rather than termios through
        // libc, which would be a new dependency for two calls.
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

/// Runs `stty ARGS` on our terminal: stty acts on its standard input, so it
/// inherits ours.
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
///
/// simplified on purpose: read once, at start. A terminal made narrower
/// later wraps a long prompt line, and the redraw then leaves its first
/// row behind; handling SIGWINCH would need libc or tokio's signals.
fn terminal_columns() -> Option<usize> {
    let size = stty(&["size"]).ok()?;
    size.split_whitespace().nth(1)?.parse().ok()
}

/// The end of the typed line that fits on one row after the prompt.
///
/// simplified on purpose: every character counts as one column, though a
/// Chinese character or an emoji takes two.
fn visible_tail(line: &str, columns: usize) -> &str {
    // One column stays free for the cursor: writing into the last column
    // would wrap the row on some terminals, and "\r" would then go back to
    // the wrong row.
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
/// Prints a line above the prompt, then draws the prompt again below it.
///
/// The cursor is always on the prompt's row. "\r" takes it to the row's
/// start and "\x1b[2K" erases the row, so the line takes the prompt's place;
/// its "\n" moves down a row, where the prompt is drawn again, with what
/// was typed so far. Nothing of the half-typed line is lost: it lives in
/// `editor`, not on the screen.
fn print_above_prompt(
    out: &mut impl Write,
    text: &str,
    editor: &Editor,
    columns: usize,
) -> io::Result<()> {
    write!(out, "\r\x1b[2K{text}\n")?;
    draw_prompt(out, editor, columns)
}

/// Draws the prompt row from scratch: after a key, after a line.
fn draw_prompt(out: &mut impl Write, editor: &Editor, columns: usize) -> io::Result<()> {
    write!(
        out,
        "\r\x1b[2K{PROMPT}{}",
        visible_tail(editor.line(), columns)
    )?;
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
    draw_prompt(&mut out, &editor, columns)?;
    let closed_by_server = loop {
        let Ok(event) = events.recv() else {
            break false;
        };
        match event {
            Event::ServerLine(bytes) => {
                print_above_prompt(&mut out, &sanitize(&bytes), &editor, columns)?;
            }
            Event::ServerClosed(_) => break true,
            Event::Typed(bytes) => {
                let mut quit = false;
                for byte in bytes {
                    match editor.apply_key(byte) {
                        KeyAction::Nothing => {}
                        KeyAction::Redraw => draw_prompt(&mut out, &editor, columns)?,
                        KeyAction::Send(line) => {
                            let shown = format!("you> {}", sanitize(line.as_bytes()));
                            print_above_prompt(&mut out, &shown, &editor, columns)?;
                            // A failed write means the server is gone: the
                            // reading thread tells us so, and we say it then.
                            let _ = socket.write_all(format!("{line}\n").as_bytes());
                        }
                        KeyAction::Quit => {
                            quit = true;
                            break;
                        }
                    }
                }
                if quit {
                    let _ = socket.write_all(b"/quit\n");
                    let _ = socket.shutdown(Shutdown::Both);
                    break false;
                }
            }
            Event::InputClosed => break false,
            Event::InputLine(_) => {}
        }
    };
    // Erase the prompt, then give the terminal back before we print our
    // last words, so that they and the shell's prompt look as usual.
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
        loop {
            match stdin.read(&mut chunk) {
                Ok(0) | Err(_) => {
                    let _ = events.send(Event::InputClosed);
                    return;
                }
                Ok(read) => {
                    if events.send(Event::Typed(chunk[..read].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

/// A thread that reads the server's lines.
fn spawn_server_reader(stream: TcpStream, events: Sender<Event>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        loop {
            match read_line_capped(&mut reader, MAX_SERVER_LINE_BYTES) {
                Ok(Some(line)) => {
                    if events.send(Event::ServerLine(line)).is_err() {
                        return;
                    }
                }
                Ok(None) => {
                    let _ = events.send(Event::ServerClosed(None));
                    return;
                }
                Err(error) => {
                    let _ = events.send(Event::ServerClosed(Some(error)));
                    return;
                }
            }
        }
    });
}

/// The next line, without its "\n"; a line longer than `cap` comes in
/// pieces of `cap` bytes. `None` at the end of the stream (a last line
/// without "\n" is still returned first).
fn read_line_capped(reader: &mut impl BufRead, cap: usize) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok((!line.is_empty()).then_some(line));
        }
        let room = cap - line.len();
        let window = &available[..available.len().min(room)];
        match window.iter().position(|&byte| byte == b'\n') {
            Some(end) => {
                line.extend_from_slice(&window[..end]);
                reader.consume(end + 1);
                return Ok(Some(line));
            }
            None => {
                let taken = window.len();
                line.extend_from_slice(window);
                reader.consume(taken);
                if line.len() == cap {
                    return Ok(Some(line));
                }
            }
        }
    }
}

// ============================================================================
// Without a terminal: a line pipe
// ============================================================================

fn run_pipe(stream: TcpStream) -> Result<()> {
    let (events_sender, events) = mpsc::channel();
    spawn_server_reader(
        stream.try_clone().context("cloning the socket")?,
        events_sender.clone(),
    );
    thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        loop {
            let mut line = Vec::new();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => {
                    let _ = events_sender.send(Event::InputClosed);
                    return;
                }
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    if events_sender.send(Event::InputLine(line)).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut socket = stream;
    let mut out = io::stdout().lock();
    for event in events {
        match event {
            Event::InputLine(mut line) => {
                line.push(b'\n');
                // If the server is gone, the reading thread says so next.
                let _ = socket.write_all(&line);
            }
            // The server sees the end of our input as the end of the
            // session, answers what it still has to, and closes: that close
            // is how we know every reply has arrived.
            Event::InputClosed => {
                let _ = socket.shutdown(Shutdown::Write);
            }
            Event::ServerLine(line) => {
                if writeln!(out, "{}", sanitize(&line)).is_err() {
                    // Whoever reads our output has gone (`| head -1`).
                    return Ok(());
                }
            }
            Event::ServerClosed(error) => {
                out.flush()?;
                match error {
                    None => eprintln!("connection closed"),
                    Some(error) => eprintln!("connection closed: {error}"),
                }
                return Ok(());
            }
            Event::Typed(_) => {}
        }
    }
    Ok(())
}

// ============================================================================
// Line editing and what is shown: pure functions, tested below
// ============================================================================

/// A line from the server as it is safe to print: a trailing "\r" dropped,
/// invalid UTF-8 shown as U+FFFD, and every control character (bytes below
/// 0x20, 0x7f, and U+0080-U+009F, which some terminals obey as well) shown
/// as '?'.
///
/// The stage 8 server strips control characters already, but a client must
/// not trust that: another server, or a bug, could otherwise send "\x1b[2J"
/// and clear the screen, or move the cursor and overwrite what you type.
fn sanitize(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// What a key asks the drawing thread to do.
#[derive(Debug, PartialEq, Eq)]
enum KeyAction {
    /// Nothing to draw: a key we ignore, or half a character.
    Nothing,
    /// The line changed: draw the prompt again.
    Redraw,
    /// Enter: send this line (the editor is empty again).
    Send(String),
    /// Ctrl-C, or Ctrl-D on an empty line.
    Quit,
}

/// The line being typed, fed one byte at a time.
///
/// simplified on purpose: the cursor is always at the end of the line, so
/// there is no left, right, Home or history, and Backspace is the only way
/// to change what was typed.
#[derive(Debug, Default)]
struct Editor {
    line: String,
    /// The bytes so far of a character that UTF-8 encodes in several.
    partial_character: Vec<u8>,
    escape: EscapeState,
}

/// Where we are in an escape sequence that a key sent: the arrow keys send
/// "\x1b[A" and the like, Alt+x sends "\x1bx". We take none of them.
#[derive(Debug, Default, PartialEq, Eq)]
enum EscapeState {
    #[default]
    None,
    /// After ESC.
    Escape,
    /// After ESC "[": up to a final byte 0x40-0x7e.
    ControlSequence,
    /// After ESC "O": one more byte (some terminals' arrow keys).
    SingleShift,
}

const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;
const BACKSPACE: u8 = 0x08;
const CTRL_U: u8 = 0x15;
const ESCAPE: u8 = 0x1b;
const DELETE: u8 = 0x7f;

impl Editor {
    fn line(&self) -> &str {
        &self.line
    }

    /// Applies one byte typed on the terminal.
    fn apply_key(&mut self, byte: u8) -> KeyAction {
        match self.escape {
            EscapeState::None => {}
            EscapeState::Escape => {
                self.escape = match byte {
                    b'[' => EscapeState::ControlSequence,
                    b'O' => EscapeState::SingleShift,
                    _ => EscapeState::None,
                };
                return KeyAction::Nothing;
            }
            EscapeState::ControlSequence => {
                if (0x40..=0x7e).contains(&byte) {
                    self.escape = EscapeState::None;
                }
                return KeyAction::Nothing;
            }
            EscapeState::SingleShift => {
                self.escape = EscapeState::None;
                return KeyAction::Nothing;
            }
        }
        if byte >= 0x80 {
            return self.apply_non_ascii(byte);
        }
        // An ASCII byte ends any half-received character: drop its start.
        self.partial_character.clear();
        match byte {
            // The terminal turns Enter into "\n" (its icrnl setting); some
            // send "\r". Either one ends the line.
            b'\r' | b'\n' => {
                if self.line.is_empty() {
                    KeyAction::Nothing
                } else {
                    KeyAction::Send(std::mem::take(&mut self.line))
                }
            }
            DELETE | BACKSPACE => match self.line.pop() {
                Some(_) => KeyAction::Redraw,
                None => KeyAction::Nothing,
            },
            CTRL_U => {
                if self.line.is_empty() {
                    KeyAction::Nothing
                } else {
                    self.line.clear();
                    KeyAction::Redraw
                }
            }
            CTRL_C => KeyAction::Quit,
            CTRL_D if self.line.is_empty() => KeyAction::Quit,
            ESCAPE => {
                // simplified on purpose: a lone Esc followed by a key
                // swallows that key, as we cannot tell it from Alt+key.
                self.escape = EscapeState::Escape;
                KeyAction::Nothing
            }
            0x20..=0x7e => self.push(byte as char),
            // Tab, Ctrl-D on a line, and every other control key.
            _ => KeyAction::Nothing,
        }
    }

    /// A byte of a character that UTF-8 encodes in 2 to 4 bytes.
    fn apply_non_ascii(&mut self, byte: u8) -> KeyAction {
        let is_continuation = byte & 0b1100_0000 == 0b1000_0000;
        if !is_continuation {
            // A leading byte: a new character starts (any unfinished one is
            // dropped).
            self.partial_character.clear();
            self.partial_character.push(byte);
            return KeyAction::Nothing;
        }
        if self.partial_character.is_empty() {
            return KeyAction::Nothing; // A stray continuation byte.
        }
        self.partial_character.push(byte);
        let expected = match self.partial_character[0] {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            _ => 4,
        };
        if self.partial_character.len() < expected {
            return KeyAction::Nothing;
        }
        let bytes = std::mem::take(&mut self.partial_character);
        let character = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| text.chars().next());
        match character {
            Some(c) => self.push(c),
            None => KeyAction::Nothing, // Not valid UTF-8 after all.
        }
    }

    fn push(&mut self, c: char) -> KeyAction {
        // Control characters (C1, U+0080-U+009F) would be obeyed by the
        // terminal when we draw the line; a full line would be refused by
        // the server.
        if c.is_control() || self.line.len() + c.len_utf8() > MAX_LINE_BYTES {
            return KeyAction::Nothing;
        }
        self.line.push(c);
        KeyAction::Redraw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `keys` to a new editor: the actions and the editor.
    fn type_keys(keys: &[u8]) -> (Vec<KeyAction>, Editor) {
        let mut editor = Editor::default();
        let actions = keys.iter().map(|&key| editor.apply_key(key)).collect();
        (actions, editor)
    }

    #[test]
    fn printable_keys_are_appended_and_each_one_redraws() {
        let (actions, editor) = type_keys(b"hi there");
        assert_eq!(editor.line(), "hi there");
        assert!(actions.iter().all(|action| *action == KeyAction::Redraw));
    }

    #[test]
    fn enter_sends_the_line_and_empties_the_editor() {
        let (actions, editor) = type_keys(b"hello\n");
        assert_eq!(actions.last(), Some(&KeyAction::Send("hello".to_string())));
        assert_eq!(editor.line(), "");
        let (actions, _) = type_keys(b"hello\r");
        assert_eq!(actions.last(), Some(&KeyAction::Send("hello".to_string())));
    }

    #[test]
    fn enter_on_an_empty_line_sends_nothing() {
        let (actions, _) = type_keys(b"\n\r");
        assert_eq!(actions, [KeyAction::Nothing, KeyAction::Nothing]);
    }

    #[test]
    fn backspace_deletes_the_last_character_either_byte() {
        let (_, editor) = type_keys(b"abc\x7f");
        assert_eq!(editor.line(), "ab");
        let (_, editor) = type_keys(b"abc\x08\x08");
        assert_eq!(editor.line(), "a");
        let (actions, editor) = type_keys(b"\x7f");
        assert_eq!(actions, [KeyAction::Nothing]);
        assert_eq!(editor.line(), "");
    }

    #[test]
    fn backspace_deletes_a_whole_multi_byte_character() {
        let (_, editor) = type_keys("caf\u{e9}\u{1f600}\x7f".as_bytes());
        assert_eq!(editor.line(), "caf\u{e9}");
        let (_, editor) = type_keys("caf\u{e9}\x7f".as_bytes());
        assert_eq!(editor.line(), "caf");
    }

    #[test]
    fn utf8_characters_are_assembled_from_their_bytes() {
        let text = "h\u{e9}llo \u{4e16}\u{754c} \u{1f600}";
        let (actions, editor) = type_keys(text.as_bytes());
        assert_eq!(editor.line(), text);
        // One redraw per character, none for the bytes in between.
        let redraws = actions.iter().filter(|a| **a == KeyAction::Redraw).count();
        assert_eq!(redraws, text.chars().count());
    }

    #[test]
    fn invalid_utf8_is_dropped() {
        // A stray continuation byte; a leading byte cut short by ASCII; an
        // overlong encoding of '/'.
        let (_, editor) = type_keys(b"a\x80b\xc3c\xc0\xafd");
        assert_eq!(editor.line(), "abcd");
    }

    #[test]
    fn ctrl_u_clears_the_line() {
        let (actions, editor) = type_keys(b"some text\x15");
        assert_eq!(actions.last(), Some(&KeyAction::Redraw));
        assert_eq!(editor.line(), "");
    }

    #[test]
    fn ctrl_d_quits_on_an_empty_line_only() {
        let (actions, _) = type_keys(b"\x04");
        assert_eq!(actions, [KeyAction::Quit]);
        let (actions, editor) = type_keys(b"ab\x04");
        assert_eq!(actions.last(), Some(&KeyAction::Nothing));
        assert_eq!(editor.line(), "ab");
    }

    #[test]
    fn ctrl_c_quits_even_with_text_typed() {
        let (actions, _) = type_keys(b"half a line\x03");
        assert_eq!(actions.last(), Some(&KeyAction::Quit));
    }

    #[test]
    fn arrow_keys_and_alt_keys_are_ignored_whole() {
        // Up, Left (CSI), Home in SS3 form, Alt+x, then F5 with parameters.
        let (_, editor) = type_keys(b"a\x1b[A\x1b[Db\x1bOHc\x1bxd\x1b[15~e");
        assert_eq!(editor.line(), "abcde");
    }

    #[test]
    fn control_keys_are_not_inserted() {
        let (_, editor) = type_keys(b"a\tb\x07c\x01d");
        assert_eq!(editor.line(), "abcd");
        // A C1 control, U+009B, typed as UTF-8: the terminal would obey it.
        let (_, editor) = type_keys("x\u{9b}y".as_bytes());
        assert_eq!(editor.line(), "xy");
    }

    #[test]
    fn the_line_stops_at_the_servers_limit() {
        let mut editor = Editor::default();
        for _ in 0..MAX_LINE_BYTES {
            assert_eq!(editor.apply_key(b'x'), KeyAction::Redraw);
        }
        assert_eq!(editor.apply_key(b'y'), KeyAction::Nothing);
        assert_eq!(editor.line().len(), MAX_LINE_BYTES);
        // A two-byte character does not fit in the last byte either.
        editor.apply_key(DELETE);
        assert_eq!(editor.apply_key(0xc3), KeyAction::Nothing);
        assert_eq!(editor.apply_key(0xa9), KeyAction::Nothing);
        assert_eq!(editor.line().len(), MAX_LINE_BYTES - 1);
    }

    #[test]
    fn sanitize_keeps_ordinary_lines_as_they_are() {
        assert_eq!(sanitize(b"alice> hi there"), "alice> hi there");
        assert_eq!(
            sanitize("bob> caf\u{e9} \u{1f600}".as_bytes()),
            "bob> caf\u{e9} \u{1f600}"
        );
        assert_eq!(sanitize(b"  spaces  "), "  spaces  ");
    }

    #[test]
    fn sanitize_replaces_every_control_character() {
        assert_eq!(sanitize(b"a\x1b[2Jb"), "a?[2Jb");
        assert_eq!(sanitize(b"\x00\x07\x08\t\x7f"), "?????");
        assert_eq!(sanitize("x\u{9b}31my".as_bytes()), "x?31my");
    }

    #[test]
    fn sanitize_drops_one_trailing_carriage_return_only() {
        assert_eq!(sanitize(b"hi\r"), "hi");
        assert_eq!(sanitize(b"hi\r\r"), "hi?");
        assert_eq!(sanitize(b"a\rb"), "a?b");
    }

    #[test]
    fn sanitize_shows_invalid_utf8_as_replacement_characters() {
        assert_eq!(sanitize(b"a\xffb"), "a\u{fffd}b");
    }

    #[test]
    fn visible_tail_shows_the_end_of_a_long_line() {
        assert_eq!(visible_tail("short", 80), "short");
        // 10 columns: 2 for "> ", 1 kept free, 7 for the line.
        assert_eq!(visible_tail("0123456789", 10), "3456789");
        let accented = "\u{e9}".repeat(8);
        assert_eq!(visible_tail(&accented, 10), "\u{e9}".repeat(7));
        assert_eq!(visible_tail("abc", 1), "c");
    }

    #[test]
    fn read_line_capped_splits_lines_and_cuts_long_ones() {
        let mut input: &[u8] = b"one\ntwo\nabcdefgh\nlast";
        let mut lines = Vec::new();
        while let Some(line) = read_line_capped(&mut input, 5).expect("in memory") {
            lines.push(String::from_utf8(line).expect("ASCII"));
        }
        assert_eq!(lines, ["one", "two", "abcde", "fgh", "last"]);
    }

    #[test]
    fn print_above_prompt_erases_the_row_and_redraws_what_was_typed() {
        let (_, editor) = type_keys(b"half a li");
        let mut screen = Vec::new();
        print_above_prompt(&mut screen, "alice> hi", &editor, 80).expect("in memory");
        assert_eq!(
            String::from_utf8(screen).expect("UTF-8"),
            "\r\x1b[2Kalice> hi\n\r\x1b[2K> half a li"
        );
    }
}
