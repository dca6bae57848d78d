//! Stage 5: RESP, with PING, ECHO, GET and SET. Any command, split at any
//! byte or many to a write; replies and errors byte for byte as Redis 7
//! sends them; expiry; protocol errors answered, then the connection closed;
//! and nothing a client merely declares is allocated.

use std::collections::HashMap;
use std::time::Duration;

use crate::check::{Check, Context, Failure, Stage};
use crate::client::Client;
use crate::resp::{self, Reply};

pub static STAGE: Stage = Stage {
    number: 8,
    name: "errors-and-limits",
    summary: "RESP, with PING, ECHO, GET and SET",
    builds_on: &[1, 2, 3, 4],
    base: 7,
    checks: &[
        Check {
            title: "answers PING, and PING with a message as a bulk string",
            run: answers_ping_with_and_without_a_message,
        },
        Check {
            title: "answers ECHO with the same bytes, as a bulk string",
            run: answers_echo,
        },
        Check {
            title: "GET returns what SET stored, and a null bulk string for a missing key",
            run: set_then_get,
        },
        Check {
            title: "takes command names in any letter case",
            run: takes_any_case,
        },
        Check {
            title: "reads a SET that arrives one byte at a time",
            run: reads_a_command_byte_by_byte,
        },
        Check {
            title: "answers 100 commands pipelined in one write, in order",
            run: answers_pipelined_commands,
        },
        Check {
            title: "stores and returns a 1 MB value",
            run: stores_a_large_value,
        },
        Check {
            title: "keeps binary values intact: every byte value, \\0 and \\r\\n inside",
            run: keeps_binary_values,
        },
        Check {
            title: "SET NX only when absent, SET XX only when present, SET GET returns the old value",
            run: set_nx_and_xx,
        },
        Check {
            title: "expiry: PX and EX, KEEPTTL, EXAT and PXAT",
            run: a_key_expires,
        },
        Check {
            title: "a key that expired unread counts as absent: SET NX on it succeeds",
            run: an_unread_expired_key_is_absent,
        },
        Check {
            title: "errors are worded as Redis words them, and the connection lives on",
            run: errors_as_redis,
        },
        Check {
            title: "answers inline commands, as typed into telnet",
            run: answers_inline_commands,
        },
        Check {
            title: "a protocol error is answered with -ERR Protocol error, then the connection closes",
            run: protocol_errors_close_the_connection,
        },
        Check {
            title: "serves other clients while one declares a 500 MB value it never sends, without allocating it",
            run: a_declared_length_is_not_allocated,
        },
        Check {
            title: "answers what client libraries send when they connect",
            run: answers_client_handshakes,
        },
        Check {
            title: "QUIT replies +OK and closes the connection",
            run: quit_closes,
        },
    ],
};

fn ok() -> Reply {
    Reply::simple("OK")
}

fn answers_ping_with_and_without_a_message(context: &mut Context) -> Result<(), Failure> {
    let message = context.rng.word();
    let mut client = context.connect()?;
    client.command(&[b"PING"], &Reply::simple("PONG"))?;
    client.command(&[b"PING", message.as_bytes()], &Reply::bulk(&message))?;
    client.expect_nothing_more()
}

fn answers_echo(context: &mut Context) -> Result<(), Failure> {
    let words: Vec<String> = (0..3).map(|_| context.rng.word()).collect();
    let mut client = context.connect()?;
    for word in &words {
        client
            .command(&[b"ECHO", word.as_bytes()], &Reply::bulk(word))
            .map_err(|failure| {
                failure.explain(
                    "ECHO replies with its argument as a bulk string: `$<length>\\r\\n<bytes>\\r\\n`.",
                )
            })?;
    }
    client.expect_nothing_more()
}

fn set_then_get(context: &mut Context) -> Result<(), Failure> {
    let (key, value, missing) = (context.rng.word(), context.rng.word(), context.rng.word());
    let mut client = context.connect()?;
    client.command(&[b"SET", key.as_bytes(), value.as_bytes()], &ok())?;
    client.command(&[b"GET", key.as_bytes()], &Reply::bulk(&value))?;
    let missing = format!("missing-{missing}");
    client
        .command(&[b"GET", missing.as_bytes()], &Reply::NullBulk)
        .map_err(|failure| {
            failure.explain("A missing key is the null bulk string `$-1\\r\\n`, not an empty one.")
        })?;
    // A second client sees the same key space.
    let mut other = context.connect()?;
    other
        .command(&[b"GET", key.as_bytes()], &Reply::bulk(&value))
        .map_err(|failure| {
            failure.explain(
                "Every client shares one key space: a key one client SETs, another can GET.",
            )
        })?;
    client.expect_nothing_more()
}

fn takes_any_case(context: &mut Context) -> Result<(), Failure> {
    let (key, value) = (context.rng.word(), context.rng.word());
    let set = context.rng.random_case("set");
    let get = context.rng.random_case("get");
    let echo = context.rng.random_case("echo");
    context.title(format!(
        "takes command names in any letter case ({set}, {get}, {echo})"
    ));
    let mut client = context.connect()?;
    client.command(&[set.as_bytes(), key.as_bytes(), value.as_bytes()], &ok())?;
    client.command(&[get.as_bytes(), key.as_bytes()], &Reply::bulk(&value))?;
    client.command(&[echo.as_bytes(), value.as_bytes()], &Reply::bulk(&value))?;
    client.expect_nothing_more()
}

fn reads_a_command_byte_by_byte(context: &mut Context) -> Result<(), Failure> {
    let (key, value) = (context.rng.word(), context.rng.word());
    let mut client = context.connect()?;
    let set = resp::command(&[b"SET", key.as_bytes(), value.as_bytes()]);
    client.send_in_pieces(&set, &vec![1; set.len()], Duration::from_millis(2))?;
    client.expect(&ok()).map_err(|failure| {
        failure.explain(
            "The command arrived one byte per read. A parser must tell \"not all here yet\" \
             from \"wrong\", keep the bytes, and try again after the next read.",
        )
    })?;
    client.command(&[b"GET", key.as_bytes()], &Reply::bulk(&value))?;
    client.expect_nothing_more()
}

fn answers_pipelined_commands(context: &mut Context) -> Result<(), Failure> {
    // A few keys, so that GETs find values SET earlier in the same write.
    let keys: Vec<String> = (0..5).map(|_| context.rng.word()).collect();
    let mut model: HashMap<String, String> = HashMap::new();
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for _ in 0..100 {
        let key = keys[context.rng.between(0, keys.len() - 1)].clone();
        let value = context.rng.word();
        match context.rng.between(0, 3) {
            0 => {
                bytes.extend(resp::command(&[b"SET", key.as_bytes(), value.as_bytes()]));
                model.insert(key, value);
                expected.push(ok());
            }
            1 => {
                bytes.extend(resp::command(&[b"GET", key.as_bytes()]));
                expected.push(model.get(&key).map_or(Reply::NullBulk, Reply::bulk));
            }
            2 => {
                bytes.extend(resp::command(&[b"ECHO", value.as_bytes()]));
                expected.push(Reply::bulk(&value));
            }
            _ => {
                bytes.extend(resp::command(&[b"PING"]));
                expected.push(Reply::simple("PONG"));
            }
        }
    }
    let mut client = context.connect()?;
    client.send(&bytes)?;
    client.expect_all(&expected).map_err(|failure| {
        failure.explain(
            "100 commands arrived in one write. Run every whole command in what you read, in \
             order, before reading again; the replies may go out together.",
        )
    })?;
    client.expect_nothing_more()
}

fn stores_a_large_value(context: &mut Context) -> Result<(), Failure> {
    let key = context.rng.word();
    let value = context.rng.bytes(1024 * 1024);
    let mut client = context.connect()?;
    client
        .command(&[b"SET", key.as_bytes(), &value], &ok())
        .map_err(|failure| {
            failure.explain(
                "A 1 MB value arrives over many reads: keep reading until the bulk string's \
             declared length has arrived.",
            )
        })?;
    client.command(&[b"GET", key.as_bytes()], &Reply::bulk(&value))?;
    client.expect_nothing_more()
}

fn keeps_binary_values(context: &mut Context) -> Result<(), Failure> {
    let key = context.rng.word();
    let mut value: Vec<u8> = (0..=255).collect();
    context.rng.shuffle(&mut value);
    value.extend_from_slice(b"\r\n\0$3\r\n*1\r\n");
    let mut client = context.connect()?;
    client
        .command(&[b"SET", key.as_bytes(), &value], &ok())
        .map_err(|failure| {
            failure.explain(
            "A bulk string is binary-safe: its length says where it ends, so \\r\\n and \\0 inside \
             it are data. Read exactly <length> bytes; do not search for \\r\\n.",
        )
        })?;
    client.command(&[b"GET", key.as_bytes()], &Reply::bulk(&value))?;
    client.command(&[b"ECHO", &value], &Reply::bulk(&value))?;
    client.expect_nothing_more()
}

fn set_nx_and_xx(context: &mut Context) -> Result<(), Failure> {
    let (key, first, second) = (context.rng.word(), context.rng.word(), context.rng.word());
    let (key, first, second) = (key.as_bytes(), first.as_bytes(), second.as_bytes());
    let mut client = context.connect()?;
    let hint = "SET ... NX sets only a missing key, XX only an existing one; when nothing is set, \
                the reply is the null bulk string $-1\\r\\n.";
    client
        .command(&[b"SET", key, first, b"XX"], &Reply::NullBulk)
        .map_err(|f| f.explain(hint))?;
    client.command(&[b"GET", key], &Reply::NullBulk)?;
    client
        .command(&[b"SET", key, first, b"NX"], &ok())
        .map_err(|f| f.explain(hint))?;
    client
        .command(&[b"SET", key, second, b"NX"], &Reply::NullBulk)
        .map_err(|f| f.explain(hint))?;
    client.command(&[b"GET", key], &Reply::bulk(first))?;
    client
        .command(&[b"SET", key, second, b"xx"], &ok())
        .map_err(|f| f.explain(hint))?;
    client.command(&[b"GET", key], &Reply::bulk(second))?;
    // SET ... GET replies with the value it replaced (or nil).
    client
        .command(&[b"SET", key, first, b"GET"], &Reply::bulk(second))
        .map_err(|f| f.explain("SET ... GET replies with the old value instead of OK."))?;
    client.command(&[b"GET", key], &Reply::bulk(first))?;
    client.expect_nothing_more()
}

/// Expiry times in these checks are generous: a learner's server on a busy
/// laptop must not fail on a clock that is a few milliseconds late.
fn a_key_expires(context: &mut Context) -> Result<(), Failure> {
    let (key, value) = (context.rng.word(), context.rng.word());
    let (seconds, kept, past, future) = (
        format!("{key}-ex"),
        format!("{key}-keepttl"),
        format!("{key}-exat"),
        format!("{key}-pxat"),
    );
    let (key, value) = (key.as_bytes(), value.as_bytes());
    let (seconds, kept, past, future) = (
        seconds.as_bytes(),
        kept.as_bytes(),
        past.as_bytes(),
        future.as_bytes(),
    );
    let mut client = context.connect()?;
    client.command(&[b"SET", key, value, b"PX", b"400"], &ok())?;
    // EX counts seconds: 2 s outlives the wait below; 2 ms would not.
    client.command(&[b"SET", seconds, value, b"EX", b"2"], &ok())?;
    // KEEPTTL keeps the 400 ms of the first SET through the second.
    client.command(&[b"SET", kept, b"first", b"PX", b"400"], &ok())?;
    client.command(&[b"SET", kept, value, b"KEEPTTL"], &ok())?;
    // EXAT and PXAT are Unix times: one long past, one far ahead.
    client.command(&[b"SET", past, value, b"EXAT", b"1"], &ok())?;
    client.command(&[b"SET", future, value, b"PXAT", b"99999999999999"], &ok())?;
    client
        .command(&[b"GET", past], &Reply::NullBulk)
        .map_err(|failure| {
            failure.explain("EXAT 1 is a second after 1970: the key has expired already.")
        })?;
    client.command(&[b"GET", key], &Reply::bulk(value)).map_err(|failure| {
        failure.explain("The key was set to live 400 ms, and this GET came at once: it must still be there.")
    })?;
    std::thread::sleep(Duration::from_millis(700));
    client
        .command(&[b"GET", key], &Reply::NullBulk)
        .map_err(|failure| {
            failure.explain(
                "The key was set with PX 400 and read 700 ms later: it has expired, and an expired \
             key is never returned. Store when it expires, and check on every read.",
            )
        })?;
    client
        .command(&[b"GET", kept], &Reply::NullBulk)
        .map_err(|failure| {
            failure.explain("SET ... KEEPTTL keeps the key's expiry time: here 400 ms, long gone.")
        })?;
    client
        .command(&[b"GET", seconds], &Reply::bulk(value))
        .map_err(|failure| {
            failure.explain("EX counts seconds, PX milliseconds: EX 2 lives 2,000 ms.")
        })?;
    client
        .command(&[b"GET", future], &Reply::bulk(value))
        .map_err(|failure| {
            failure.explain("PXAT 99999999999999 is a Unix time in milliseconds, in the year 5138.")
        })?;
    client.expect_nothing_more()
}

fn an_unread_expired_key_is_absent(context: &mut Context) -> Result<(), Failure> {
    let (key, old, new) = (context.rng.word(), context.rng.word(), context.rng.word());
    let mut client = context.connect()?;
    client.command(
        &[b"SET", key.as_bytes(), old.as_bytes(), b"PX", b"100"],
        &ok(),
    )?;
    std::thread::sleep(Duration::from_millis(500));
    client
        .command(&[b"SET", key.as_bytes(), new.as_bytes(), b"NX"], &ok())
        .map_err(|failure| {
            failure.explain(
                "The key expired 400 ms ago and nobody read it since: it counts as absent.",
            )
        })?;
    client.command(&[b"GET", key.as_bytes()], &Reply::bulk(&new))?;
    client.expect_nothing_more()
}

fn errors_as_redis(context: &mut Context) -> Result<(), Failure> {
    let (word, arg) = (context.rng.word(), context.rng.word());
    let unknown = format!("no{word}");
    let cases: Vec<(Vec<&[u8]>, String)> = vec![
        (
            vec![unknown.as_bytes(), arg.as_bytes(), b"two"],
            format!("ERR unknown command '{unknown}', with args beginning with: '{arg}' 'two' "),
        ),
        (
            vec![b"GET"],
            "ERR wrong number of arguments for 'get' command".into(),
        ),
        (
            vec![b"gEt", b"a", b"b"],
            "ERR wrong number of arguments for 'get' command".into(),
        ),
        (
            vec![b"ECHO"],
            "ERR wrong number of arguments for 'echo' command".into(),
        ),
        (
            vec![b"SET", b"k"],
            "ERR wrong number of arguments for 'set' command".into(),
        ),
        (vec![b"SET", b"k", b"v", b"NOPE"], "ERR syntax error".into()),
        (
            vec![b"SET", b"k", b"v", b"NX", b"XX"],
            "ERR syntax error".into(),
        ),
        (vec![b"SET", b"k", b"v", b"EX"], "ERR syntax error".into()),
        (
            vec![b"SET", b"k", b"v", b"EX", b"soon"],
            "ERR value is not an integer or out of range".into(),
        ),
        (
            vec![b"SET", b"k", b"v", b"EX", b"0"],
            "ERR invalid expire time in 'set' command".into(),
        ),
        (
            vec![b"SET", b"k", b"v", b"PX", b"-5"],
            "ERR invalid expire time in 'set' command".into(),
        ),
    ];
    let mut client = context.connect()?;
    for (args, error) in &cases {
        client
            .command(args, &Reply::error(error))
            .map_err(|failure| {
                failure.explain(
                    "Error replies are matched byte for byte with Redis 7's: `-<message>\\r\\n`.",
                )
            })?;
        client
            .command(&[b"PING"], &Reply::simple("PONG"))
            .map_err(|failure| {
                failure.explain("After an error reply the connection must stay open and go on.")
            })?;
    }
    client.expect_nothing_more()
}

fn answers_inline_commands(context: &mut Context) -> Result<(), Failure> {
    let (key, word) = (context.rng.word(), context.rng.word());
    let mut client = context.connect()?;
    let explain = |failure: Failure| {
        failure.explain(
            "A line that does not start with '*' is an inline command: words separated by \
             spaces, \"double quotes\" around a word with spaces, ending in \\r\\n or \\n.",
        )
    };
    client.send(b"PING\r\n")?;
    client.expect(&Reply::simple("PONG")).map_err(explain)?;
    client.send(format!("SET {key} \"hello {word}\"\r\n").as_bytes())?;
    client.expect(&ok()).map_err(explain)?;
    client.send(format!("GET {key}\n").as_bytes())?;
    client
        .expect(&Reply::bulk(format!("hello {word}")))
        .map_err(explain)?;
    client.send(format!("echo   {word}  \r\n").as_bytes())?;
    client.expect(&Reply::bulk(&word)).map_err(explain)?;
    client.expect_nothing_more()
}

fn protocol_errors_close_the_connection(context: &mut Context) -> Result<(), Failure> {
    let cases: [(&[u8], &str); 4] = [
        (b"*1\r\n$abc\r\n", "ERR Protocol error: invalid bulk length"),
        (
            b"*2\r\n+foo\r\n",
            "ERR Protocol error: expected '$', got '+'",
        ),
        (b"*x\r\n", "ERR Protocol error: invalid multibulk length"),
        (
            b"*1048577\r\n",
            "ERR Protocol error: invalid multibulk length",
        ),
    ];
    for (bytes, error) in cases {
        let mut client = context.connect()?;
        client.send(bytes)?;
        client.expect(&Reply::error(error)).map_err(|failure| {
            failure.explain(
                "These bytes are not RESP a client may send. Redis answers with the \
                 Protocol error shown, then closes the connection.",
            )
        })?;
        client.expect_closed()?;
    }
    // The server itself goes on.
    let mut client = context.connect()?;
    client.command(&[b"PING"], &Reply::simple("PONG"))
}

fn a_declared_length_is_not_allocated(context: &mut Context) -> Result<(), Failure> {
    let (key, value) = (context.rng.word(), context.rng.word());
    let before = context.server.memory_kib();
    let mut claimer = context.connect()?;
    // A 500 MB value is declared, and 16 KB of it sent.
    let mut bytes = format!(
        "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$524288000\r\n",
        key.len()
    )
    .into_bytes();
    bytes.extend(vec![b'x'; 16 * 1024]);
    claimer.send(&bytes)?;
    // And a million arguments, from another client.
    let mut counter = context.connect()?;
    counter.send(b"*1048576\r\n$3\r\nSET\r\n")?;
    std::thread::sleep(Duration::from_millis(300));
    let mut other = context.connect()?;
    other
        .command(&[b"SET", key.as_bytes(), value.as_bytes()], &ok())
        .map_err(|failure| {
            failure.explain(
                "Another client is in the middle of sending a huge value. Waiting for its bytes \
                 must not stop the server from serving anyone else.",
            )
        })?;
    other.command(&[b"GET", key.as_bytes()], &Reply::bulk(&value))?;
    if let (Some(before), Some(after)) = (before, context.server.memory_kib()) {
        // Resident memory: what was touched. Virtual memory: also what was
        // only reserved. New threads (a thread per client) reserve stacks and
        // allocator arenas, a few tens of MB each: the limits leave room.
        let resident_mib = after.0.saturating_sub(before.0) / 1024;
        let virtual_mib = after.1.saturating_sub(before.1) / 1024;
        if resident_mib > 64 || virtual_mib > 400 {
            return Err(Failure::new(format!(
                "the server's memory grew by {resident_mib} MB resident and {virtual_mib} MB \
                 reserved after a client declared a 500 MB value and another a million \
                 arguments, and they sent 16 KB"
            ))
            .detail(
                "memory",
                format!(
                    "resident {} MB before, {} MB after; reserved {} MB before, {} MB after",
                    before.0 / 1024,
                    after.0 / 1024,
                    before.1 / 1024,
                    after.1 / 1024
                ),
            )
            .hint(
                "Allocate only for bytes that have arrived, never for a length a client merely \
                 declares: a client can declare anything. No `Vec::with_capacity(declared)`, \
                 no `reserve(declared)`.",
            ));
        }
    }
    // The claimer's connection is still open: it may yet send its value.
    claimer.expect_open_and_quiet(Duration::from_millis(50))
}

fn answers_client_handshakes(context: &mut Context) -> Result<(), Failure> {
    let mut client = context.connect()?;
    let explain = |failure: Failure| {
        failure.explain(
            "redis-cli, redis-py and the `redis` crate send these when they connect. Answer as \
             Redis 7.2 does: CLIENT SETINFO and SELECT 0 with +OK, COMMAND DOCS with an array.",
        )
    };
    client
        .command(
            &[b"CLIENT", b"SETINFO", b"LIB-NAME", b"course-tester"],
            &ok(),
        )
        .map_err(explain)?;
    client.command(&[b"SELECT", b"0"], &ok()).map_err(explain)?;
    client.send(&resp::command(&[b"COMMAND", b"DOCS"]))?;
    client
        .expect_such("an array", |reply: &Reply| matches!(reply, Reply::Array(_)))
        .map_err(explain)?;
    client.command(&[b"PING"], &Reply::simple("PONG"))?;
    client.expect_nothing_more()
}

fn quit_closes(context: &mut Context) -> Result<(), Failure> {
    let mut client: Client = context.connect()?;
    client.send(&[resp::command(&[b"QUIT"]), resp::command(&[b"PING"])].concat())?;
    client.expect(&ok())?;
    client.expect_closed().map_err(|failure| {
        failure
            .explain("QUIT: reply +OK, then close the connection; commands after it are not run.")
    })
}
