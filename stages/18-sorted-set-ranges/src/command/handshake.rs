//! What clients send when they connect, before any command of yours:
//! redis-cli asks for `COMMAND DOCS`, client libraries name themselves with
//! `CLIENT SETINFO`, redis-benchmark asks `CONFIG GET save`, and a URL such
//! as `redis://host/0` makes a client `SELECT 0`. Each gets a fixed,
//! harmless answer, so that every tool works against this server.

use bytes::Bytes;

use super::{Command, c_string, not_an_integer, wrong_arity};
use crate::protocol::parse_integer;
use crate::reply::Reply;

// ANCHOR: handshake
/// The commands this stage knows, for `COMMAND COUNT`: PING, ECHO, GET,
/// SET, TTL, PTTL, DBSIZE, DEL, EXISTS, KEYS, FLUSHALL, TYPE, SADD, SREM,
/// SMEMBERS, SISMEMBER, SCARD, DEBUG, QUIT, COMMAND, CLIENT, CONFIG, SELECT,
/// SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB and
/// RESET; ZADD, ZSCORE, ZRANK, ZCARD, ZREM and ZRANGE; and ZINCRBY,
/// ZREVRANK, ZRANGEBYSCORE, ZCOUNT, ZREMRANGEBYRANK and ZREMRANGEBYSCORE.
const COMMAND_COUNT: i64 = 42;

/// `COMMAND`, `COMMAND DOCS [name ...]`, `COMMAND COUNT`.
pub fn parse_command_command(args: &[Bytes]) -> Result<Command, Reply> {
    let Some(sub) = args.first() else {
        // Redis sends its whole command table; an empty one is a harmless
        // answer that clients accept.
        return Ok(Command::Fixed(Reply::Array(Vec::new())));
    };
    if sub.eq_ignore_ascii_case(b"DOCS") {
        // redis-cli asks for this when it starts, for its hints.
        Ok(Command::Fixed(Reply::Array(Vec::new())))
    } else if sub.eq_ignore_ascii_case(b"COUNT") {
        match args.len() {
            1 => Ok(Command::Fixed(Reply::Integer(COMMAND_COUNT))),
            _ => Err(wrong_arity("command|count")),
        }
    } else {
        Err(unknown_subcommand(sub, "COMMAND"))
    }
}

/// `CLIENT SETINFO attribute value`, `CLIENT SETNAME name`, `CLIENT GETNAME`.
pub fn parse_client(args: &[Bytes]) -> Result<Command, Reply> {
    let Some(sub) = args.first() else {
        return Err(wrong_arity("client"));
    };
    // redis-py, the `redis` crate and others name themselves on connect.
    let (expected_length, reply, name) = if sub.eq_ignore_ascii_case(b"SETINFO") {
        (3, Reply::Simple("OK"), "client|setinfo")
    } else if sub.eq_ignore_ascii_case(b"SETNAME") {
        (2, Reply::Simple("OK"), "client|setname")
    } else if sub.eq_ignore_ascii_case(b"GETNAME") {
        // No name is kept: every connection is nameless.
        (1, Reply::Null, "client|getname")
    } else {
        return Err(unknown_subcommand(sub, "CLIENT"));
    };
    if args.len() != expected_length {
        return Err(wrong_arity(name));
    }
    Ok(Command::Fixed(reply))
}

/// `CONFIG GET parameter [parameter ...]`, for the two parameters tools ask
/// about.
pub fn parse_config(args: &[Bytes]) -> Result<Command, Reply> {
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
        pairs.push(Reply::Bulk(Bytes::from(name.to_ascii_lowercase())));
        pairs.push(Reply::Bulk(Bytes::from_static(value)));
    }
    Ok(Command::Fixed(Reply::Array(pairs)))
}

/// `SELECT index`: there is one key space, database 0, as in Redis Cluster.
pub fn parse_select(args: &[Bytes]) -> Result<Command, Reply> {
    let [index] = args else {
        return Err(wrong_arity("select"));
    };
    match parse_integer(index) {
        Some(0) => Ok(Command::Fixed(Reply::Simple("OK"))),
        Some(_) => Err(Reply::error("DB index is out of range")),
        None => Err(not_an_integer()),
    }
}

/// `ERR unknown subcommand 'FOO'. Try CLIENT HELP.`
pub(super) fn unknown_subcommand(sub: &[u8], command: &str) -> Reply {
    let mut message = b"ERR unknown subcommand '".to_vec();
    message.extend_from_slice(c_string(sub, 128));
    message.extend_from_slice(format!("'. Try {command} HELP.").as_bytes());
    Reply::Error(message)
}
// ANCHOR_END: handshake
