//! Commands: from a client's arguments to a reply, with Redis's own error
//! messages, byte for byte.
//!
//! Each command first checks its arguments (`parse`), then runs (`execute`):
//! a bad command gets an error reply and the connection goes on.

mod handshake;
#[cfg(test)]
mod tests;

pub use handshake::Session;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::db::{Condition, Db, Expiry, TimeToLive};
use crate::protocol::parse_integer;
use crate::reply::Reply;

/// A command, checked and ready to run.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Ping(Option<Bytes>),
    Echo(Bytes),
    Get(Bytes),
    Set {
        key: Bytes,
        value: Bytes,
        expiry: Expiry,
        condition: Condition,
        return_old: bool,
    },
    /// `TTL key` (seconds) or `PTTL key` (milliseconds).
    Ttl {
        key: Bytes,
        milliseconds: bool,
    },
    DbSize,
    /// `DEBUG HTSTATS 0`: the key space's hash tables, in Redis's words.
    HashTableStats,
    /// `QUIT`: reply OK, then close.
    Quit,
    /// `CLIENT SETNAME name`: `None` clears the name.
    SetName(Option<Bytes>),
    /// `CLIENT GETNAME`.
    GetName,
    /// A command that only needs a fixed, harmless answer: the ones client
    /// libraries and tools send when they connect (`handshake.rs`).
    Fixed(Reply),
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
            b"GET" => match args {
                [key] => Ok(Command::Get(key.clone())),
                _ => Err(wrong_arity("get")),
            },
            b"SET" => parse_set(args),
            b"TTL" => match args {
                [key] => Ok(Command::Ttl {
                    key: key.clone(),
                    milliseconds: false,
                }),
                _ => Err(wrong_arity("ttl")),
            },
            b"PTTL" => match args {
                [key] => Ok(Command::Ttl {
                    key: key.clone(),
                    milliseconds: true,
                }),
                _ => Err(wrong_arity("pttl")),
            },
            b"DBSIZE" => match args {
                [] => Ok(Command::DbSize),
                _ => Err(wrong_arity("dbsize")),
            },
            b"DEBUG" => parse_debug(args),
            b"QUIT" => Ok(Command::Quit),
            b"COMMAND" => handshake::parse_command_command(args),
            b"CLIENT" => handshake::parse_client(args),
            b"CONFIG" => handshake::parse_config(args),
            b"SELECT" => handshake::parse_select(args),
            _ => Err(unknown_command(name, args)),
        }
    }
}
// ANCHOR_END: parse

// ANCHOR: parse_set
/// `SET key value [NX | XX] [GET] [EX seconds | PX milliseconds |
/// EXAT unix-seconds | PXAT unix-milliseconds | KEEPTTL]`, checked in the
/// order Redis checks it: first the options' shape (`syntax error`), then
/// the time (`not an integer`, then `invalid expire time`).
fn parse_set(args: &[Bytes]) -> Result<Command, Reply> {
    let [key, value, options @ ..] = args else {
        return Err(wrong_arity("set"));
    };
    #[derive(Clone, Copy, PartialEq)]
    enum Unit {
        Seconds,
        Milliseconds,
        UnixSeconds,
        UnixMilliseconds,
    }
    let mut condition = Condition::Always;
    let mut return_old = false;
    let mut keep_ttl = false;
    let mut time: Option<(Unit, &Bytes)> = None;
    let mut i = 0;
    while i < options.len() {
        let option = &options[i];
        let next = options.get(i + 1);
        let is = |name: &str| option.eq_ignore_ascii_case(name.as_bytes());
        if is("NX") && condition != Condition::IfPresent {
            condition = Condition::IfAbsent;
        } else if is("XX") && condition != Condition::IfAbsent {
            condition = Condition::IfPresent;
        } else if is("GET") {
            return_old = true;
        } else if is("KEEPTTL") && time.is_none() {
            keep_ttl = true;
        } else if let (Some(unit), Some(next)) = (
            [
                ("EX", Unit::Seconds),
                ("PX", Unit::Milliseconds),
                ("EXAT", Unit::UnixSeconds),
                ("PXAT", Unit::UnixMilliseconds),
            ]
            .into_iter()
            .find(|(name, _)| is(name))
            .map(|(_, unit)| unit),
            next,
        ) {
            // The same option twice is allowed (the last one counts); two
            // different ones, or one with KEEPTTL, are not.
            if keep_ttl || time.is_some_and(|(other, _)| other != unit) {
                return Err(syntax_error());
            }
            time = Some((unit, next));
            i += 1;
        } else {
            return Err(syntax_error());
        }
        i += 1;
    }
    let expiry = match time {
        None if keep_ttl => Expiry::Keep,
        None => Expiry::Never,
        Some((unit, text)) => {
            let number = parse_integer(text).ok_or_else(not_an_integer)?;
            let milliseconds = match unit {
                Unit::Seconds | Unit::UnixSeconds => number.checked_mul(1000),
                Unit::Milliseconds | Unit::UnixMilliseconds => Some(number),
            };
            let invalid = || Reply::error("invalid expire time in 'set' command");
            let milliseconds = milliseconds.filter(|&ms| ms > 0).ok_or_else(invalid)?;
            // Redis turns a relative time into a Unix time in milliseconds,
            // and rejects one that overflows: so do we, to give the same
            // answer at the edges.
            if matches!(unit, Unit::Seconds | Unit::Milliseconds)
                && unix_millis_now().checked_add(milliseconds).is_none()
            {
                return Err(invalid());
            }
            let at = match unit {
                Unit::Seconds | Unit::Milliseconds => {
                    Instant::now().checked_add(Duration::from_millis(milliseconds as u64))
                }
                Unit::UnixSeconds | Unit::UnixMilliseconds => instant_of_unix_millis(milliseconds),
            };
            Expiry::At(at.ok_or_else(invalid)?)
        }
    };
    Ok(Command::Set {
        key: key.clone(),
        value: value.clone(),
        expiry,
        condition,
        return_old,
    })
}
// ANCHOR_END: parse_set

fn unix_millis_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

/// The monotonic instant of a wall-clock time given in Unix milliseconds
/// (EXAT, PXAT). A time in the past is "now": the key expires at once.
fn instant_of_unix_millis(milliseconds: i64) -> Option<Instant> {
    let now_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis();
    let target = u128::try_from(milliseconds).ok()?;
    let from_now = target.saturating_sub(now_unix);
    Instant::now().checked_add(Duration::from_millis(u64::try_from(from_now).ok()?))
}

// ANCHOR: parse_debug
/// `DEBUG HTSTATS <dbid>`, the one DEBUG subcommand here, with Redis's
/// errors. There is one key space, database 0 (as `SELECT` says).
fn parse_debug(args: &[Bytes]) -> Result<Command, Reply> {
    match args {
        [] => Err(wrong_arity("debug")),
        [sub, dbid] if sub.eq_ignore_ascii_case(b"HTSTATS") => match parse_integer(dbid) {
            Some(0) => Ok(Command::HashTableStats),
            Some(_) => Err(Reply::error("Out of range database")),
            None => Err(not_an_integer()),
        },
        [sub, ..] => {
            let mut message = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
            message.extend_from_slice(c_string(sub, 128));
            message.extend_from_slice(b"'. Try DEBUG HELP.");
            Err(Reply::Error(message))
        }
    }
}
// ANCHOR_END: parse_debug

// ANCHOR: execute
impl Command {
    /// Runs the command against the key space, or this connection's
    /// `session`.
    pub fn execute(self, db: &Db, session: &mut Session) -> Reply {
        match self {
            Command::Ping(None) => Reply::Simple("PONG"),
            Command::Ping(Some(message)) | Command::Echo(message) => Reply::Bulk(message),
            Command::Get(key) => db.get(&key).map_or(Reply::Null, Reply::Bulk),
            Command::Set {
                key,
                value,
                expiry,
                condition,
                return_old,
            } => {
                let (set, old) = db.set(&key, &value, expiry, condition);
                if return_old {
                    old.map_or(Reply::Null, Reply::Bulk)
                } else if set {
                    Reply::Simple("OK")
                } else {
                    Reply::Null
                }
            }
            Command::Ttl { key, milliseconds } => Reply::Integer(match db.time_to_live(&key) {
                TimeToLive::Missing => -2,
                TimeToLive::Forever => -1,
                // Whole milliseconds rounded up, as Redis's millisecond clock
                // gives them (PTTL right after PX 1500 is 1500, not 1499);
                // TTL is that rounded to the nearest second, as in Redis.
                TimeToLive::Left(left) if milliseconds => whole_milliseconds(left),
                TimeToLive::Left(left) => (whole_milliseconds(left) + 500) / 1000,
            }),
            Command::DbSize => Reply::Integer(db.len() as i64),
            Command::HashTableStats => Reply::Bulk(Bytes::from(db.hash_table_stats())),
            Command::Quit => Reply::Simple("OK"),
            Command::SetName(name) => {
                session.name = name;
                Reply::Simple("OK")
            }
            Command::GetName => session.name.clone().map_or(Reply::Null, Reply::Bulk),
            Command::Fixed(reply) => reply,
        }
    }
}
// ANCHOR_END: execute

/// A duration in milliseconds, any fraction of one counted as a whole.
fn whole_milliseconds(left: Duration) -> i64 {
    left.as_nanos().div_ceil(1_000_000) as i64
}

fn wrong_arity(name: &str) -> Reply {
    Reply::error(format!("wrong number of arguments for '{name}' command"))
}

fn syntax_error() -> Reply {
    Reply::error("syntax error")
}

fn not_an_integer() -> Reply {
    Reply::error("value is not an integer or out of range")
}

// ANCHOR: unknown_command
/// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `, built
/// exactly as Redis builds it: the name cut at 128 bytes, then quoted
/// arguments until the list reaches 128 bytes, each cut to what is left.
fn unknown_command(name: &[u8], args: &[Bytes]) -> Reply {
    let mut message = b"ERR unknown command '".to_vec();
    message.extend_from_slice(c_string(name, 128));
    message.extend_from_slice(b"', with args beginning with: ");
    let list_start = message.len();
    for arg in args {
        let listed = message.len() - list_start;
        if listed >= 128 {
            break;
        }
        message.push(b'\'');
        message.extend_from_slice(c_string(arg, 128 - listed));
        message.extend_from_slice(b"' ");
    }
    Reply::Error(message)
}

/// What C's `printf("%.*s")` prints of `bytes`: up to the first NUL byte
/// (where a C string ends), and at most `max` bytes.
fn c_string(bytes: &[u8], max: usize) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end.min(max)]
}
// ANCHOR_END: unknown_command
