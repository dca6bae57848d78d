//! `broken-server --mode MODE --port N`: a server that makes one of the
//! mistakes learners make, on purpose. The harness's own tests run the
//! stages' checks against each mode and check that the failure says what
//! went wrong (`tests/harness.rs`); teachers can run them to see what each
//! mistake looks like: `just test-stage 3 "target/debug/broken-server --mode one-reply-per-read"`.
//!
//! Written with blocking std I/O and a thread per client, the way a learner
//! might write a first server; only the mistake differs between modes. The
//! last modes speak RESP, with a key space, for the checks of stages 6 to 9.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// A server that makes one of the mistakes learners make, on purpose.
#[derive(Parser)]
#[command(name = "broken-server")]
struct Arguments {
    /// Which mistake it makes.
    #[arg(long, value_enum)]
    mode: Mode,
    /// The port to listen on (as a stage takes it).
    #[arg(long, default_value_t = 6379)]
    port: u16,
}

/// The mistakes, one a mode. `--help` lists them with these words.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Accepts a connection and closes it straight away.
    CloseAtOnce,
    /// Reads everything and never answers.
    Silent,
    /// Answers +PONG\n: the \r is missing.
    NoCrlf,
    /// Answers $4\r\nPONG\r\n, a bulk string, where a simple string is due.
    BulkPong,
    /// Answers every PING twice.
    DoublePong,
    /// Answers the first PING, then closes the connection.
    CloseAfterReply,
    /// Answers once per read, whatever the read holds.
    OneReplyPerRead,
    /// Answers PINGs correctly, but serves one client at a time.
    OneAtATime,
    /// Serves its first client until it leaves, then exits: no accept loop.
    ExitsAfterFirstClient,
    /// Panics on the first bytes it reads.
    PanicOnRead,
    /// Prints an error and exits before listening.
    ExitAtOnce,
    /// Crashes on the first bytes it reads as a Go program does: the cause
    /// first, then a hundred lines of goroutine dump.
    GoCrash,
    /// Answers PING right, and prints a race detector's warning.
    WarnsOfRace,
    /// Ignores --port and listens on the next port up.
    WrongPort,
    /// GET and SET right, but SET takes its options (PX, NX, ...) and
    /// ignores them.
    ForgetsExpiry,
    /// A std HashMap, with DEBUG HTSTATS 0 figures made up from the key
    /// count.
    MadeUpHtstats,
    /// Decodes every argument as UTF-8, as Python's `.decode()` does: a
    /// binary one crashes the client's thread with a traceback.
    DecodesUtf8,
    /// A chat server (stage 12) whose broadcast writes to each other
    /// client in turn and waits on every write: one client that does not
    /// read stops everyone.
    BlockingBroadcast,
    /// Reserves a buffer of the length a bulk string declares, before its
    /// bytes arrive.
    ReservesDeclared,
    /// The same chat, refusing lines over 4096 bytes, but reading lines
    /// as Python's `StreamReader.readline()` does: past 64 KiB without a
    /// `\n` it raises, and the client's handler dies.
    ReadlineLimit,
    /// Reads RESP a line at a time, as `readline()` does: a bulk string is
    /// the next line, whatever its declared length, so a value holding
    /// `\n` answers once and then once more for each line of the value.
    LineReader,
    /// Answers PINGs right, a thread per client, but logs each client with
    /// a plain print on its accept loop, and leaves signals to kill it.
    LogsEachClient,
}

impl Mode {
    /// The modes that speak RESP with a key space.
    fn has_key_space(self) -> bool {
        matches!(
            self,
            Mode::ForgetsExpiry
                | Mode::MadeUpHtstats
                | Mode::LineReader
                | Mode::DecodesUtf8
                | Mode::ReservesDeclared
        )
    }
}

const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

fn main() {
    let Arguments { mode, mut port } = Arguments::parse();
    if mode == Mode::ExitAtOnce {
        eprintln!("error: could not read the configuration (on purpose)");
        std::process::exit(3);
    }
    if mode == Mode::WrongPort {
        port = port.wrapping_add(1);
    }
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: port {port} is in use? {error}");
            std::process::exit(1);
        }
    };
    let name = mode
        .to_possible_value()
        .map(|value| value.get_name().to_string())
        .unwrap_or_default();
    println!("broken-server ({name}) listening on 127.0.0.1:{port}");
    let db = Db::default();
    let chat = Chat::default();
    for stream in listener.incoming().flatten() {
        if matches!(mode, Mode::BlockingBroadcast | Mode::ReadlineLimit) {
            let chat = Arc::clone(&chat);
            std::thread::spawn(move || serve_chat(stream, &chat, mode));
        } else if mode.has_key_space() {
            let db = Arc::clone(&db);
            std::thread::spawn(move || serve_key_space(stream, &db, mode));
        } else if mode == Mode::OneAtATime {
            serve(stream, mode);
        } else if mode == Mode::ExitsAfterFirstClient {
            serve(stream, mode);
            return;
        } else if mode == Mode::LogsEachClient {
            // Waits when nobody reads stdout, and the accept loop with it.
            if let Ok(peer) = stream.peer_addr() {
                println!("{peer} connected");
            }
            std::thread::spawn(move || serve(stream, mode));
        } else {
            std::thread::spawn(move || serve(stream, mode));
        }
    }
}

fn serve(mut stream: TcpStream, mode: Mode) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut replies = 0;
    if mode == Mode::CloseAtOnce {
        return;
    }
    loop {
        let read = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        match mode {
            Mode::Silent => continue,
            Mode::PanicOnRead => panic!("attempt to subtract with overflow (on purpose)"),
            Mode::GoCrash => {
                eprintln!("fatal error: concurrent map iteration and map write (on purpose)\n");
                eprintln!("goroutine 7 [running]:\nmain.broadcast(0xc000010000)");
                for frame in 0..105 {
                    eprintln!("\t/home/learner/server.go:{} +0x{frame:x}", 40 + frame);
                }
                std::process::exit(2);
            }
            Mode::WarnsOfRace if replies == 0 => {
                eprintln!("==================\nWARNING: DATA RACE (on purpose)");
                eprintln!("Write at 0x00c000120000 by goroutine 8:\n  main.serve()");
                eprintln!("==================");
            }
            Mode::OneReplyPerRead => {
                let _ = stream.write_all(b"+PONG\r\n");
                continue;
            }
            _ => {}
        }
        buffer.extend_from_slice(&chunk[..read]);
        while buffer.len() >= PING.len() {
            buffer.drain(..PING.len());
            let reply: &[u8] = match mode {
                Mode::NoCrlf => b"+PONG\n",
                Mode::BulkPong => b"$4\r\nPONG\r\n",
                Mode::DoublePong => b"+PONG\r\n+PONG\r\n",
                _ => b"+PONG\r\n",
            };
            let _ = stream.write_all(reply);
            replies += 1;
            if mode == Mode::CloseAfterReply && replies == 1 {
                std::thread::sleep(Duration::from_millis(10));
                return;
            }
        }
    }
}

/// The chat's clients: an id, a nick and a stream to write to.
type Chat = Arc<Mutex<Vec<(usize, String, TcpStream)>>>;

/// Stage 12's chat, with its broadcast done under the lock, one blocking
/// write after another.
fn serve_chat(stream: TcpStream, chat: &Chat, mode: Mode) {
    use std::io::BufRead;
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let mut nick = format!("user{id}");
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let lock = || chat.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    // In the list before the welcome, under the lock: a client that has its
    // welcome is sure to get the lines sent after it.
    {
        let mut clients = lock();
        let _ = writeln!(writer, "Welcome, {nick}! /nick NAME to change it");
        clients.push((id, nick.clone(), writer));
    }
    let to_others = |text: &str| {
        for (other, _, stream) in lock().iter_mut() {
            if *other != id {
                // The mistake: a client that does not read blocks this.
                let _ = stream.write_all(format!("{text}\n").as_bytes());
            }
        }
    };
    let mut reader = std::io::BufReader::new(stream);
    loop {
        let mut bytes = Vec::new();
        match reader.read_until(b'\n', &mut bytes) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&bytes)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        if mode == Mode::ReadlineLimit && line.len() > 64 * 1024 {
            // Its thread dies; the client stays in the list, a ghost.
            eprintln!(
                "Traceback (most recent call last):\n  File \"chat.py\", line 40, in handle\n\
                 asyncio.exceptions.LimitOverrunError: Separator is not found, and chunk exceed \
                 the limit (on purpose)"
            );
            return;
        }
        if mode == Mode::ReadlineLimit && line.len() > 4096 {
            let _ = reader
                .get_mut()
                .write_all(b"! line too long (over 4096 bytes): not sent\n");
            continue;
        }
        if let Some(new) = line.strip_prefix("/nick ") {
            let old = std::mem::replace(&mut nick, new.to_string());
            for (other, name, stream) in lock().iter_mut() {
                if *other == id {
                    *name = nick.clone();
                    let _ = writeln!(stream, "* you are now {nick}");
                }
            }
            to_others(&format!("* {old} is now {nick}"));
        } else {
            to_others(&format!("{nick}> {line}"));
        }
    }
    lock().retain(|(other, _, _)| *other != id);
}

/// Every key, with its value and whether SET gave it an expiry time (which
/// is then forgotten: nothing ever expires).
type Db = Arc<Mutex<HashMap<Vec<u8>, (Vec<u8>, bool)>>>;

/// A RESP server with PING, ECHO, GET, SET, DBSIZE, and DEBUG HTSTATS 0
/// in the mode that makes it up.
fn serve_key_space(mut stream: TcpStream, db: &Db, mode: Mode) {
    if mode == Mode::LineReader {
        return serve_lines(stream, db, mode);
    }
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let mut reserved: Vec<Vec<u8>> = Vec::new();
    loop {
        let read = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        buffer.extend_from_slice(&chunk[..read]);
        if mode == Mode::ReservesDeclared {
            reserve_declared(&buffer, &mut reserved);
        }
        let mut replies = Vec::new();
        while let Some((args, length)) = parse_command(&buffer) {
            buffer.drain(..length);
            if mode == Mode::DecodesUtf8
                && let Some(bad) = args.iter().find_map(|arg| std::str::from_utf8(arg).err())
            {
                eprintln!(
                    "Traceback (most recent call last):\n  File \"server.py\", line 31, in \
                     handle\n    args = [arg.decode() for arg in parse(buffer)]\n\
                     UnicodeDecodeError: 'utf-8' codec can't decode byte in position {}: \
                     invalid start byte (on purpose)",
                    bad.valid_up_to()
                );
                return;
            }
            replies.extend(execute(&args, db, mode));
        }
        if stream.write_all(&replies).is_err() {
            return;
        }
    }
}

/// The line-based reader: `*N`, then for each argument a `$len` line and
/// the line after it, taken as the argument whatever `len` says. A line
/// that is not `*N` where a command should start is an unknown command.
fn serve_lines(stream: TcpStream, db: &Db, mode: Mode) {
    use std::io::BufRead;
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = std::io::BufReader::new(stream);
    let mut next_line = move || {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    line.pop();
                }
                Some(line)
            }
        }
    };
    while let Some(line) = next_line() {
        let count = line
            .strip_prefix(b"*")
            .and_then(|n| std::str::from_utf8(n).ok()?.parse::<usize>().ok());
        let reply = match count {
            Some(count) => {
                let mut args = Vec::new();
                for _ in 0..count {
                    let (Some(_length), Some(arg)) = (next_line(), next_line()) else {
                        return;
                    };
                    args.push(arg);
                }
                execute(&args, db, mode)
            }
            None => error(&format!(
                "unknown command '{}', with args beginning with: ",
                String::from_utf8_lossy(&line[..line.len().min(20)])
            )),
        };
        if writer.write_all(&reply).is_err() {
            return;
        }
    }
}

/// The mistake of `reserves-declared`: a buffer for each `$N` of over 1 MB
/// in `buffer`, made before the bytes arrive (once per length).
fn reserve_declared(buffer: &[u8], reserved: &mut Vec<Vec<u8>>) {
    for piece in buffer.split(|b| *b == b'$').skip(1) {
        let digits: Vec<u8> = piece
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .copied()
            .collect();
        let declared: usize = std::str::from_utf8(&digits)
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if declared > 1 << 20 && !reserved.iter().any(|r| r.capacity() == declared) {
            reserved.push(Vec::with_capacity(declared));
        }
    }
}

/// A whole `*N` array of bulk strings at the front of `buffer`, and its
/// length (no error handling: the checks that use these modes send none).
fn parse_command(buffer: &[u8]) -> Option<(Vec<Vec<u8>>, usize)> {
    fn line(buffer: &[u8], at: usize) -> Option<(usize, usize)> {
        let end = at + buffer.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        let number = std::str::from_utf8(&buffer[at + 1..end])
            .ok()?
            .parse()
            .ok()?;
        Some((number, end + 2))
    }
    let (count, mut at) = line(buffer, 0)?;
    let mut args = Vec::with_capacity(count.min(16));
    for _ in 0..count {
        let (length, start) = line(buffer, at)?;
        args.push(buffer.get(start..start + length)?.to_vec());
        at = start + length + 2;
    }
    (buffer.len() >= at).then_some((args, at))
}

fn bulk(bytes: &[u8]) -> Vec<u8> {
    [format!("${}\r\n", bytes.len()).as_bytes(), bytes, b"\r\n"].concat()
}

fn error(text: &str) -> Vec<u8> {
    format!("-ERR {text}\r\n").into_bytes()
}

fn execute(args: &[Vec<u8>], db: &Db, mode: Mode) -> Vec<u8> {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let mut db = db.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    match (name.as_str(), args.len()) {
        ("ping", 1) => b"+PONG\r\n".to_vec(),
        ("ping" | "echo", 2) => bulk(&args[1]),
        ("get", 2) => db
            .get(&args[1])
            .map_or(b"$-1\r\n".to_vec(), |(value, _)| bulk(value)),
        ("set", 3..) => {
            // The options are read, then forgotten.
            let mut timed = false;
            let mut options = args[3..].iter();
            while let Some(option) = options.next() {
                match option.to_ascii_uppercase().as_slice() {
                    b"EX" | b"PX" | b"EXAT" | b"PXAT" => {
                        timed = true;
                        options.next();
                    }
                    b"NX" | b"XX" | b"GET" | b"KEEPTTL" => {}
                    _ => return error("syntax error"),
                }
            }
            db.insert(args[1].clone(), (args[2].clone(), timed));
            b"+OK\r\n".to_vec()
        }
        ("dbsize", 1) => format!(":{}\r\n", db.len()).into_bytes(),
        ("debug", 3) if mode == Mode::MadeUpHtstats && args[1].eq_ignore_ascii_case(b"HTSTATS") => {
            let timed = db.values().filter(|(_, timed)| *timed).count();
            bulk(made_up_htstats(db.len(), timed).as_bytes())
        }
        ("get" | "set" | "echo" | "dbsize", _) => {
            error(&format!("wrong number of arguments for '{name}' command"))
        }
        _ => error(&format!(
            "unknown command '{}', with args beginning with: ",
            String::from_utf8_lossy(&args[0])
        )),
    }
}

/// What a server without a table of its own might print: the size Redis's
/// table would have, and one key in each slot, never a rehash.
fn made_up_htstats(keys: usize, timed: usize) -> String {
    let table = |count: usize| {
        if count == 0 {
            return "Hash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n"
                .to_string();
        }
        let size = count.next_power_of_two().max(4);
        let percent = |n: usize| n as f64 / size as f64 * 100.0;
        let mut text = format!(
            "Hash table 0 stats (main hash table):\n table size: {size}\n number of elements: \
             {count}\n different slots: {count}\n max chain length: 1\n avg chain length \
             (counted): 1.00\n avg chain length (computed): 1.00\n Chain length distribution:\n"
        );
        if size > count {
            text.push_str(&format!(
                "   0: {} ({:.2}%)\n",
                size - count,
                percent(size - count)
            ));
        }
        text.push_str(&format!("   1: {count} ({:.2}%)\n", percent(count)));
        text
    };
    format!(
        "[Dictionary HT]\n{}[Expires HT]\n{}",
        table(keys),
        table(timed)
    )
}
