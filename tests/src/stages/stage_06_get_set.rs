//! Stage 6: GET and SET. One key space, shared by every connection: what
//! one client SETs, any client GETs; a missing key is the null bulk string;
//! keys and values are bytes, of any size; and many clients writing at once
//! each read their own writes.

use std::collections::HashMap;
use std::time::Duration;

use super::expect_errors;
use crate::check::{Check, Context, Failure, Stage};
use crate::client::Client;
use crate::random::Rng;
use crate::resp::{self, Reply};

pub static STAGE: Stage = Stage {
    number: 6,
    name: "get-set",
    summary: "GET and SET: a key space shared by all clients",
    builds_on: &[1, 2, 3, 4, 5],
    base: 5,
    checks: &[
        Check {
            title: "GET returns what SET stored, and a null bulk string for a missing key",
            run: set_then_get,
        },
        Check {
            title: "a second SET of a key replaces its value",
            run: set_replaces,
        },
        Check {
            title: "two clients see each other's writes",
            run: two_clients_share_the_key_space,
        },
        Check {
            title: "keeps keys and values byte for byte: every byte value, \\0 and \\r\\n inside, the empty string",
            run: keeps_binary_keys_and_values,
        },
        Check {
            title: "stores and returns a 1 MB value",
            run: stores_a_large_value,
        },
        Check {
            title: "answers 100 SETs and GETs pipelined in one write, each GET seeing the SETs before it",
            run: answers_pipelined_commands,
        },
        Check {
            title: "GET and SET with the wrong arguments get Redis's errors, and the connection lives on",
            run: errors_as_redis,
        },
        Check {
            title: "20 clients writing at once each read their own writes",
            run: many_clients_write_at_once,
        },
    ],
};

fn ok() -> Reply {
    Reply::simple("OK")
}

fn set_then_get(context: &mut Context) -> Result<(), Failure> {
    let (key, value, missing) = (context.rng.word(), context.rng.word(), context.rng.word());
    let set = context.rng.random_case("set");
    let get = context.rng.random_case("get");
    let mut client = context.connect()?;
    client
        .command(&[set.as_bytes(), key.as_bytes(), value.as_bytes()], &ok())
        .map_err(|failure| failure.explain("SET key value stores the value and answers +OK."))?;
    client
        .command(&[get.as_bytes(), key.as_bytes()], &Reply::bulk(&value))
        .map_err(|failure| {
            failure.explain(
                "GET key answers the value as a bulk string: `$<length>\\r\\n<bytes>\\r\\n`.",
            )
        })?;
    let missing = format!("missing-{missing}");
    client
        .command(&[b"GET", missing.as_bytes()], &Reply::NullBulk)
        .map_err(|failure| {
            failure.explain("A missing key is the null bulk string `$-1\\r\\n`, not an empty one.")
        })?;
    client.expect_nothing_more()
}

fn set_replaces(context: &mut Context) -> Result<(), Failure> {
    let key = context.rng.word();
    let values: Vec<String> = (0..3).map(|_| context.rng.word()).collect();
    let mut client = context.connect()?;
    for value in &values {
        client.command(&[b"SET", key.as_bytes(), value.as_bytes()], &ok())?;
        client
            .command(&[b"GET", key.as_bytes()], &Reply::bulk(value))
            .map_err(|failure| {
                failure.explain("A key holds one value: SET on a key that exists replaces it.")
            })?;
    }
    client.expect_nothing_more()
}

fn two_clients_share_the_key_space(context: &mut Context) -> Result<(), Failure> {
    let (key, first, second) = (context.rng.word(), context.rng.word(), context.rng.word());
    let mut one = context.connect()?;
    let mut two = context.connect()?;
    let explain = |failure: Failure| {
        failure.explain(
            "Every client shares one key space: a key one client SETs, another GETs. A map \
             created per connection is not shared; one map for the whole server, behind a \
             lock that every connection takes, is (in Rust, an `Arc<Mutex<...>>` cloned into \
             each connection's task).",
        )
    };
    one.command(&[b"SET", key.as_bytes(), first.as_bytes()], &ok())?;
    two.command(&[b"GET", key.as_bytes()], &Reply::bulk(&first))
        .map_err(explain)?;
    two.command(&[b"SET", key.as_bytes(), second.as_bytes()], &ok())?;
    one.command(&[b"GET", key.as_bytes()], &Reply::bulk(&second))
        .map_err(explain)?;
    // A client that connects later sees them too.
    let mut three = context.connect()?;
    three
        .command(&[b"GET", key.as_bytes()], &Reply::bulk(&second))
        .map_err(explain)?;
    one.expect_nothing_more()?;
    two.expect_nothing_more()
}

fn keeps_binary_keys_and_values(context: &mut Context) -> Result<(), Failure> {
    let mut value: Vec<u8> = (0..=255).collect();
    context.rng.shuffle(&mut value);
    value.extend_from_slice(b"\r\n\0$3\r\n*1\r\n");
    let mut key = b"key\r\n\0".to_vec();
    key.extend(context.rng.bytes(16));
    let word = context.rng.word();
    let mut client = context.connect()?;
    let explain = |failure: Failure| {
        failure.explain(
            "Keys and values are bytes: \\r\\n and \\0 inside them are data, and the empty \
             string is a key and a value like any other (`$0\\r\\n\\r\\n`, not `$-1\\r\\n`). \
             Keep them as bytes, never decoded as UTF-8 text (Rust's `Vec<u8>` or `Bytes`, \
             Go's `[]byte`, Python's `bytes`).",
        )
    };
    client
        .command(&[b"SET", &key, &value], &ok())
        .map_err(explain)?;
    client
        .command(&[b"GET", &key], &Reply::bulk(&value))
        .map_err(explain)?;
    client
        .command(&[b"SET", b"", word.as_bytes()], &ok())
        .map_err(explain)?;
    client
        .command(&[b"GET", b""], &Reply::bulk(&word))
        .map_err(explain)?;
    client
        .command(&[b"SET", word.as_bytes(), b""], &ok())
        .map_err(explain)?;
    client
        .command(&[b"GET", word.as_bytes()], &Reply::bulk(b""))
        .map_err(explain)?;
    client.expect_nothing_more()
}

fn stores_a_large_value(context: &mut Context) -> Result<(), Failure> {
    let key = context.rng.word();
    let value = context.rng.bytes(1024 * 1024);
    let mut client = context.connect()?;
    client.command(&[b"SET", key.as_bytes(), &value], &ok())?;
    client
        .command(&[b"GET", key.as_bytes()], &Reply::bulk(&value))
        .map_err(|failure| {
            failure.explain(
                "The 1 MB value must come back whole: its reply is written over many writes \
                 (write all of it, and flush).",
            )
        })?;
    client.expect_nothing_more()
}

/// 100 commands on a few keys, so that GETs find values SET earlier in the
/// same write: the bytes, and the replies a key space gives them.
fn pipelined_mix(rng: &mut Rng) -> (Vec<u8>, Vec<Reply>) {
    let keys: Vec<String> = (0..5).map(|_| rng.word()).collect();
    let mut model: HashMap<String, String> = HashMap::new();
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for _ in 0..100 {
        let key = keys[rng.between(0, keys.len() - 1)].clone();
        let value = rng.word();
        match rng.between(0, 4) {
            0 | 1 => {
                bytes.extend(resp::command(&[b"SET", key.as_bytes(), value.as_bytes()]));
                model.insert(key, value);
                expected.push(ok());
            }
            2 | 3 => {
                bytes.extend(resp::command(&[b"GET", key.as_bytes()]));
                expected.push(model.get(&key).map_or(Reply::NullBulk, Reply::bulk));
            }
            _ => {
                bytes.extend(resp::command(&[b"ECHO", value.as_bytes()]));
                expected.push(Reply::bulk(&value));
            }
        }
    }
    (bytes, expected)
}

fn answers_pipelined_commands(context: &mut Context) -> Result<(), Failure> {
    let (bytes, expected) = pipelined_mix(&mut context.rng);
    let mut client = context.connect()?;
    client.send(&bytes)?;
    client.expect_all(&expected).map_err(|failure| {
        failure.explain(
            "100 commands on 5 keys arrived in one write. Run them in order: a GET sees every \
             SET before it in the same write.",
        )
    })?;
    client.expect_nothing_more()
}

fn errors_as_redis(context: &mut Context) -> Result<(), Failure> {
    let (key, value) = (context.rng.word(), context.rng.word());
    let (key, value) = (key.as_bytes(), value.as_bytes());
    let cases: [(Vec<&[u8]>, &str); 5] = [
        (
            vec![b"GET"],
            "ERR wrong number of arguments for 'get' command",
        ),
        (
            vec![b"gEt", key, value],
            "ERR wrong number of arguments for 'get' command",
        ),
        (
            vec![b"SET"],
            "ERR wrong number of arguments for 'set' command",
        ),
        (
            vec![b"Set", key],
            "ERR wrong number of arguments for 'set' command",
        ),
        (vec![b"SET", key, value, b"NOPE"], "ERR syntax error"),
    ];
    let mut client = context.connect()?;
    expect_errors(
        &mut client,
        cases.map(|(args, error)| (args, Reply::error(error))),
        "Errors are matched byte for byte with Redis's. GET takes one argument, SET at least \
         two; an argument after SET's value that is not an option is a syntax error.",
    )?;
    // None of them stored anything.
    client
        .command(&[b"GET", key], &Reply::NullBulk)
        .map_err(|failure| {
            failure.explain("A SET that answered an error must not store its value.")
        })?;
    client.expect_nothing_more()
}

/// Clients, and SETs and GETs each one sends (in batches of up to 20).
const WRITERS: usize = 20;
const COMMANDS_PER_WRITER: usize = 300;

fn many_clients_write_at_once(context: &mut Context) -> Result<(), Failure> {
    let mut writers = Vec::with_capacity(WRITERS);
    for _ in 0..WRITERS {
        let client = context.connect()?;
        let rng = Rng::new(context.rng.next_u64());
        writers.push((client, rng));
    }
    // Every client starts together, and goes as fast as the server lets it.
    let start = std::sync::Arc::new(std::sync::Barrier::new(WRITERS));
    let threads: Vec<_> = writers
        .into_iter()
        .enumerate()
        .map(|(number, (client, rng))| {
            let start = std::sync::Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                write_and_read_back(client, rng, number)
            })
        })
        .collect();
    let mut first_failure = None;
    for thread in threads {
        let outcome = thread.join().unwrap_or_else(|_| {
            Err(Failure::new(
                "a client thread of the tester panicked".to_string(),
            ))
        });
        if let (Err(failure), None) = (outcome, &first_failure) {
            first_failure = Some(failure);
        }
    }
    let explain = |failure: Failure| {
        failure.explain(format!(
            "{WRITERS} clients were sending SETs and GETs of their own keys at the same time. \
             If the server crashed (see its output), several tasks wrote to the map at once: \
             every access to the shared map must hold its lock (a mutex), reads included. \
             If a GET found another value, writes were lost or mixed up."
        ))
    };
    if let Some(failure) = first_failure {
        return Err(explain(failure));
    }
    // And the server is still there.
    let mut client = context.connect().map_err(explain)?;
    client
        .command(&[b"PING"], &Reply::simple("PONG"))
        .map_err(explain)
}

/// One writer: SETs and GETs on keys of its own, checked against what it
/// wrote, in batches sent in one write each.
fn write_and_read_back(mut client: Client, mut rng: Rng, number: usize) -> Result<(), Failure> {
    let keys: Vec<String> = (0..10)
        .map(|i| format!("writer{number}:{}:{i}", rng.word()))
        .collect();
    let mut model: HashMap<&str, String> = HashMap::new();
    let mut sent = 0;
    while sent < COMMANDS_PER_WRITER {
        let size = rng.between(1, 20).min(COMMANDS_PER_WRITER - sent);
        let mut bytes = Vec::new();
        let mut expected = Vec::with_capacity(size);
        for _ in 0..size {
            let key = keys[rng.between(0, keys.len() - 1)].as_str();
            if rng.coin() {
                let value = format!("{}-{}", rng.word(), rng.bytes(1)[0]);
                bytes.extend(resp::command(&[b"SET", key.as_bytes(), value.as_bytes()]));
                model.insert(key, value);
                expected.push(ok());
            } else {
                bytes.extend(resp::command(&[b"GET", key.as_bytes()]));
                expected.push(model.get(key).map_or(Reply::NullBulk, Reply::bulk));
            }
        }
        client.send(&bytes)?;
        client.expect_all(&expected)?;
        sent += size;
    }
    // A pause, then every key once more: nobody else wrote them.
    std::thread::sleep(Duration::from_millis(20));
    for key in &keys {
        let expected = model.get(key.as_str()).map_or(Reply::NullBulk, Reply::bulk);
        client.command(&[b"GET", key.as_bytes()], &expected)?;
    }
    client.expect_nothing_more()
}
