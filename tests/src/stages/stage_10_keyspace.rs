//! Stage 10: walking the key space. DEL, EXISTS, KEYS with Redis's glob
//! patterns and FLUSHALL, on the stage 9 table: for ten thousand keys, and
//! while a rehash has keys in two tables.

use super::expect_errors;
use super::stage_09_hash_table::{Keys, try_to_see_a_rehash};
use crate::check::{Check, Context, Failure, Stage};
use crate::client::Client;
use crate::resp::{self, Reply};

pub static STAGE: Stage = Stage {
    number: 10,
    name: "keyspace",
    summary: "the key space as a whole: DEL, EXISTS, KEYS, FLUSHALL",
    builds_on: &[1, 2, 3, 4, 5, 6, 7, 8, 9],
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
            title: "FLUSHALL deletes every key",
            run: flushall_deletes_everything,
        },
        Check {
            title: "KEYS, EXISTS and DEL find the keys in both tables while a rehash is on, each once",
            run: walks_both_tables_during_a_rehash,
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

fn walks_both_tables_during_a_rehash(context: &mut Context) -> Result<(), Failure> {
    let size = 1 << context.rng.between(7, 9);
    let mut keys = Keys::new(&mut context.rng);
    let mut client = context.connect()?;
    let mut rng = context.rng.clone();
    try_to_see_a_rehash(&mut client, &mut keys, &mut rng, size)?;
    let count = keys.count;
    let names: Vec<String> = (0..count).map(|i| keys.key(i)).collect();
    // Every other key is deleted.
    let deleted: Vec<&String> = names.iter().step_by(2).collect();
    let kept: Vec<u64> = (1..count).step_by(2).collect();
    let pattern = format!("{}:*", keys.prefix);
    let missing = format!("{}:missing", keys.prefix);
    // In one write, right after the rehash began: every command here walks
    // or searches both tables.
    let mut del: Vec<&[u8]> = vec![b"DEL"];
    del.extend(deleted.iter().map(|name| name.as_bytes()));
    let bytes = [
        resp::command(&[b"KEYS", pattern.as_bytes()]),
        resp::command(&[
            b"EXISTS",
            names[0].as_bytes(),
            names[0].as_bytes(),
            names[names.len() - 1].as_bytes(),
            missing.as_bytes(),
        ]),
        resp::command(&del),
        resp::command(&[b"DBSIZE"]),
        resp::command(&[b"KEYS", pattern.as_bytes()]),
    ]
    .concat();
    client.send(&bytes)?;
    let explain = |failure: Failure| {
        failure.explain(
            "A key was just added to a full table, so its keys are moving from the old table \
             to a new one twice as big: a walk over the key space must visit both tables \
             (each key is in exactly one), and a lookup must search both.",
        )
    };
    client.expect_unordered(&bulks(&names)).map_err(explain)?;
    client.expect(&Reply::Integer(3)).map_err(explain)?;
    client
        .expect(&Reply::Integer(deleted.len() as i64))
        .map_err(explain)?;
    client
        .expect(&Reply::Integer(kept.len() as i64))
        .map_err(explain)?;
    let kept_names: Vec<String> = kept.iter().map(|&i| keys.key(i)).collect();
    client
        .expect_unordered(&bulks(&kept_names))
        .map_err(explain)?;
    // A GET of every key kept, twice (enough commands to end the rehash),
    // then the same keys again.
    let bytes: Vec<u8> = kept
        .iter()
        .chain(&kept)
        .flat_map(|&i| resp::command(&[b"GET", keys.key(i).as_bytes()]))
        .collect();
    let values: Vec<Reply> = kept
        .iter()
        .chain(&kept)
        .map(|&i| Reply::bulk(keys.value(i)))
        .collect();
    client.send(&bytes)?;
    client.expect_all(&values).map_err(explain)?;
    client.send(&resp::command(&[b"KEYS", pattern.as_bytes()]))?;
    client.expect_unordered(&bulks(&kept_names))?;
    client.expect_nothing_more()
}

fn errors_as_redis(context: &mut Context) -> Result<(), Failure> {
    let cases: [(&[&[u8]], &str); 5] = [
        (&[b"DEL"], "ERR wrong number of arguments for 'del' command"),
        (
            &[b"EXISTS"],
            "ERR wrong number of arguments for 'exists' command",
        ),
        (
            &[b"KEYS"],
            "ERR wrong number of arguments for 'keys' command",
        ),
        (
            &[b"keys", b"a", b"b"],
            "ERR wrong number of arguments for 'keys' command",
        ),
        (&[b"FLUSHALL", b"now"], "ERR syntax error"),
    ];
    let mut client = context.connect()?;
    expect_errors(
        &mut client,
        cases.map(|(args, error)| (args, Reply::error(error))),
        "Errors are matched byte for byte with Redis's: DEL and EXISTS take at least one key, KEYS one pattern, FLUSHALL only ASYNC or SYNC.",
    )?;
    client.expect_nothing_more()
}
