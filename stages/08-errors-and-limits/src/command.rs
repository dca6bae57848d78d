//! Commands: from a client's arguments to a reply, with Redis's own error
//! messages, byte for byte.
//!
//! Each command first checks its arguments (`parse`), then runs (`execute`):
//! a bad command gets an error reply and the connection goes on.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::db::{Condition, Db, Expiry};
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
    /// `QUIT`: reply OK, then close.
    Quit,
    /// A command that only needs a fixed, harmless answer: the ones client
    /// libraries and tools send when they connect (`COMMAND DOCS`,
    /// `CLIENT SETINFO`, `CONFIG GET save`, `SELECT 0`).
    Fixed(Reply),
}

// ANCHOR: parse
impl Command {
    /// Checks a command's arguments. `Err` is the error reply to send.
    pub fn parse(args: Vec<Bytes>) -> Result<Command, Reply> {
        let Some(name) = args.first() else {
            return Err(Reply::error("empty command"));
        };
        // Command names are case-insensitive: compare an upper-case copy,
        // made on the stack (no name we know is longer than 16 bytes).
        let mut upper = [0u8; 16];
        let known_length = name.len() <= upper.len();
        if known_length {
            upper[..name.len()].copy_from_slice(name);
            upper.make_ascii_uppercase();
        }
        let upper = if known_length {
            &upper[..name.len()]
        } else {
            &[][..]
        };
        let args = &args[1..];
        match upper {
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
            b"QUIT" => Ok(Command::Quit),
            b"COMMAND" => parse_command_command(args),
            b"CLIENT" => parse_client(args),
            b"CONFIG" => parse_config(args),
            b"SELECT" => match args {
                [index] => match parse_integer(index) {
                    Some(0) => Ok(Command::Fixed(Reply::Simple("OK"))),
                    // One key space, database 0, as in Redis Cluster.
                    Some(_) => Err(Reply::error("DB index is out of range")),
                    None => Err(not_an_integer()),
                },
                _ => Err(wrong_arity("select")),
            },
            _ => Err(unknown_command(name, args)),
        }
    }
}
// ANCHOR_END: parse

/// The commands this stage knows, for `COMMAND COUNT`.
const COMMAND_COUNT: i64 = 9;

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

fn parse_command_command(args: &[Bytes]) -> Result<Command, Reply> {
    let Some(sub) = args.first() else {
        // Redis sends its whole command table; an empty one is a harmless
        // answer that clients accept.
        return Ok(Command::Fixed(Reply::Array(Vec::new())));
    };
    if sub.eq_ignore_ascii_case(b"DOCS") {
        // redis-cli asks for this when it starts, for its hints.
        Ok(Command::Fixed(Reply::Array(Vec::new())))
    } else if sub.eq_ignore_ascii_case(b"COUNT") && args.len() == 1 {
        Ok(Command::Fixed(Reply::Integer(COMMAND_COUNT)))
    } else {
        Err(unknown_subcommand(sub, "COMMAND"))
    }
}

fn parse_client(args: &[Bytes]) -> Result<Command, Reply> {
    let Some(sub) = args.first() else {
        return Err(wrong_arity("client"));
    };
    // redis-py, the `redis` crate and others name themselves on connect.
    if sub.eq_ignore_ascii_case(b"SETINFO") && args.len() == 3
        || sub.eq_ignore_ascii_case(b"SETNAME") && args.len() == 2
    {
        Ok(Command::Fixed(Reply::Simple("OK")))
    } else if sub.eq_ignore_ascii_case(b"GETNAME") && args.len() == 1 {
        Ok(Command::Fixed(Reply::Null))
    } else {
        Err(unknown_subcommand(sub, "CLIENT"))
    }
}

fn parse_config(args: &[Bytes]) -> Result<Command, Reply> {
    let Some(sub) = args.first() else {
        return Err(wrong_arity("config"));
    };
    if !sub.eq_ignore_ascii_case(b"GET") {
        return Err(unknown_subcommand(sub, "CONFIG"));
    }
    if args.len() < 2 {
        return Err(wrong_arity("config|get"));
    }
    // redis-benchmark asks about persistence to warn when it is on. This
    // server keeps nothing on disk, and says so.
    let mut pairs = Vec::new();
    for name in &args[1..] {
        let value: &'static [u8] = if name.eq_ignore_ascii_case(b"save") {
            b""
        } else if name.eq_ignore_ascii_case(b"appendonly") {
            b"no"
        } else {
            continue;
        };
        pairs.push(Reply::Bulk(Bytes::copy_from_slice(
            &name.to_ascii_lowercase(),
        )));
        pairs.push(Reply::Bulk(Bytes::from_static(value)));
    }
    Ok(Command::Fixed(Reply::Array(pairs)))
}

// ANCHOR: execute
impl Command {
    /// Runs the command against the key space.
    pub fn execute(self, db: &Db) -> Reply {
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
            Command::Quit => Reply::Simple("OK"),
            Command::Fixed(reply) => reply,
        }
    }
}
// ANCHOR_END: execute

fn wrong_arity(name: &str) -> Reply {
    Reply::error(format!("wrong number of arguments for '{name}' command"))
}

fn syntax_error() -> Reply {
    Reply::error("syntax error")
}

fn not_an_integer() -> Reply {
    Reply::error("value is not an integer or out of range")
}

/// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `, built
/// exactly as Redis builds it: the name cut at 128 bytes, then quoted
/// arguments until the list reaches 128 bytes, each cut to what is left.
/// (A NUL byte ends a string there, as in C.)
fn unknown_command(name: &[u8], args: &[Bytes]) -> Reply {
    fn c_string(bytes: &[u8], max: usize) -> &[u8] {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        &bytes[..end.min(max)]
    }
    let mut quoted = Vec::new();
    for arg in args {
        if quoted.len() >= 128 {
            break;
        }
        let budget = 128 - quoted.len();
        quoted.push(b'\'');
        quoted.extend_from_slice(c_string(arg, budget));
        quoted.extend_from_slice(b"' ");
    }
    let mut message = b"ERR unknown command '".to_vec();
    message.extend_from_slice(c_string(name, 128));
    message.extend_from_slice(b"', with args beginning with: ");
    message.extend_from_slice(&quoted);
    Reply::Error(message)
}

fn unknown_subcommand(sub: &[u8], command: &str) -> Reply {
    let mut message = b"ERR unknown subcommand '".to_vec();
    message.extend_from_slice(&sub[..sub.len().min(128)]);
    message.extend_from_slice(format!("'. Try {command} HELP.").as_bytes());
    Reply::Error(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn error_of(words: &[&str]) -> String {
        match Command::parse(args(words)) {
            Err(Reply::Error(text)) => String::from_utf8(text).unwrap(),
            other => panic!("{words:?}: {other:?}"),
        }
    }

    #[test]
    fn errors_as_redis_words_them() {
        assert_eq!(
            error_of(&["FOO", "a", "b"]),
            "ERR unknown command 'FOO', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            error_of(&["foo"]),
            "ERR unknown command 'foo', with args beginning with: "
        );
        assert_eq!(
            error_of(&["gEt"]),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            error_of(&["PING", "a", "b"]),
            "ERR wrong number of arguments for 'ping' command"
        );
        assert_eq!(
            error_of(&["SET", "k"]),
            "ERR wrong number of arguments for 'set' command"
        );
        assert_eq!(error_of(&["SET", "k", "v", "FOO"]), "ERR syntax error");
        assert_eq!(error_of(&["SET", "k", "v", "EX"]), "ERR syntax error");
        assert_eq!(error_of(&["SET", "k", "v", "NX", "XX"]), "ERR syntax error");
        assert_eq!(
            error_of(&["SET", "k", "v", "EX", "1", "PX", "5"]),
            "ERR syntax error"
        );
        assert_eq!(
            error_of(&["SET", "k", "v", "EX", "abc"]),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            error_of(&["SET", "k", "v", "EX", "0"]),
            "ERR invalid expire time in 'set' command"
        );
        assert_eq!(
            error_of(&["SET", "k", "v", "PX", "-5"]),
            "ERR invalid expire time in 'set' command"
        );
        assert_eq!(
            error_of(&["SET", "k", "v", "EX", "9223372036854775"]),
            "ERR invalid expire time in 'set' command"
        );
        assert_eq!(
            error_of(&["CLIENT", "FOO"]),
            "ERR unknown subcommand 'FOO'. Try CLIENT HELP."
        );
    }

    #[test]
    fn an_unknown_command_quotes_at_most_128_bytes_of_arguments() {
        let long = "x".repeat(200);
        let text = error_of(&["nope", &long, "more"]);
        let quoted = text.split_once("beginning with: ").unwrap().1;
        assert_eq!(quoted, format!("'{}' ", "x".repeat(128)));
    }

    #[test]
    fn set_options_in_any_case_and_order() {
        let command = Command::parse(args(&["set", "k", "v", "nx", "px", "100", "get"])).unwrap();
        let Command::Set {
            condition,
            expiry,
            return_old,
            ..
        } = command
        else {
            panic!("{command:?}");
        };
        assert_eq!(condition, Condition::IfAbsent);
        assert!(return_old);
        assert!(matches!(expiry, Expiry::At(_)));
    }

    #[test]
    fn set_and_get_run_against_the_db() {
        let db = Db::default();
        let run = |words: &[&str]| Command::parse(args(words)).unwrap().execute(&db);
        assert_eq!(run(&["GET", "k"]), Reply::Null);
        assert_eq!(run(&["SET", "k", "v"]), Reply::Simple("OK"));
        assert_eq!(run(&["SET", "k", "w", "NX"]), Reply::Null);
        assert_eq!(
            run(&["SET", "k", "w", "GET"]),
            Reply::Bulk(Bytes::from_static(b"v"))
        );
        assert_eq!(run(&["GET", "k"]), Reply::Bulk(Bytes::from_static(b"w")));
        assert_eq!(run(&["SET", "gone", "v", "PXAT", "1"]), Reply::Simple("OK"));
        assert_eq!(run(&["GET", "gone"]), Reply::Null);
    }
}
