//! Stage 11: the stage 10 key space over a length-prefixed binary protocol.
//! Every number big-endian; a request is `| length: u32 | count: u8 |` and
//! length-prefixed strings; a reply is `| length: u32 |` and a typed value
//! (NIL 0, ERR 1, STR 2, INT 3, ARR 4). See `crate::binary`.

use std::time::Duration;

use crate::binary::{self, Value};
use crate::check::{Check, Context, Failure, Stage};
use crate::client::Client;

pub static STAGE: Stage = Stage {
    number: 11,
    name: "binary-protocol",
    summary: "a length-prefixed binary protocol",
    // Stages 2-10 speak RESP: only stage 1's checks (a port, open
    // connections) still apply.
    builds_on: &[1],
    base: 10,
    checks: &[
        Check {
            title: "answers ping with the STR value PONG",
            run: answers_ping,
        },
        Check {
            title: "set then get: STR OK, the value as a STR, NIL for a missing key",
            run: set_then_get,
        },
        Check {
            title: "answers with every type: NIL, ERR, STR, INT and ARR",
            run: every_type,
        },
        Check {
            title: "unknown commands, wrong arity and a request of zero strings get ERR values, and the connection goes on",
            run: bad_requests,
        },
        Check {
            title: "reads a request that arrives one byte at a time",
            run: byte_by_byte,
        },
        Check {
            title: "answers 100 requests sent in one write, in order",
            run: many_in_one_write,
        },
        Check {
            title: "keeps values with every byte value intact",
            run: every_byte_value,
        },
        Check {
            title: "a key set with px expires",
            run: expiry,
        },
        Check {
            title: "a message over 32 MB, a count that does not match the strings, or a string past the end: ERR, then close, nothing allocated",
            run: broken_messages,
        },
        Check {
            title: "serves a second client while the first stays connected",
            run: concurrent_clients,
        },
    ],
};

fn ok() -> Value {
    Value::str("OK")
}

/// Sends a request and expects `expected`.
fn call(client: &mut Client, strings: &[&[u8]], expected: &Value) -> Result<(), Failure> {
    client.send(&binary::request(strings))?;
    client.expect(expected)
}

fn is_error_value(value: &Value) -> bool {
    matches!(value, Value::Err(_))
}

fn answers_ping(context: &mut Context) -> Result<(), Failure> {
    let mut client = context.connect()?;
    call(&mut client, &[b"ping"], &Value::str("PONG")).map_err(|failure| {
        failure.explain(
            "A request is | length: u32 | count: u8 | then per string | length: u32 | bytes |, \
             big-endian; the reply | length: u32 | 2 | 4: u32 | PONG |.",
        )
    })?;
    client.expect_nothing_more()
}

fn set_then_get(context: &mut Context) -> Result<(), Failure> {
    let (key, value, missing) = (context.rng.word(), context.rng.word(), context.rng.word());
    let missing = format!("missing-{missing}");
    let mut client = context.connect()?;
    call(
        &mut client,
        &[b"set", key.as_bytes(), value.as_bytes()],
        &ok(),
    )?;
    call(&mut client, &[b"get", key.as_bytes()], &Value::str(&value))?;
    call(&mut client, &[b"GET", missing.as_bytes()], &Value::Nil).map_err(|failure| {
        failure.explain("A missing key is NIL: the tag 0 alone, a message of 1 byte.")
    })?;
    client.expect_nothing_more()
}

fn every_type(context: &mut Context) -> Result<(), Failure> {
    let prefix = context.rng.word();
    let (a, b) = (format!("{prefix}:a"), format!("{prefix}:b"));
    let pattern = format!("{prefix}:*");
    let mut client = context.connect()?;
    call(&mut client, &[b"set", a.as_bytes(), b"1"], &ok())?;
    call(&mut client, &[b"dbsize"], &Value::Int(1))?;
    call(
        &mut client,
        &[b"keys", pattern.as_bytes()],
        &Value::Arr(vec![Value::str(&a)]),
    )?;
    call(&mut client, &[b"ttl", a.as_bytes()], &Value::Int(-1))?;
    call(&mut client, &[b"ttl", b.as_bytes()], &Value::Int(-2))?;
    call(&mut client, &[b"get", b.as_bytes()], &Value::Nil)?;
    call(
        &mut client,
        &[b"del", a.as_bytes(), b.as_bytes()],
        &Value::Int(1),
    )?;
    call(
        &mut client,
        &[b"keys", pattern.as_bytes()],
        &Value::Arr(vec![]),
    )?;
    client.send(&binary::request(&[b"get"]))?;
    client.expect_matching("an ERR value", is_error_value)?;
    client.expect_nothing_more()
}

/// A bad request is the client's mistake, not a broken stream: an ERR,
/// and the connection goes on.
fn bad_requests(context: &mut Context) -> Result<(), Failure> {
    command_errors(context)?;
    zero_strings(context)
}

fn command_errors(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let unknown = format!("no{word}");
    let mut client = context.connect()?;
    let explain = |failure: Failure| {
        failure.explain(
            "A bad command is answered with an ERR value (tag 1, a length, the message); the \
             connection stays open. Only a broken message closes it.",
        )
    };
    for request in [
        vec![unknown.as_bytes(), b"a".as_slice()],
        vec![b"get"],
        vec![b"set", b"k"],
    ] {
        client.send(&binary::request(&request))?;
        client
            .expect_matching("an ERR value", is_error_value)
            .map_err(explain)?;
        call(&mut client, &[b"ping"], &Value::str("PONG")).map_err(explain)?;
    }
    client.expect_nothing_more()
}

fn zero_strings(context: &mut Context) -> Result<(), Failure> {
    let mut client = context.connect()?;
    client.send(&binary::request(&[]))?;
    client
        .expect_matching("an ERR value", is_error_value)
        .map_err(|failure| {
            failure.explain(
                "The message | 0 0 0 1 | 0 | is well formed: a count of zero strings, no command. \
             Answer it with an ERR value and go on.",
            )
        })?;
    call(&mut client, &[b"ping"], &Value::str("PONG"))?;
    client.expect_nothing_more()
}

fn byte_by_byte(context: &mut Context) -> Result<(), Failure> {
    let (key, value) = (context.rng.word(), context.rng.word());
    let mut client = context.connect()?;
    let request = binary::request(&[b"set", key.as_bytes(), value.as_bytes()]);
    client.send_in_pieces(&request, &vec![1; request.len()], Duration::from_millis(2))?;
    client.expect(&ok()).map_err(|failure| {
        failure.explain(
            "The request arrived one byte per read: wait until 4 + length bytes are buffered, \
             then parse the message.",
        )
    })?;
    call(&mut client, &[b"get", key.as_bytes()], &Value::str(&value))?;
    client.expect_nothing_more()
}

fn many_in_one_write(context: &mut Context) -> Result<(), Failure> {
    let prefix = context.rng.word();
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for i in 0..50 {
        let key = format!("{prefix}:{i}");
        bytes.extend(binary::request(&[b"set", key.as_bytes(), key.as_bytes()]));
        expected.push(ok());
        bytes.extend(binary::request(&[b"get", key.as_bytes()]));
        expected.push(Value::str(&key));
    }
    let mut client = context.connect()?;
    client.send(&bytes)?;
    client.expect_all(&expected).map_err(|failure| {
        failure.explain("100 requests arrived in one write: answer every whole message in the buffer, in order.")
    })?;
    client.expect_nothing_more()
}

fn every_byte_value(context: &mut Context) -> Result<(), Failure> {
    let key = context.rng.word();
    let mut value: Vec<u8> = (0..=255).collect();
    context.rng.shuffle(&mut value);
    let mut client = context.connect()?;
    call(&mut client, &[b"set", key.as_bytes(), &value], &ok())?;
    call(&mut client, &[b"get", key.as_bytes()], &Value::Str(value))?;
    client.expect_nothing_more()
}

fn expiry(context: &mut Context) -> Result<(), Failure> {
    let (key, value) = (context.rng.word(), context.rng.word());
    let mut client = context.connect()?;
    call(
        &mut client,
        &[b"set", key.as_bytes(), value.as_bytes(), b"px", b"300"],
        &ok(),
    )?;
    call(&mut client, &[b"get", key.as_bytes()], &Value::str(&value))?;
    std::thread::sleep(Duration::from_millis(600));
    call(&mut client, &[b"get", key.as_bytes()], &Value::Nil).map_err(|failure| {
        failure.explain("The key was set with px 300 and read 600 ms later: it has expired.")
    })?;
    client.expect_nothing_more()
}

/// A message that breaks the framing: an ERR, then a close.
fn broken_messages(context: &mut Context) -> Result<(), Failure> {
    too_long(context)?;
    malformed_messages(context)
}

fn too_long(context: &mut Context) -> Result<(), Failure> {
    let before = context.server.memory_kib();
    let mut client = context.connect()?;
    // A length prefix of 32 MB + 1, and a few bytes of the message.
    let mut bytes = ((binary::MAX_MESSAGE + 1) as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(b"\x02\0\0\0\x03get");
    client.send(&bytes)?;
    let explain = |failure: Failure| {
        failure.explain(
            "A length prefix over 32 MB is refused before reading the message: answer an ERR \
             value, then close the connection. Do not allocate the announced length.",
        )
    };
    client
        .expect_matching("an ERR value", is_error_value)
        .map_err(explain)?;
    client.expect_closed().map_err(explain)?;
    if let (Some(before), Some(after)) = (before, context.server.memory_kib()) {
        let reserved_mib = after.1.saturating_sub(before.1) / 1024;
        if reserved_mib > 24 {
            return Err(Failure::new(format!(
                "the server reserved {reserved_mib} MB after a client announced a message over 32 MB"
            ))
            .hint("Check the length against the limit before allocating anything for the message."));
        }
    }
    let mut other = context.connect()?;
    call(&mut other, &[b"ping"], &Value::str("PONG"))
}

fn malformed_messages(context: &mut Context) -> Result<(), Failure> {
    let cases: [(&[u8], &str); 3] = [
        // Count 3, but only 2 strings fill the message.
        (
            b"\0\0\0\x0d\x03\0\0\0\x03get\0\0\0\x01k",
            "the count says 3 strings, the message holds 2",
        ),
        // A string of 9 bytes where 3 remain.
        (
            b"\0\0\0\x08\x01\0\0\0\x09get",
            "a string runs past the end of the message",
        ),
        // Count 1, then 2 bytes left over.
        (
            b"\0\0\0\x0a\x01\0\0\0\x03getxx",
            "bytes are left after the announced strings",
        ),
    ];
    for (bytes, what) in cases {
        let mut client = context.connect()?;
        client.send(bytes)?;
        let explain = |failure: Failure| {
            failure.explain(format!(
                "In this message {what}. The length prefix still says where it ends, so answer \
                 an ERR value, then close: the client is not speaking the protocol."
            ))
        };
        client
            .expect_matching("an ERR value", is_error_value)
            .map_err(explain)?;
        client.expect_closed().map_err(explain)?;
    }
    let mut client = context.connect()?;
    call(&mut client, &[b"ping"], &Value::str("PONG"))
}

fn concurrent_clients(context: &mut Context) -> Result<(), Failure> {
    let mut first = context.connect()?;
    call(&mut first, &[b"ping"], &Value::str("PONG"))?;
    let mut second = context.connect()?;
    call(&mut second, &[b"ping"], &Value::str("PONG")).map_err(|failure| {
        failure.explain("Client 1 is still connected: serve each client in a task of its own.")
    })?;
    call(&mut first, &[b"ping"], &Value::str("PONG"))
}
