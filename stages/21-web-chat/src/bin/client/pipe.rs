//! The client without a terminal, for scripts: `printf '/nick ada\n/who\n'
//! | stage-21-web-chat-client` sends each line and prints each line
//! from the server, cleaned, until the server closes the connection (which
//! it does once the input has ended: that is how we know all has come).

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;

use anyhow::Result;
use stage_21_web_chat::line::clean;

use super::read_server_line;

pub fn run_pipe(stream: TcpStream) -> Result<()> {
    let mut socket = stream.try_clone()?;
    thread::spawn(move || {
        for line in io::stdin().lock().split(b'\n') {
            let Ok(mut line) = line else { break };
            line.push(b'\n');
            // If the server is gone, the reading below says so.
            let _ = socket.write_all(&line);
        }
        let _ = socket.shutdown(Shutdown::Write);
    });
    let mut reader = BufReader::new(stream);
    let mut out = io::stdout().lock();
    while let Some(line) = read_server_line(&mut reader)? {
        if writeln!(out, "{}", clean(&line)).is_err() {
            // Whoever reads our output has gone (`| head -1`).
            return Ok(());
        }
    }
    eprintln!("connection closed");
    Ok(())
}
