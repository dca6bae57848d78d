//! Commands: from a client's arguments to a reply, with Redis's own error
//! messages, byte for byte.
//!
//! Each command first checks its arguments (`parse`), then runs (`execute`):
//! a bad command gets an error reply and the connection goes on.

mod handshake;
mod sorted_sets;
#[cfg(test)]
mod tests;

pub use handshake::Session;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::db::{Condition, Db, Expiry, TimeToLive, WrongType};
use crate::protocol::parse_integer;
use crate::pubsub::{Client, Kind};
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
    /// `DEL key [key ...]`
    Del(Vec<Bytes>),
    /// `EXISTS key [key ...]`
    Exists(Vec<Bytes>),
    /// `KEYS pattern`
    Keys(Bytes),
    /// `FLUSHALL [ASYNC | SYNC]`
    FlushAll,
    /// `TYPE key`
    Type(Bytes),
    /// `SADD key member [member ...]`
    SetAdd {
        key: Bytes,
        members: Vec<Bytes>,
    },
    /// `SREM key member [member ...]`
    SetRemove {
        key: Bytes,
        members: Vec<Bytes>,
    },
    /// `SMEMBERS key`
    SetMembers(Bytes),
    /// `SISMEMBER key member`
    SetIsMember {
        key: Bytes,
        member: Bytes,
    },
    /// `SCARD key`
    SetCard(Bytes),
    /// ZADD, ZINCRBY, ZSCORE, ZRANK, ZREVRANK, ZCARD, ZREM, ZRANGE,
    /// ZRANGEBYSCORE, ZCOUNT, ZREMRANGEBYRANK, ZREMRANGEBYSCORE
    /// (`sorted_sets.rs`).
    SortedSet(sorted_sets::SortedSetCommand),
    /// `DEBUG HTSTATS 0`: the key space's hash tables, in Redis's words.
    HashTableStats,
    /// `QUIT`: reply OK, then close.
    Quit,
    /// `CLIENT SETNAME name`: `None` clears the name.
    SetName(Option<Bytes>),
    /// `CLIENT GETNAME`.
    GetName,
    /// `SUBSCRIBE channel [channel ...]`, `PSUBSCRIBE pattern [pattern ...]`
    Subscribe(Kind, Vec<Bytes>),
    /// `UNSUBSCRIBE [channel ...]`, `PUNSUBSCRIBE [pattern ...]`: no names
    /// is every one.
    Unsubscribe(Kind, Vec<Bytes>),
    /// `PUBLISH channel message`
    Publish {
        channel: Bytes,
        message: Bytes,
    },
    /// `PUBSUB CHANNELS [pattern]`
    Channels(Option<Bytes>),
    /// `PUBSUB NUMSUB [channel ...]`
    NumSub(Vec<Bytes>),
    /// `PUBSUB NUMPAT`
    NumPat,
    /// `RESET`: leave every channel and pattern, and forget the name (all
    /// a connection here has to reset).
    Reset,
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
            b"DEL" if !args.is_empty() => Ok(Command::Del(args.to_vec())),
            b"DEL" => Err(wrong_arity("del")),
            b"EXISTS" if !args.is_empty() => Ok(Command::Exists(args.to_vec())),
            b"EXISTS" => Err(wrong_arity("exists")),
            b"KEYS" => match args {
                [pattern] => Ok(Command::Keys(pattern.clone())),
                _ => Err(wrong_arity("keys")),
            },
            b"FLUSHALL" => match args {
                // The two modes differ in Redis only in which thread frees
                // the memory; here, both free it after the lock.
                [] => Ok(Command::FlushAll),
                [mode]
                    if mode.eq_ignore_ascii_case(b"ASYNC")
                        || mode.eq_ignore_ascii_case(b"SYNC") =>
                {
                    Ok(Command::FlushAll)
                }
                _ => Err(syntax_error()),
            },
            b"TYPE" => match args {
                [key] => Ok(Command::Type(key.clone())),
                _ => Err(wrong_arity("type")),
            },
            b"SADD" => match args {
                [key, members @ ..] if !members.is_empty() => Ok(Command::SetAdd {
                    key: key.clone(),
                    members: members.to_vec(),
                }),
                _ => Err(wrong_arity("sadd")),
            },
            b"SREM" => match args {
                [key, members @ ..] if !members.is_empty() => Ok(Command::SetRemove {
                    key: key.clone(),
                    members: members.to_vec(),
                }),
                _ => Err(wrong_arity("srem")),
            },
            b"SMEMBERS" => match args {
                [key] => Ok(Command::SetMembers(key.clone())),
                _ => Err(wrong_arity("smembers")),
            },
            b"SISMEMBER" => match args {
                [key, member] => Ok(Command::SetIsMember {
                    key: key.clone(),
                    member: member.clone(),
                }),
                _ => Err(wrong_arity("sismember")),
            },
            b"SCARD" => match args {
                [key] => Ok(Command::SetCard(key.clone())),
                _ => Err(wrong_arity("scard")),
            },
            b"ZADD" | b"ZINCRBY" | b"ZSCORE" | b"ZRANK" | b"ZREVRANK" | b"ZCARD" | b"ZREM"
            | b"ZRANGE" | b"ZRANGEBYSCORE" | b"ZCOUNT" | b"ZREMRANGEBYRANK"
            | b"ZREMRANGEBYSCORE" => sorted_sets::parse(&upper, args).map(Command::SortedSet),
            b"DEBUG" => parse_debug(args),
            b"QUIT" => Ok(Command::Quit),
            b"SUBSCRIBE" if args.is_empty() => Err(wrong_arity("subscribe")),
            b"PSUBSCRIBE" if args.is_empty() => Err(wrong_arity("psubscribe")),
            b"SUBSCRIBE" => Ok(Command::Subscribe(Kind::Channel, args.to_vec())),
            b"PSUBSCRIBE" => Ok(Command::Subscribe(Kind::Pattern, args.to_vec())),
            b"UNSUBSCRIBE" => Ok(Command::Unsubscribe(Kind::Channel, args.to_vec())),
            b"PUNSUBSCRIBE" => Ok(Command::Unsubscribe(Kind::Pattern, args.to_vec())),
            b"PUBLISH" => match args {
                [channel, message] => Ok(Command::Publish {
                    channel: channel.clone(),
                    message: message.clone(),
                }),
                _ => Err(wrong_arity("publish")),
            },
            b"PUBSUB" => parse_pubsub(args),
            b"RESET" => match args {
                [] => Ok(Command::Reset),
                _ => Err(wrong_arity("reset")),
            },
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

// ANCHOR: parse_pubsub
/// `PUBSUB CHANNELS [pattern]`, `PUBSUB NUMSUB [channel ...]`, `PUBSUB
/// NUMPAT`, with Redis's errors.
fn parse_pubsub(args: &[Bytes]) -> Result<Command, Reply> {
    let Some((sub, rest)) = args.split_first() else {
        return Err(wrong_arity("pubsub"));
    };
    match (sub.to_ascii_uppercase().as_slice(), rest) {
        (b"CHANNELS", []) => Ok(Command::Channels(None)),
        (b"CHANNELS", [pattern]) => Ok(Command::Channels(Some(pattern.clone()))),
        (b"CHANNELS", _) => {
            let mut message = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
            message.extend_from_slice(c_string(sub, 128));
            message.extend_from_slice(b"'. Try PUBSUB HELP.");
            Err(Reply::Error(message))
        }
        (b"NUMSUB", channels) => Ok(Command::NumSub(channels.to_vec())),
        (b"NUMPAT", []) => Ok(Command::NumPat),
        (b"NUMPAT", _) => Err(wrong_arity("pubsub|numpat")),
        _ => Err(handshake::unknown_subcommand(sub, "PUBSUB")),
    }
}
// ANCHOR_END: parse_pubsub

// ANCHOR: subscribed_mode
impl Command {
    /// `parse` for a client in subscribed mode, which may only (un)subscribe,
    /// PING, QUIT and RESET. As in Redis, an unknown command and a wrong
    /// number of arguments are reported first; the other errors come from
    /// running a command, which the mode forbids.
    pub fn parse_subscribed(args: Vec<Bytes>) -> Result<Command, Reply> {
        let name = full_name(&args);
        let reported_first = [
            "ERR unknown command '",
            "ERR unknown subcommand '",
            "ERR wrong",
        ];
        match Command::parse(args) {
            Ok(
                command @ (Command::Subscribe(..)
                | Command::Unsubscribe(..)
                | Command::Ping(_)
                | Command::Quit
                | Command::Reset),
            ) => Ok(command),
            Err(Reply::Error(text))
                if reported_first
                    .iter()
                    .any(|start| text.starts_with(start.as_bytes())) =>
            {
                Err(Reply::Error(text))
            }
            _ => Err(Reply::error(format!(
                "Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / \
                 RESET are allowed in this context"
            ))),
        }
    }
}

/// A command's name as Redis's errors give it: in lower case, and with
/// its subcommand for the commands that have them (`config|get`).
fn full_name(args: &[Bytes]) -> String {
    let lower = |word: &Bytes| String::from_utf8_lossy(word).to_lowercase();
    let name = args.first().map(lower).unwrap_or_default();
    match args.get(1) {
        Some(sub) if ["command", "client", "config", "pubsub"].contains(&name.as_str()) => {
            format!("{name}|{}", lower(sub))
        }
        _ => name,
    }
}
// ANCHOR_END: subscribed_mode

// ANCHOR: execute
impl Command {
    /// Runs the command against the key space, this connection's
    /// `session`, or Pub/Sub for `client`.
    pub fn execute(self, db: &Db, session: &mut Session, client: &mut Client) -> Reply {
        match self {
            // In subscribed mode, PING answers as a push would look.
            Command::Ping(message) if client.is_subscribed() => Reply::Array(vec![
                Reply::Bulk(Bytes::from_static(b"pong")),
                Reply::Bulk(message.unwrap_or_default()),
            ]),
            Command::Ping(None) => Reply::Simple("PONG"),
            Command::Ping(Some(message)) | Command::Echo(message) => Reply::Bulk(message),
            Command::Get(key) => {
                or_wrong_type(db.get(&key), |value| value.map_or(Reply::Null, Reply::Bulk))
            }
            Command::Set {
                key,
                value,
                expiry,
                condition,
                return_old,
            } => or_wrong_type(
                db.set(&key, &value, expiry, condition, return_old),
                |(set, old)| {
                    if return_old {
                        old.map_or(Reply::Null, Reply::Bulk)
                    } else if set {
                        Reply::Simple("OK")
                    } else {
                        Reply::Null
                    }
                },
            ),
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
            Command::Del(keys) => Reply::Integer(db.delete(&keys) as i64),
            Command::Exists(keys) => Reply::Integer(db.count_existing(&keys) as i64),
            Command::Keys(pattern) => Reply::Array(
                db.keys_matching(&pattern)
                    .into_iter()
                    .map(Reply::Bulk)
                    .collect(),
            ),
            Command::FlushAll => {
                db.clear();
                Reply::Simple("OK")
            }
            Command::Type(key) => Reply::Simple(db.type_of(&key)),
            Command::SetAdd { key, members } => {
                or_wrong_type(db.set_add(&key, &members), |added| {
                    Reply::Integer(added as i64)
                })
            }
            Command::SetRemove { key, members } => {
                or_wrong_type(db.set_remove(&key, &members), |removed| {
                    Reply::Integer(removed as i64)
                })
            }
            Command::SetMembers(key) => or_wrong_type(db.set_members(&key), |members| {
                Reply::Array(members.into_iter().map(Reply::Bulk).collect())
            }),
            Command::SetIsMember { key, member } => {
                or_wrong_type(db.set_contains(&key, &member), |found| {
                    Reply::Integer(i64::from(found))
                })
            }
            Command::SetCard(key) => {
                or_wrong_type(db.set_len(&key), |len| Reply::Integer(len as i64))
            }
            Command::SortedSet(command) => command.execute(db),
            Command::HashTableStats => Reply::Bulk(Bytes::from(db.hash_table_stats())),
            Command::Quit => Reply::Simple("OK"),
            Command::SetName(name) => {
                session.name = name;
                Reply::Simple("OK")
            }
            Command::GetName => session.name.clone().map_or(Reply::Null, Reply::Bulk),
            Command::Fixed(reply) => reply,
            // Their confirmations are in the client's outbox already.
            Command::Subscribe(kind, names) => {
                client.subscribe(kind, &names);
                Reply::Queued
            }
            Command::Unsubscribe(kind, names) => {
                client.unsubscribe(kind, &names);
                Reply::Queued
            }
            Command::Publish { channel, message } => {
                Reply::Integer(client.pubsub().publish(&channel, &message) as i64)
            }
            Command::Channels(pattern) => Reply::Array(
                (client.pubsub().channels(pattern.as_deref()))
                    .into_iter()
                    .map(Reply::Bulk)
                    .collect(),
            ),
            Command::NumSub(channels) => Reply::Array(
                channels
                    .into_iter()
                    .flat_map(|channel| {
                        let count = client.pubsub().subscribers(&channel);
                        [Reply::Bulk(channel), Reply::Integer(count as i64)]
                    })
                    .collect(),
            ),
            Command::NumPat => Reply::Integer(client.pubsub().patterns() as i64),
            Command::Reset => {
                client.unsubscribe_all();
                session.name = None;
                Reply::Simple("RESET")
            }
        }
    }
}
// ANCHOR_END: execute

// ANCHOR: or_wrong_type
/// The reply to a command's result: `reply` of its value, or Redis's error
/// for a key of the wrong type.
fn or_wrong_type<T>(result: Result<T, WrongType>, reply: impl FnOnce(T) -> Reply) -> Reply {
    match result {
        Ok(value) => reply(value),
        Err(WrongType) => Reply::Error(
            b"WRONGTYPE Operation against a key holding the wrong kind of value".to_vec(),
        ),
    }
}
// ANCHOR_END: or_wrong_type

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
