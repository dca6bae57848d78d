//! Stage 17: sorted sets. ZADD, ZSCORE, ZRANK, ZCARD, ZREM and ZRANGE by
//! index, with scores read and printed as Redis 7.0 does, members ordered
//! by score and then by their bytes, and ranks right in a big set that
//! changes.

use std::collections::{BTreeSet, HashMap};

use super::{expect_errors, expect_only_key_deleted};
use crate::check::{Check, Context, Failure, Stage};
use crate::client::Client;
use crate::resp::{self, Reply};

pub static STAGE: Stage = Stage {
    number: 17,
    name: "sorted-sets",
    summary: "sorted sets on a skip list: ZADD, ZSCORE, ZRANK, ZCARD, ZREM, ZRANGE",
    builds_on: &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 16],
    base: 16,
    checks: &[
        Check {
            title: "ZADD adds members with scores and says how many were new; ZCARD counts them",
            run: zadd_counts_new_members,
        },
        Check {
            title: "ZSCORE prints scores as Redis does: 1, 1.5, 0.10000000000000001, 1e+100, inf",
            run: zscore_prints_as_redis,
        },
        Check {
            title: "ZADD refuses a score that is not a float (nan, 1e400, words) and adds nothing",
            run: zadd_refuses_bad_scores,
        },
        Check {
            title: "ZRANGE lists members by score, ties by member bytes, WITHSCORES with their scores",
            run: zrange_orders_by_score_then_member,
        },
        Check {
            title: "ZRANGE counts negative indexes from the end and cuts a range to the set",
            run: zrange_indexes,
        },
        Check {
            title: "10,000 members added, moved and removed: every ZRANK and ZRANGE window right",
            run: ranks_in_a_big_changing_set,
        },
        Check {
            title: "ZREM removes members and says how many; a sorted set left empty is deleted",
            run: zrem_and_the_empty_set,
        },
        Check {
            title: "TYPE says zset; WRONGTYPE across types; a missing key reads as an empty sorted set",
            run: types_and_missing_keys,
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

/// A key of its own for a check.
fn new_key(context: &mut Context) -> String {
    format!("zset-{}", context.rng.word())
}

/// `ZADD key score member ...`, expecting how many were new.
fn zadd(client: &mut Client, key: &str, pairs: &[(&str, &str)], new: usize) -> Result<(), Failure> {
    let mut args: Vec<&[u8]> = vec![b"ZADD", key.as_bytes()];
    for (score, member) in pairs {
        args.extend([score.as_bytes(), member.as_bytes()]);
    }
    client.command(&args, &integer(new))
}

fn bulks<T: AsRef<[u8]>>(items: &[T]) -> Reply {
    Reply::Array(items.iter().map(Reply::bulk).collect())
}

fn zadd_counts_new_members(context: &mut Context) -> Result<(), Failure> {
    let key = new_key(context);
    let (a, b, c) = (context.rng.word(), context.rng.word(), context.rng.word());
    let (a, b, c) = (format!("a-{a}"), format!("b-{b}"), format!("c-{c}"));
    let mut client = context.connect()?;
    let explain = |failure: Failure| {
        failure.explain(
            "ZADD key score member [score member ...] answers how many members were new. A \
             member already there gets its new score and is not counted; named twice in one \
             ZADD, it is added once, with the last score.",
        )
    };
    zadd(&mut client, &key, &[("1", &a), ("2", &b), ("3", &a)], 2).map_err(explain)?;
    zadd(&mut client, &key, &[("5", &b), ("4", &c)], 1).map_err(explain)?;
    client
        .command(&[b"ZCARD", key.as_bytes()], &integer(3))
        .map_err(|failure| failure.explain("ZCARD is the number of members."))?;
    client.command(
        &[b"ZSCORE", key.as_bytes(), a.as_bytes()],
        &Reply::bulk("3"),
    )?;
    client.command(
        &[b"ZSCORE", key.as_bytes(), b.as_bytes()],
        &Reply::bulk("5"),
    )?;
    client
        .command(&[b"ZSCORE", key.as_bytes(), b"missing"], &Reply::NullBulk)
        .map_err(|failure| failure.explain("ZSCORE of a member not in the set is a null."))?;
    client.expect_nothing_more()
}

fn zscore_prints_as_redis(context: &mut Context) -> Result<(), Failure> {
    let key = new_key(context);
    let big = context.rng.between(1_000_000, 9_000_000);
    // Sent, and what redis-server 7.0.15 answers to ZSCORE after it.
    let cases = [
        ("1", "1"),
        ("1.5", "1.5"),
        ("-2.25", "-2.25"),
        (".5", "0.5"),
        ("0.1", "0.10000000000000001"),
        ("1e100", "1e+100"),
        ("1E3", "1000"),
        ("+inf", "inf"),
        ("-inf", "-inf"),
        ("123456789012345678", "1.2345678901234568e+17"),
        ("0.00001", "1.0000000000000001e-05"),
    ];
    let big = big.to_string();
    let mut client = context.connect()?;
    for (i, (sent, printed)) in cases
        .iter()
        .chain([(&big[..], &big[..])].iter())
        .enumerate()
    {
        let member = format!("m{i}");
        zadd(&mut client, &key, &[(sent, &member)], 1)?;
        client
            .command(
                &[b"ZSCORE", key.as_bytes(), member.as_bytes()],
                &Reply::bulk(printed),
            )
            .map_err(|failure| {
                failure.explain(format!(
                    "ZADD with the score {sent}: Redis 7.0 prints a score as C's printf \
                     \"%.17g\" does, 17 significant digits with trailing zeros dropped, in a \
                     bulk string; infinities as inf and -inf."
                ))
            })?;
    }
    client.expect_nothing_more()
}

fn zadd_refuses_bad_scores(context: &mut Context) -> Result<(), Failure> {
    let key = new_key(context);
    let word = context.rng.word();
    let mut client = context.connect()?;
    zadd(&mut client, &key, &[("1", "kept")], 1)?;
    for bad in ["nan", "1e400", "-1e400", "1e-400", &word, "1 ", " 1", ""] {
        client
            .command(
                &[
                    b"ZADD",
                    key.as_bytes(),
                    b"2",
                    b"new",
                    bad.as_bytes(),
                    b"other",
                ],
                &Reply::error("ERR value is not a valid float"),
            )
            .map_err(|failure| {
                failure.explain(format!(
                    "The score {bad:?} is not a double C's strtod reads whole, or is NaN, or \
                     too big or too small for a double (which strtod reports). Every score is \
                     checked before any member is added."
                ))
            })?;
    }
    client
        .command(&[b"ZCARD", key.as_bytes()], &integer(1))
        .map_err(|failure| failure.explain("A refused ZADD adds none of its members."))?;
    client.expect_nothing_more()
}

fn zrange_orders_by_score_then_member(context: &mut Context) -> Result<(), Failure> {
    let key = new_key(context);
    let mut client = context.connect()?;
    // Ties at score 1 are ordered by their bytes: "a" < "aa" < "b" < "\x7f".
    let pairs = [
        ("1", "b"),
        ("2", "c"),
        ("1", "aa"),
        ("-inf", "first"),
        ("1", "a"),
        ("0.5", "z"),
        ("1", "\u{7f}"),
    ];
    zadd(&mut client, &key, &pairs, 7)?;
    let order = ["first", "z", "a", "aa", "b", "\u{7f}", "c"];
    let explain = |failure: Failure| {
        failure.explain(
            "Members are ordered by score, lowest first; members with the same score by their \
             bytes, as memcmp compares them (a prefix first).",
        )
    };
    client
        .command(&[b"ZRANGE", key.as_bytes(), b"0", b"-1"], &bulks(&order))
        .map_err(explain)?;
    let with_scores = [
        "first", "-inf", "z", "0.5", "a", "1", "aa", "1", "b", "1", "\u{7f}", "1", "c", "2",
    ];
    client
        .command(
            &[b"ZRANGE", key.as_bytes(), b"0", b"-1", b"withscores"],
            &bulks(&with_scores),
        )
        .map_err(|failure| {
            failure.explain("WITHSCORES puts each member's score after it, as a bulk string.")
        })?;
    for (rank, member) in order.iter().enumerate() {
        client
            .command(
                &[b"ZRANK", key.as_bytes(), member.as_bytes()],
                &integer(rank),
            )
            .map_err(explain)?;
    }
    client.expect_nothing_more()
}

fn zrange_indexes(context: &mut Context) -> Result<(), Failure> {
    let key = new_key(context);
    let count = context.rng.between(5, 20);
    let members: Vec<String> = (0..count).map(|i| format!("m{i:02}")).collect();
    let mut client = context.connect()?;
    let scores: Vec<String> = (0..count).map(|i| i.to_string()).collect();
    let pairs: Vec<(&str, &str)> = scores
        .iter()
        .zip(&members)
        .map(|(s, m)| (&s[..], &m[..]))
        .collect();
    zadd(&mut client, &key, &pairs, count)?;
    let n = count as i64;
    // (start, stop) and the ranks Redis answers: negative indexes count
    // from the end, and a range is cut to the set.
    let cases: [(i64, i64); 8] = [
        (0, 2),
        (-3, -1),
        (1, -2),
        (-100, 1),
        (n - 2, 100),
        (3, 1),
        (n, n + 5),
        (-1, -n - 1),
    ];
    for (start, stop) in cases {
        let from_end = |i: i64| if i < 0 { n + i } else { i };
        let (first, last) = (from_end(start).max(0), from_end(stop).min(n - 1));
        let expected: Vec<&String> = if first > last {
            Vec::new()
        } else {
            members[first as usize..=last as usize].iter().collect()
        };
        let (start, stop) = (start.to_string(), stop.to_string());
        client
            .command(
                &[b"ZRANGE", key.as_bytes(), start.as_bytes(), stop.as_bytes()],
                &bulks(&expected),
            )
            .map_err(|failure| {
                failure.explain(format!(
                    "{count} members. ZRANGE key start stop: both ranks included, from 0; -1 is \
                     the last. A start before the first is 0, a stop past the end is the last; \
                     a start after the stop, or past the end, gives an empty array."
                ))
            })?;
    }
    client.expect_nothing_more()
}

/// The model of a sorted set the next check keeps: scores by member, and
/// the order.
#[derive(Default)]
struct Model {
    scores: HashMap<String, i64>,
    order: BTreeSet<(i64, String)>,
}

impl Model {
    fn set(&mut self, member: &str, score: i64) -> bool {
        let old = self.scores.insert(member.to_string(), score);
        if let Some(old) = old {
            self.order.remove(&(old, member.to_string()));
        }
        self.order.insert((score, member.to_string()));
        old.is_none()
    }

    fn remove(&mut self, member: &str) -> bool {
        let old = self.scores.remove(member);
        if let Some(old) = old {
            self.order.remove(&(old, member.to_string()));
        }
        old.is_some()
    }
}

fn ranks_in_a_big_changing_set(context: &mut Context) -> Result<(), Failure> {
    let key = new_key(context);
    let mut model = Model::default();
    let mut client = context.connect()?;
    let explain = |failure: Failure| {
        failure.explain(
            "A member's rank is how many members come before it in (score, member) order. \
             Kept in a skip list, each link's span (how many members it jumps) must be \
             updated by every insert and delete on every level, or ranks drift.",
        )
    };
    // Scores from a small range, so that many members tie.
    let name = |i: usize| format!("member:{i}");
    for round in 0..3 {
        let mut args: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), key.clone().into_bytes()];
        let mut new = 0;
        for _ in 0..5_000 {
            let member = name(context.rng.between(0, 9_999));
            let score = context.rng.between(0, 999) as i64 - 500;
            new += usize::from(model.set(&member, score));
            args.extend([score.to_string().into_bytes(), member.into_bytes()]);
        }
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        client.command(&args, &integer(new)).map_err(|failure| {
            failure.explain(format!(
                "Round {round}: 5,000 random (score, member) pairs in one ZADD; a member named \
                 twice is new once, with its last score."
            ))
        })?;
        let mut removed = 0;
        let mut args: Vec<Vec<u8>> = vec![b"ZREM".to_vec(), key.clone().into_bytes()];
        for _ in 0..1_000 {
            let member = name(context.rng.between(0, 9_999));
            removed += usize::from(model.remove(&member));
            args.push(member.into_bytes());
        }
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        client.command(&args, &integer(removed))?;
        client.command(&[b"ZCARD", key.as_bytes()], &integer(model.order.len()))?;
    }
    let order: Vec<&(i64, String)> = model.order.iter().collect();
    // Ranks of 300 random members, 20 to a write.
    let picks: Vec<usize> = (0..300)
        .map(|_| context.rng.between(0, order.len() - 1))
        .collect();
    for batch in picks.chunks(20) {
        let requests: Vec<u8> = batch
            .iter()
            .flat_map(|&rank| resp::command(&[b"ZRANK", key.as_bytes(), order[rank].1.as_bytes()]))
            .collect();
        client.send(&requests)?;
        let expected: Vec<Reply> = batch.iter().map(|&rank| integer(rank)).collect();
        client.expect_all(&expected).map_err(explain)?;
    }
    // Windows of 10 from random ranks, with scores.
    for _ in 0..50 {
        let start = context.rng.between(0, order.len() - 10);
        let mut expected = Vec::new();
        for (score, member) in &order[start..start + 10] {
            expected.extend([member.clone(), score.to_string()]);
        }
        let (first, last) = (start.to_string(), (start + 9).to_string());
        client
            .command(
                &[
                    b"ZRANGE",
                    key.as_bytes(),
                    first.as_bytes(),
                    last.as_bytes(),
                    b"WITHSCORES",
                ],
                &bulks(&expected),
            )
            .map_err(explain)?;
    }
    client.expect_nothing_more()
}

fn zrem_and_the_empty_set(context: &mut Context) -> Result<(), Failure> {
    let key = new_key(context);
    let count = context.rng.between(3, 9);
    let members: Vec<String> = (0..count)
        .map(|i| format!("{}-{i}", context.rng.word()))
        .collect();
    let mut client = context.connect()?;
    let pairs: Vec<(&str, &str)> = members.iter().map(|m| ("1", &m[..])).collect();
    zadd(&mut client, &key, &pairs, count)?;
    let first = members[0].as_bytes();
    client
        .command(
            &[b"ZREM", key.as_bytes(), first, first, b"missing"],
            &integer(1),
        )
        .map_err(|failure| {
            failure.explain("ZREM answers how many of its members were in the set and are gone.")
        })?;
    client.command(&[b"ZSCORE", key.as_bytes(), first], &Reply::NullBulk)?;
    client.command(&[b"ZRANK", key.as_bytes(), first], &Reply::NullBulk)?;
    // The same score for all: the first left is the least in byte order.
    let first_left = members[1..].iter().min().expect("two members or more");
    client.command(
        &[b"ZRANGE", key.as_bytes(), b"0", b"0"],
        &bulks(&[first_left]),
    )?;
    let mut args: Vec<&[u8]> = vec![b"ZREM", key.as_bytes()];
    args.extend(members[1..].iter().map(|m| m.as_bytes()));
    client.command(&args, &integer(count - 1))?;
    expect_only_key_deleted(
        &mut client,
        key.as_bytes(),
        "No key holds an empty sorted set: the ZREM that removes the last member deletes \
             the key, so EXISTS says 0, TYPE none, and DBSIZE no longer counts it.",
    )?;
    client.expect_nothing_more()
}

fn types_and_missing_keys(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let (zset, string, set, missing) = (
        format!("z-{word}"),
        format!("s-{word}"),
        format!("t-{word}"),
        format!("m-{word}"),
    );
    let mut client = context.connect()?;
    client.command(&[b"ZADD", zset.as_bytes(), b"1", b"m"], &integer(1))?;
    client.command(&[b"SET", string.as_bytes(), b"v"], &Reply::simple("OK"))?;
    client.command(&[b"SADD", set.as_bytes(), b"m"], &integer(1))?;
    client
        .command(&[b"TYPE", zset.as_bytes()], &Reply::simple("zset"))
        .map_err(|failure| failure.explain("TYPE names a sorted set `zset`."))?;
    let (z, s, t) = (zset.as_bytes(), string.as_bytes(), set.as_bytes());
    let cases: [&[&[u8]]; 8] = [
        &[b"ZADD", s, b"1", b"m"],
        &[b"ZADD", t, b"1", b"m"],
        &[b"ZSCORE", s, b"m"],
        &[b"ZRANK", t, b"m"],
        &[b"ZCARD", s],
        &[b"ZREM", t, b"m"],
        &[b"ZRANGE", s, b"0", b"-1"],
        &[b"GET", z],
    ];
    for args in cases {
        client
            .command(args, &Reply::error(WRONGTYPE))
            .map_err(|failure| {
                failure.explain(
                    "A sorted-set command on a string or a set, or a string or set command on a \
                 sorted set, answers WRONGTYPE and changes nothing.",
                )
            })?;
    }
    client.command(&[b"SCARD", z], &Reply::error(WRONGTYPE))?;
    let m = missing.as_bytes();
    let explain = |failure: Failure| {
        failure.explain(
            "A missing key reads as an empty sorted set: ZCARD and ZREM :0, ZSCORE and ZRANK \
             null, ZRANGE an empty array; and reading it creates nothing.",
        )
    };
    client
        .command(&[b"ZCARD", m], &integer(0))
        .map_err(explain)?;
    client
        .command(&[b"ZSCORE", m, b"x"], &Reply::NullBulk)
        .map_err(explain)?;
    client
        .command(&[b"ZRANK", m, b"x"], &Reply::NullBulk)
        .map_err(explain)?;
    client
        .command(&[b"ZREM", m, b"x"], &integer(0))
        .map_err(explain)?;
    client
        .command(&[b"ZRANGE", m, b"0", b"-1"], &Reply::Array(Vec::new()))
        .map_err(explain)?;
    client
        .command(&[b"EXISTS", m], &integer(0))
        .map_err(explain)?;
    client.command(&[b"DEL", z], &integer(1))?;
    client.expect_nothing_more()
}

fn errors_as_redis(context: &mut Context) -> Result<(), Failure> {
    let cases: [(&[&[u8]], &str); 10] = [
        (
            &[b"ZADD", b"k", b"1"],
            "ERR wrong number of arguments for 'zadd' command",
        ),
        (&[b"ZADD", b"k", b"1", b"a", b"2"], "ERR syntax error"),
        (
            &[b"zscore", b"k"],
            "ERR wrong number of arguments for 'zscore' command",
        ),
        (
            &[b"ZRANK", b"k", b"a", b"b"],
            "ERR wrong number of arguments for 'zrank' command",
        ),
        (
            &[b"ZCARD"],
            "ERR wrong number of arguments for 'zcard' command",
        ),
        (
            &[b"ZREM", b"k"],
            "ERR wrong number of arguments for 'zrem' command",
        ),
        (
            &[b"ZRANGE", b"k", b"0"],
            "ERR wrong number of arguments for 'zrange' command",
        ),
        (
            &[b"ZRANGE", b"k", b"0", b"x"],
            "ERR value is not an integer or out of range",
        ),
        (
            &[b"ZRANGE", b"k", b"01", b"2"],
            "ERR value is not an integer or out of range",
        ),
        (
            &[b"ZRANGE", b"k", b"0", b"1", b"SCORES"],
            "ERR syntax error",
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
