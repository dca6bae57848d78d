//! My server for the course: it starts empty, and stage by stage becomes a
//! Redis, then a chat server.
//!
//! The tester runs it as `my-server --port N` and talks to it on
//! 127.0.0.1:N. `just test-stage 1` runs stage 1's checks against it,
//! `just progress` shows how far it gets, `just hint 1` gives a hint.
//!
//! Stage 1 (tutorial/src/01-bind-port.md): listen on that port, accept
//! connections and keep them open.

fn main() {
    let port = port_from_arguments();
    println!("my-server was asked to listen on port {port}; it does not listen yet");
    // Stage 1 starts here.
}

/// The number after `--port` (6379, Redis's port, when there is none).
fn port_from_arguments() -> u16 {
    let mut port = 6379;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--port" {
            let value = args.next().unwrap_or_default();
            port = value.parse().unwrap_or_else(|_| {
                eprintln!("--port {value}: a port is a number from 0 to 65535");
                std::process::exit(2);
            });
        }
    }
    port
}
