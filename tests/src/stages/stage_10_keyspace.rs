//! Stage 6: our own hash table as the key space, and the commands that
//! look at the key space as a whole: DEL, EXISTS, DBSIZE, KEYS, TTL, PTTL,
//! FLUSHALL. Black-box, the table shows in what these commands answer for
//! ten thousand keys, and in expired keys disappearing without being read.

use std::time::{Duration, Instant};

use crate::check::{Check, Context, Failure, Stage};
use crate::client::Client;
use crate::resp::{self, Reply};

pub static STAGE: Stage = Stage {
    number: 10,
    name: "keyspace",
    summary: "our own hash table, and DEL, EXISTS, DBSIZE, KEYS, TTL, PTTL, FLUSHALL",
    builds_on: &[1, 2, 3, 4, 5],
    base: 9,
    checks: &[
        Check {
            title: "DEL deletes the keys that exist and says how many",
            run: del_counts_what_it_deleted,
        },
        Check {
            title: "EXISTS counts the keys that exist, a key named twice counted twice",
            run: exists_counts,
        },
        Check {
            title: "10,000 keys: DBSIZE counts them, KEYS * lists them, overwrites and DELs keep count",
            run: ten_thousand_keys,
        },
        Check {
            title: "KEYS matches Redis's glob patterns: *, ?, [abc], [^abc], [a-z], \\",
            run: keys_with_patterns,
        },
        Check {
            title: "TTL and PTTL: -2 for a missing key, -1 without expiry, else the time left",
            run: ttl_and_pttl,
        },
        Check {
            title: "keys that expire while nobody reads them are deleted (DBSIZE drops)",
            run: unread_expired_keys_are_deleted,
        },
        Check {
            title: "FLUSHALL deletes every key",
            run: flushall_deletes_everything,
        },
        Check {
            title: "errors for the new commands are worded as Redis words them",
            run: errors_as_redis,
        },
    ],
};

fn ok() -> Reply {
    Reply::simple("OK")
}

/// Sets each key to a value, in one write, and expects an OK for each.
fn set_all(client: &mut Client, keys: &[String]) -> Result<(), Failure> {
    for batch in keys.chunks(1_000) {
        let bytes: Vec<u8> = batch
            .iter()
            .flat_map(|key| resp::command(&[b"SET", key.as_bytes(), b"v"]))
            .collect();
        client.send(&bytes)?;
        client.expect_all(&vec![ok(); batch.len()])?;
    }
    Ok(())
}

fn bulks(keys: &[String]) -> Vec<Reply> {
    keys.iter().map(Reply::bulk).collect()
}

fn del_counts_what_it_deleted(context: &mut Context) -> Result<(), Failure> {
    let (a, b, missing) = (context.rng.word(), context.rng.word(), context.rng.word());
    let (a, b, missing) = (
        format!("a-{a}"),
        format!("b-{b}"),
        format!("missing-{missing}"),
    );
    let mut client = context.connect()?;
    set_all(&mut client, &[a.clone(), b.clone()])?;
    let explain = |failure: Failure| {
        failure.explain(
            "DEL replies with an integer: how many of the named keys existed and were deleted. \
             A key named twice is deleted once.",
        )
    };
    client
        .command(
            &[
                b"DEL",
                a.as_bytes(),
                a.as_bytes(),
                b.as_bytes(),
                missing.as_bytes(),
            ],
            &Reply::Integer(2),
        )
        .map_err(explain)?;
    client.command(&[b"GET", a.as_bytes()], &Reply::NullBulk)?;
    client
        .command(&[b"DEL", a.as_bytes()], &Reply::Integer(0))
        .map_err(explain)?;
    client.expect_nothing_more()
}

fn exists_counts(context: &mut Context) -> Result<(), Failure> {
    let (a, missing) = (context.rng.word(), context.rng.word());
    let missing = format!("missing-{missing}");
    let mut client = context.connect()?;
    set_all(&mut client, std::slice::from_ref(&a))?;
    client
        .command(
            &[b"EXISTS", a.as_bytes(), a.as_bytes(), missing.as_bytes()],
            &Reply::Integer(2),
        )
        .map_err(|failure| {
            failure.explain("EXISTS counts every key it is given that exists, repeats included.")
        })?;
    client.command(&[b"EXISTS", missing.as_bytes()], &Reply::Integer(0))?;
    client.expect_nothing_more()
}

fn ten_thousand_keys(context: &mut Context) -> Result<(), Failure> {
    let prefix = context.rng.word();
    let keys: Vec<String> = (0..10_000).map(|i| format!("{prefix}:{i}")).collect();
    let mut client = context.connect()?;
    set_all(&mut client, &keys).map_err(|failure| {
        failure.explain("10,000 SETs, 1,000 to a write: the table grows many times on the way.")
    })?;
    client
        .command(&[b"DBSIZE"], &Reply::Integer(10_000))
        .map_err(|failure| {
            failure.explain(
                "DBSIZE is the number of keys. A key lost or counted twice while the table grew?",
            )
        })?;
    client.send(&resp::command(&[b"KEYS", b"*"]))?;
    client.expect_unordered(&bulks(&keys)).map_err(|failure| {
        failure.explain(
            "KEYS * lists every key once, in any order. While a table is being resized, keys \
             live in two bucket arrays: a listing must visit both, and each key once.",
        )
    })?;
    // Overwrite every key: still 10,000.
    set_all(&mut client, &keys)?;
    client
        .command(&[b"DBSIZE"], &Reply::Integer(10_000))
        .map_err(|failure| {
            failure.explain("Overwriting a key replaces its value: it must not add a second entry.")
        })?;
    // Delete every other key, and look some up.
    let deleted: Vec<&String> = keys.iter().step_by(2).collect();
    for batch in deleted.chunks(1_000) {
        let mut args: Vec<&[u8]> = vec![b"DEL"];
        args.extend(batch.iter().map(|key| key.as_bytes()));
        client.command(&args, &Reply::Integer(batch.len() as i64))?;
    }
    client.command(&[b"DBSIZE"], &Reply::Integer(5_000))?;
    for _ in 0..20 {
        let i = context.rng.between(0, keys.len() - 1);
        let expected = if i % 2 == 0 {
            Reply::NullBulk
        } else {
            Reply::bulk("v")
        };
        client.command(&[b"GET", keys[i].as_bytes()], &expected)?;
    }
    client.expect_nothing_more()
}

fn keys_with_patterns(context: &mut Context) -> Result<(), Failure> {
    let prefix = context.rng.word();
    let names = [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "h]llo", "h-llo",
    ];
    let keys: Vec<String> = names
        .iter()
        .map(|name| format!("{prefix}:{name}"))
        .collect();
    // What redis-server 7.0.15 answers for these keys.
    let cases: [(&str, &[&str]); 9] = [
        (
            "h?llo",
            &["hello", "hallo", "hxllo", "h*llo", "h]llo", "h-llo"],
        ),
        ("h*llo", &names),
        ("h[ae]llo", &["hello", "hallo"]),
        ("h[^e]llo", &["hallo", "hxllo", "h*llo", "h]llo", "h-llo"]),
        ("h[a-b]llo", &["hallo"]),
        ("h\\*llo", &["h*llo"]),
        ("h[\\]]llo", &["h]llo"]),
        ("h", &[]),
        ("H*", &[]),
    ];
    let mut client = context.connect()?;
    set_all(&mut client, &keys)?;
    for (pattern, expected) in cases {
        let full = format!("{prefix}:{pattern}");
        let expected: Vec<String> = expected
            .iter()
            .map(|name| format!("{prefix}:{name}"))
            .collect();
        client.send(&resp::command(&[b"KEYS", full.as_bytes()]))?;
        client
            .expect_unordered(&bulks(&expected))
            .map_err(|failure| {
                failure.explain(format!(
                "The pattern {full:?}: `*` matches any run of bytes, `?` one byte, `[ae]` one of \
                 a set, `[^e]` any but, `[a-b]` a range, `\\` makes the next byte plain. Case \
                 matters."
            ))
            })?;
    }
    client.expect_nothing_more()
}

fn ttl_and_pttl(context: &mut Context) -> Result<(), Failure> {
    let (forever, timed, missing) = (context.rng.word(), context.rng.word(), context.rng.word());
    let (forever, timed, missing) = (
        format!("f-{forever}"),
        format!("t-{timed}"),
        format!("m-{missing}"),
    );
    let mut client = context.connect()?;
    let explain = |failure: Failure| {
        failure.explain(
            "TTL answers in seconds (rounded to the nearest), PTTL in milliseconds: -2 when the \
             key does not exist, -1 when it exists without an expiry time.",
        )
    };
    client
        .command(&[b"TTL", missing.as_bytes()], &Reply::Integer(-2))
        .map_err(explain)?;
    client
        .command(&[b"PTTL", missing.as_bytes()], &Reply::Integer(-2))
        .map_err(explain)?;
    client.command(&[b"SET", forever.as_bytes(), b"v"], &ok())?;
    client
        .command(&[b"TTL", forever.as_bytes()], &Reply::Integer(-1))
        .map_err(explain)?;
    client
        .command(&[b"PTTL", forever.as_bytes()], &Reply::Integer(-1))
        .map_err(explain)?;
    client.command(&[b"SET", timed.as_bytes(), b"v", b"EX", b"100"], &ok())?;
    client.send(&resp::command(&[b"TTL", timed.as_bytes()]))?;
    client.expect_integer_between(99, 100).map_err(explain)?;
    client.send(&resp::command(&[b"PTTL", timed.as_bytes()]))?;
    client
        .expect_integer_between(98_000, 100_000)
        .map_err(explain)?;
    client.expect_nothing_more()
}

fn unread_expired_keys_are_deleted(context: &mut Context) -> Result<(), Failure> {
    let prefix = context.rng.word();
    let mut client = context.connect()?;
    let mut bytes = Vec::new();
    for i in 0..200 {
        let key = format!("{prefix}:short:{i}");
        bytes.extend(resp::command(&[
            b"SET",
            key.as_bytes(),
            b"v",
            b"PX",
            b"100",
        ]));
    }
    for i in 0..20 {
        let key = format!("{prefix}:long:{i}");
        bytes.extend(resp::command(&[b"SET", key.as_bytes(), b"v"]));
    }
    client.send(&bytes)?;
    client.expect_all(&vec![ok(); 220])?;
    // Nobody reads the 200 keys. A server with active expiry deletes them
    // on its own within a few hundred milliseconds; allow three seconds.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut last = 220;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        client.send(&resp::command(&[b"DBSIZE"]))?;
        last = client.expect_integer_between(0, 220)?;
        if last == 20 {
            return client.expect_nothing_more();
        }
    }
    Err(Failure::new(format!(
        "DBSIZE still counted {last} keys 3 s after 200 of the 220 expired unread (expected 20)"
    ))
    .hint(
        "DBSIZE counts keys that have expired but were not deleted yet, as Redis does. A server \
         that deletes expired keys only when they are read keeps them forever if nobody reads \
         them: also delete them from a background task (Redis samples 20 keys that have an \
         expiry time, ten times a second).",
    ))
}

fn flushall_deletes_everything(context: &mut Context) -> Result<(), Failure> {
    let prefix = context.rng.word();
    let keys: Vec<String> = (0..100).map(|i| format!("{prefix}:{i}")).collect();
    let mut client = context.connect()?;
    set_all(&mut client, &keys)?;
    client.command(&[b"FLUSHALL"], &ok())?;
    client.command(&[b"DBSIZE"], &Reply::Integer(0))?;
    client.command(&[b"GET", keys[0].as_bytes()], &Reply::NullBulk)?;
    client.send(&resp::command(&[b"KEYS", b"*"]))?;
    client.expect_unordered(&[])?;
    // The table works after being emptied.
    set_all(&mut client, &keys[..10])?;
    client.command(&[b"DBSIZE"], &Reply::Integer(10))?;
    client.command(&[b"FLUSHALL", b"ASYNC"], &ok())?;
    client.command(&[b"DBSIZE"], &Reply::Integer(0))?;
    client.expect_nothing_more()
}

fn errors_as_redis(context: &mut Context) -> Result<(), Failure> {
    let cases: [(&[&[u8]], &str); 8] = [
        (&[b"DEL"], "ERR wrong number of arguments for 'del' command"),
        (
            &[b"EXISTS"],
            "ERR wrong number of arguments for 'exists' command",
        ),
        (
            &[b"DBSIZE", b"x"],
            "ERR wrong number of arguments for 'dbsize' command",
        ),
        (
            &[b"KEYS"],
            "ERR wrong number of arguments for 'keys' command",
        ),
        (
            &[b"keys", b"a", b"b"],
            "ERR wrong number of arguments for 'keys' command",
        ),
        (&[b"TTL"], "ERR wrong number of arguments for 'ttl' command"),
        (
            &[b"PTTL", b"a", b"b"],
            "ERR wrong number of arguments for 'pttl' command",
        ),
        (&[b"FLUSHALL", b"now"], "ERR syntax error"),
    ];
    let mut client = context.connect()?;
    for (args, error) in cases {
        client.command(args, &Reply::error(error))?;
        client.command(&[b"PING"], &Reply::simple("PONG"))?;
    }
    client.expect_nothing_more()
}
