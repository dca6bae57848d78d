//! What clients send when they connect, before any command of yours:
//! redis-cli asks for `COMMAND DOCS`, client libraries name themselves with
//! `CLIENT SETINFO`, redis-benchmark asks `CONFIG GET save`, and a URL such
//! as `redis://host/0` makes a client `SELECT 0`. Each gets a fixed,
//! harmless answer, but for the name a client gives itself, which its
//! connection keeps (`Session`), so that every tool works against this
//! server.

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

/// What the server keeps about one connection between its commands: the
/// name `CLIENT SETNAME` gave it, which `CLIENT GETNAME` answers with.
#[derive(Default)]
pub struct Session {
    pub name: Option<Bytes>,
}

/// `CLIENT SETINFO attribute value`, `CLIENT SETNAME name`, `CLIENT GETNAME`.
pub fn parse_client(args: &[Bytes]) -> Result<Command, Reply> {
    let Some(sub) = args.first() else {
        return Err(wrong_arity("client"));
    };
    // redis-py, the `redis` crate and others name themselves on connect.
    let (expected_length, name) = if sub.eq_ignore_ascii_case(b"SETINFO") {
        (3, "client|setinfo")
    } else if sub.eq_ignore_ascii_case(b"SETNAME") {
        (2, "client|setname")
    } else if sub.eq_ignore_ascii_case(b"GETNAME") {
        (1, "client|getname")
    } else {
        return Err(unknown_subcommand(sub, "CLIENT"));
    };
    if args.len() != expected_length {
        return Err(wrong_arity(name));
    }
    match &args[1..] {
        [] => Ok(Command::GetName),
        // A name is one printable ASCII word, as Redis wants it: it is shown
        // in CLIENT LIST, one client a line, fields split at spaces. An
        // empty name clears the name.
        [name] if name.iter().all(|byte| (b'!'..=b'~').contains(byte)) => {
            Ok(Command::SetName((!name.is_empty()).then(|| name.clone())))
        }
        [_] => Err(Reply::error(
            "Client names cannot contain spaces, newlines or special characters.",
        )),
        _ => Ok(Command::Fixed(Reply::Simple("OK"))),
    }
}

/// `CONFIG GET parameter [parameter ...]`, for the two parameters tools ask
/// about, by their exact names: a glob pattern such as `*` matches nothing
/// here (see the chapter's Notes).
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
    // server keeps nothing on disk, and says so. Each parameter is answered
    // once, named as it was first asked for (`SAVE` gets `SAVE`), as Redis
    // does; Redis's order is its hash table's, which changes from run to
    // run, so ours, the order asked, is as good.
    let mut pairs: Vec<Reply> = Vec::new();
    for name in &args[1..] {
        let value: &'static [u8] = if name.eq_ignore_ascii_case(b"save") {
            b""
        } else if name.eq_ignore_ascii_case(b"appendonly") {
            b"no"
        } else {
            continue;
        };
        let answered = pairs
            .iter()
            .step_by(2)
            .any(|pair| matches!(pair, Reply::Bulk(asked) if asked.eq_ignore_ascii_case(name)));
        if !answered {
            pairs.push(Reply::Bulk(name.clone()));
            pairs.push(Reply::Bulk(Bytes::from_static(value)));
        }
    }
    Ok(Command::Fixed(Reply::Array(pairs)))
}

/// `SELECT index`: there is one key space, database 0, as in Redis Cluster.
pub fn parse_select(args: &[Bytes]) -> Result<Command, Reply> {
    let [index] = args else {
        return Err(wrong_arity("select"));
    };
    // Redis reads the index as a C `int` first, with an error of its own
    // (and its own grammar) for a number that does not fit.
    match parse_integer(index).map(i32::try_from) {
        Some(Ok(0)) => Ok(Command::Fixed(Reply::Simple("OK"))),
        Some(Ok(_)) => Err(Reply::error("DB index is out of range")),
        Some(Err(_)) => Err(Reply::error(
            "value is out of range, value must between -2147483648 and 2147483647",
        )),
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
