//! Stage 16: values with a type. A key holds a string or a set; the set
//! commands SADD, SREM, SMEMBERS, SISMEMBER, SCARD; TYPE; `-WRONGTYPE` for
//! a command on a key of the other type; the key-space commands on sets.

use super::{expect_errors, expect_only_key_deleted};
use crate::check::{Check, Context, Failure, Stage};
use crate::client::Client;
use crate::resp::{self, Reply};

pub static STAGE: Stage = Stage {
    number: 16,
    name: "sets",
    summary: "values with a type: sets, TYPE and WRONGTYPE",
    builds_on: &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15],
    base: 15,
    checks: &[
        Check {
            title: "SADD adds each new member once and says how many were new; SCARD counts them",
            run: sadd_counts_new_members,
        },
        Check {
            title: "SMEMBERS lists 1,000 members each once, in any order; SISMEMBER answers 1 or 0",
            run: smembers_and_sismember,
        },
        Check {
            title: "SREM removes members and says how many; a set left empty is deleted",
            run: srem_and_the_empty_set,
        },
        Check {
            title: "a missing key reads as an empty set: SMEMBERS, SCARD, SISMEMBER, SREM",
            run: a_missing_key_is_an_empty_set,
        },
        Check {
            title: "TYPE says string, set or none",
            run: type_names_the_type,
        },
        Check {
            title: "a command on a key of the other type gets WRONGTYPE and changes nothing; SET replaces any type",
            run: wrong_type,
        },
        Check {
            title: "DEL, EXISTS, KEYS, expiry and FLUSHALL work on sets too",
            run: key_space_commands_on_sets,
        },
        Check {
            title: "errors for the new commands are worded as Redis words them",
            run: errors_as_redis,
        },
    ],
};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn integer(n: usize) -> Reply {
    Reply::Integer(n as i64)
}

/// `SADD key members...`, expecting how many were new.
fn sadd(client: &mut Client, key: &str, members: &[String], new: usize) -> Result<(), Failure> {
    let mut args: Vec<&[u8]> = vec![b"SADD", key.as_bytes()];
    args.extend(members.iter().map(|member| member.as_bytes()));
    client.command(&args, &integer(new))
}

fn bulks(items: &[String]) -> Vec<Reply> {
    items.iter().map(Reply::bulk).collect()
}

fn sadd_counts_new_members(context: &mut Context) -> Result<(), Failure> {
    let key = format!("set-{}", context.rng.word());
    let (a, b, c) = (context.rng.word(), context.rng.word(), context.rng.word());
    let (a, b, c) = (format!("a-{a}"), format!("b-{b}"), format!("c-{c}"));
    let mut client = context.connect()?;
    let explain = |failure: Failure| {
        failure.explain(
            "SADD answers how many of its members were not in the set yet: a member already \
             there, or named twice in one SADD, counts once or not at all.",
        )
    };
    sadd(&mut client, &key, &[a.clone(), b.clone(), a.clone()], 2).map_err(explain)?;
    sadd(&mut client, &key, &[b.clone(), c.clone()], 1).map_err(explain)?;
    client
        .command(&[b"SCARD", key.as_bytes()], &integer(3))
        .map_err(|failure| failure.explain("SCARD is the number of members, each counted once."))?;
    // A binary member, and an empty one, are members like any other.
    let binary = [0u8, 255, b'\r', b'\n'];
    client.command(&[b"SADD", key.as_bytes(), &binary, b""], &integer(2))?;
    client.command(&[b"SISMEMBER", key.as_bytes(), &binary], &integer(1))?;
    client.command(&[b"SCARD", key.as_bytes()], &integer(5))?;
    client.expect_nothing_more()
}

fn smembers_and_sismember(context: &mut Context) -> Result<(), Failure> {
    let key = format!("set-{}", context.rng.word());
    let prefix = context.rng.word();
    let members: Vec<String> = (0..1_000).map(|i| format!("{prefix}:{i}")).collect();
    let mut client = context.connect()?;
    for batch in members.chunks(100) {
        sadd(&mut client, &key, batch, batch.len())?;
    }
    client.send(&resp::command(&[b"SMEMBERS", key.as_bytes()]))?;
    client
        .expect_unordered(&bulks(&members))
        .map_err(|failure| {
            failure.explain(
            "SMEMBERS lists every member once, in any order. 1,000 members: the set's own table \
             grew on the way, and may be in the middle of a rehash.",
        )
        })?;
    for _ in 0..10 {
        let i = context.rng.between(0, members.len() - 1);
        client.command(
            &[b"SISMEMBER", key.as_bytes(), members[i].as_bytes()],
            &integer(1),
        )?;
        let missing = format!("{prefix}:missing:{i}");
        client
            .command(
                &[b"SISMEMBER", key.as_bytes(), missing.as_bytes()],
                &integer(0),
            )
            .map_err(|failure| {
                failure.explain("SISMEMBER answers :0 for a member not in the set.")
            })?;
    }
    client.expect_nothing_more()
}

fn srem_and_the_empty_set(context: &mut Context) -> Result<(), Failure> {
    let key = format!("set-{}", context.rng.word());
    let members: Vec<String> = (0..context.rng.between(3, 9))
        .map(|i| format!("{}-{i}", context.rng.word()))
        .collect();
    let missing = format!("missing-{}", context.rng.word());
    let mut client = context.connect()?;
    sadd(&mut client, &key, &members, members.len())?;
    let first = members[0].as_bytes();
    client
        .command(
            &[b"SREM", key.as_bytes(), first, first, missing.as_bytes()],
            &integer(1),
        )
        .map_err(|failure| {
            failure
                .explain("SREM answers how many of its members were in the set and are gone now.")
        })?;
    client.command(&[b"SISMEMBER", key.as_bytes(), first], &integer(0))?;
    client.command(&[b"SCARD", key.as_bytes()], &integer(members.len() - 1))?;
    let mut args: Vec<&[u8]> = vec![b"SREM", key.as_bytes()];
    args.extend(members[1..].iter().map(|member| member.as_bytes()));
    client.command(&args, &integer(members.len() - 1))?;
    expect_only_key_deleted(
        &mut client,
        key.as_bytes(),
        "In Redis no key holds an empty set: the SREM that removes the last member deletes \
             the key, so EXISTS says 0, TYPE none, and DBSIZE no longer counts it.",
    )?;
    client.expect_nothing_more()
}

fn a_missing_key_is_an_empty_set(context: &mut Context) -> Result<(), Failure> {
    let key = format!("missing-{}", context.rng.word());
    let member = context.rng.word();
    let mut client = context.connect()?;
    let explain = |failure: Failure| {
        failure.explain(
            "A missing key reads as an empty set, not as an error or a null: SMEMBERS answers \
             an empty array (*0), SCARD, SISMEMBER and SREM :0.",
        )
    };
    client
        .command(&[b"SMEMBERS", key.as_bytes()], &Reply::Array(Vec::new()))
        .map_err(explain)?;
    client
        .command(&[b"SCARD", key.as_bytes()], &integer(0))
        .map_err(explain)?;
    client
        .command(
            &[b"SISMEMBER", key.as_bytes(), member.as_bytes()],
            &integer(0),
        )
        .map_err(explain)?;
    client
        .command(&[b"SREM", key.as_bytes(), member.as_bytes()], &integer(0))
        .map_err(explain)?;
    client
        .command(&[b"EXISTS", key.as_bytes()], &integer(0))
        .map_err(|failure| failure.explain("Reading a missing key must not create it."))?;
    client.expect_nothing_more()
}

fn type_names_the_type(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let (string, set, missing) = (
        format!("s-{word}"),
        format!("t-{word}"),
        format!("m-{word}"),
    );
    let mut client = context.connect()?;
    client.command(&[b"SET", string.as_bytes(), b"v"], &Reply::simple("OK"))?;
    client.command(&[b"SADD", set.as_bytes(), b"m"], &integer(1))?;
    let explain = |failure: Failure| {
        failure.explain("TYPE answers a simple string: +string, +set, or +none for a missing key.")
    };
    for (key, name) in [(&string, "string"), (&set, "set"), (&missing, "none")] {
        client
            .command(&[b"type", key.as_bytes()], &Reply::simple(name))
            .map_err(explain)?;
    }
    client.expect_nothing_more()
}

fn wrong_type(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let (string, set) = (format!("s-{word}"), format!("t-{word}"));
    let value = context.rng.word();
    let mut client = context.connect()?;
    client.command(
        &[b"SET", string.as_bytes(), value.as_bytes()],
        &Reply::simple("OK"),
    )?;
    client.command(&[b"SADD", set.as_bytes(), b"m"], &integer(1))?;
    let (s, t) = (string.as_bytes(), set.as_bytes());
    let cases: [&[&[u8]]; 7] = [
        &[b"SADD", s, b"m"],
        &[b"SREM", s, b"m"],
        &[b"SMEMBERS", s],
        &[b"SISMEMBER", s, b"m"],
        &[b"SCARD", s],
        &[b"GET", t],
        &[b"SET", t, b"v", b"GET"],
    ];
    for args in cases {
        client
            .command(args, &Reply::error(WRONGTYPE))
            .map_err(|failure| {
                failure.explain(
                    "Each command works on one type: a set command on a string, or GET (and SET's \
                 GET option) on a set, answers Redis's WRONGTYPE error and changes nothing.",
                )
            })?;
    }
    client.command(&[b"GET", s], &Reply::bulk(&value))?;
    client.command(&[b"SMEMBERS", t], &Reply::Array(vec![Reply::bulk("m")]))?;
    client
        .command(&[b"SET", t, b"v"], &Reply::simple("OK"))
        .map_err(|failure| {
            failure.explain("A plain SET writes a string whatever the key held before.")
        })?;
    client.command(&[b"TYPE", t], &Reply::simple("string"))?;
    client.command(&[b"GET", t], &Reply::bulk("v"))?;
    client.expect_nothing_more()
}

fn key_space_commands_on_sets(context: &mut Context) -> Result<(), Failure> {
    let prefix = context.rng.word();
    let keys: Vec<String> = (0..20).map(|i| format!("{prefix}:{i}")).collect();
    let mut client = context.connect()?;
    for key in &keys {
        client.command(&[b"SADD", key.as_bytes(), b"a", b"b"], &integer(2))?;
    }
    let explain = |failure: Failure| {
        failure.explain(
            "A set is a key like any other: DEL deletes it, EXISTS and DBSIZE count it, KEYS \
             lists it, FLUSHALL empties it with the rest.",
        )
    };
    let pattern = format!("{prefix}:*");
    client.send(&resp::command(&[b"KEYS", pattern.as_bytes()]))?;
    client.expect_unordered(&bulks(&keys)).map_err(explain)?;
    client
        .command(
            &[b"EXISTS", keys[0].as_bytes(), keys[1].as_bytes()],
            &integer(2),
        )
        .map_err(explain)?;
    client
        .command(
            &[b"DEL", keys[0].as_bytes(), keys[1].as_bytes()],
            &integer(2),
        )
        .map_err(explain)?;
    client
        .command(&[b"DBSIZE"], &integer(18))
        .map_err(explain)?;
    client.command(&[b"TTL", keys[2].as_bytes()], &Reply::Integer(-1))?;
    // A string that expires leaves room for a set of the same name.
    let expiring = format!("{prefix}:expiring");
    client.command(
        &[b"SET", expiring.as_bytes(), b"v", b"PX", b"100"],
        &Reply::simple("OK"),
    )?;
    std::thread::sleep(std::time::Duration::from_millis(200));
    client
        .command(&[b"SADD", expiring.as_bytes(), b"m"], &integer(1))
        .map_err(|failure| {
            failure.explain("The string expired: SADD finds no key, and makes a new set.")
        })?;
    client.command(&[b"TTL", expiring.as_bytes()], &Reply::Integer(-1))?;
    client
        .command(&[b"FLUSHALL"], &Reply::simple("OK"))
        .map_err(explain)?;
    client.command(&[b"DBSIZE"], &integer(0)).map_err(explain)?;
    client.command(&[b"SCARD", keys[3].as_bytes()], &integer(0))?;
    client.expect_nothing_more()
}

fn errors_as_redis(context: &mut Context) -> Result<(), Failure> {
    let cases: [(&[&[u8]], &str); 7] = [
        (
            &[b"SADD", b"k"],
            "ERR wrong number of arguments for 'sadd' command",
        ),
        (
            &[b"SREM", b"k"],
            "ERR wrong number of arguments for 'srem' command",
        ),
        (
            &[b"smembers"],
            "ERR wrong number of arguments for 'smembers' command",
        ),
        (
            &[b"SMEMBERS", b"a", b"b"],
            "ERR wrong number of arguments for 'smembers' command",
        ),
        (
            &[b"SISMEMBER", b"k"],
            "ERR wrong number of arguments for 'sismember' command",
        ),
        (
            &[b"SCARD"],
            "ERR wrong number of arguments for 'scard' command",
        ),
        (
            &[b"TYPE", b"a", b"b"],
            "ERR wrong number of arguments for 'type' command",
        ),
    ];
    let mut client = context.connect()?;
    expect_errors(
        &mut client,
        cases.map(|(args, error)| (args, Reply::error(error))),
        "Errors are matched byte for byte with Redis's: `-<message>\\r\\n`, the command in the arity error in lower case.",
    )?;
    client.expect_nothing_more()
}
