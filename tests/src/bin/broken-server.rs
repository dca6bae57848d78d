//! `broken-server --mode MODE --port N`: a server that makes one of the
//! mistakes learners make, on purpose. The harness's own tests run the
//! stages' checks against each mode and check that the failure says what
//! went wrong (`tests/harness.rs`); teachers can run them to see what each
//! mistake looks like: `just test-stage 3 "target/debug/broken-server --mode one-reply-per-read"`.
//!
//! Written with blocking std I/O and a thread per client, the way a learner
//! might write a first server; only the mistake differs between modes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

const MODES: &[(&str, &str)] = &[
    (
        "close-at-once",
        "accepts a connection and closes it straight away",
    ),
    ("silent", "reads everything and never answers"),
    ("no-crlf", "answers +PONG\\n: the \\r is missing"),
    (
        "bulk-pong",
        "answers $4\\r\\nPONG\\r\\n, a bulk string, where a simple string is due",
    ),
    ("double-pong", "answers every PING twice"),
    (
        "close-after-reply",
        "answers the first PING, then closes the connection",
    ),
    (
        "one-reply-per-read",
        "answers once per read, whatever the read holds",
    ),
    (
        "one-at-a-time",
        "answers PINGs correctly, but serves one client at a time",
    ),
    ("panic-on-read", "panics on the first bytes it reads"),
    ("exit-at-once", "prints an error and exits before listening"),
    (
        "wrong-port",
        "ignores --port and listens on the next port up",
    ),
];

const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

fn main() {
    let mut mode = String::new();
    let mut port: u16 = 6379;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--mode" => mode = args.next().unwrap_or_default(),
            "--port" => port = args.next().and_then(|p| p.parse().ok()).unwrap_or(port),
            _ => {}
        }
    }
    if !MODES.iter().any(|(name, _)| *name == mode) {
        eprintln!("usage: broken-server --mode MODE [--port N]\nmodes:");
        for (name, what) in MODES {
            eprintln!("  {name:20} {what}");
        }
        std::process::exit(2);
    }
    if mode == "exit-at-once" {
        eprintln!("error: could not read the configuration (on purpose)");
        std::process::exit(3);
    }
    if mode == "wrong-port" {
        port = port.wrapping_add(1);
    }
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: port {port} is in use? {error}");
            std::process::exit(1);
        }
    };
    println!("broken-server ({mode}) listening on 127.0.0.1:{port}");
    for stream in listener.incoming().flatten() {
        if mode == "one-at-a-time" {
            serve(stream, &mode);
        } else {
            let mode = mode.clone();
            std::thread::spawn(move || serve(stream, &mode));
        }
    }
}

fn serve(mut stream: TcpStream, mode: &str) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut replies = 0;
    if mode == "close-at-once" {
        return;
    }
    loop {
        let read = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        match mode {
            "silent" => continue,
            "panic-on-read" => panic!("attempt to subtract with overflow (on purpose)"),
            "one-reply-per-read" => {
                let _ = stream.write_all(b"+PONG\r\n");
                continue;
            }
            _ => {}
        }
        buffer.extend_from_slice(&chunk[..read]);
        while buffer.len() >= PING.len() {
            buffer.drain(..PING.len());
            let reply: &[u8] = match mode {
                "no-crlf" => b"+PONG\n",
                "bulk-pong" => b"$4\r\nPONG\r\n",
                "double-pong" => b"+PONG\r\n+PONG\r\n",
                _ => b"+PONG\r\n",
            };
            let _ = stream.write_all(reply);
            replies += 1;
            if mode == "close-after-reply" && replies == 1 {
                std::thread::sleep(Duration::from_millis(10));
                return;
            }
        }
    }
}
