//! Commands: from a client's arguments to a reply, with Redis's own error
//! messages, byte for byte.
//!
//! Each command first checks its arguments (`parse`), then runs (`execute`):
//! a bad command gets an error reply and the connection goes on.

#[cfg(test)]
mod tests;

use bytes::Bytes;

use crate::reply::Reply;

/// A command, checked and ready to run.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Ping(Option<Bytes>),
    Echo(Bytes),
}

// ANCHOR: parse
impl Command {
    /// Checks a command's arguments. `Err` is the error reply to send.
    pub fn parse(args: Vec<Bytes>) -> Result<Command, Reply> {
        let Some(name) = args.first() else {
            return Err(Reply::error("empty command"));
        };
        // Command names are case-insensitive: `ping`, `PING` and `Ping`.
        let upper = name.to_ascii_uppercase();
        let args = &args[1..];
        match upper.as_slice() {
            b"PING" => match args {
                [] => Ok(Command::Ping(None)),
                [message] => Ok(Command::Ping(Some(message.clone()))),
                _ => Err(wrong_arity("ping")),
            },
            b"ECHO" => match args {
                [message] => Ok(Command::Echo(message.clone())),
                _ => Err(wrong_arity("echo")),
            },
            _ => Err(unknown_command(name, args)),
        }
    }
}
// ANCHOR_END: parse

// ANCHOR: execute
impl Command {
    /// Runs the command.
    pub fn execute(self) -> Reply {
        match self {
            Command::Ping(None) => Reply::Simple("PONG"),
            Command::Ping(Some(message)) | Command::Echo(message) => Reply::Bulk(message),
        }
    }
}
// ANCHOR_END: execute

fn wrong_arity(name: &str) -> Reply {
    Reply::error(format!("wrong number of arguments for '{name}' command"))
}

// ANCHOR: unknown_command
/// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `.
// SHORTCUT(stage 8): the name and every argument are quoted whole; Redis
// cuts them at 128 bytes, and at a NUL byte as C strings end.
fn unknown_command(name: &[u8], args: &[Bytes]) -> Reply {
    let mut message = b"ERR unknown command '".to_vec();
    message.extend_from_slice(name);
    message.extend_from_slice(b"', with args beginning with: ");
    for arg in args {
        message.push(b'\'');
        message.extend_from_slice(arg);
        message.extend_from_slice(b"' ");
    }
    Reply::Error(message)
}
// ANCHOR_END: unknown_command
