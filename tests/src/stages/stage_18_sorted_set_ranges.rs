//! Stage 18: ranges of a sorted set by score, and updates that depend on
//! the old score. ZRANGE BYSCORE (with `(`, `-inf` and `+inf`), REV and
//! LIMIT, ZRANGEBYSCORE, ZCOUNT, ZREVRANK, ZREMRANGEBYRANK and
//! ZREMRANGEBYSCORE; ZADD's NX, XX, GT, LT, CH and INCR, and ZINCRBY; with
//! Redis 7.0's replies and errors.

use std::collections::BTreeSet;

use super::{expect_errors, expect_only_key_deleted};
use crate::check::{Check, Context, Failure, Stage};
use crate::client::Client;
use crate::resp::{self, Reply};

pub static STAGE: Stage = Stage {
    number: 18,
    name: "sorted-set-ranges",
    summary: "ranges by score (BYSCORE, REV, LIMIT, ZCOUNT, ZREMRANGEBY*) and ZADD's options",
    builds_on: &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 16, 17],
    base: 17,
    checks: &[
        Check {
            title: "ZRANGE BYSCORE lists the members in a range of scores; ( excludes an end, -inf and +inf are the ends",
            run: zrange_by_score,
        },
        Check {
            title: "LIMIT offset count skips and takes members of a score range, in ZRANGE BYSCORE and ZRANGEBYSCORE",
            run: limit_offset_count,
        },
        Check {
            title: "REV lists from the highest score: indexes count from the top, BYSCORE takes max then min; ZREVRANK",
            run: reverse_ranges,
        },
        Check {
            title: "10,000 members with many tied scores: every ZCOUNT, ZREVRANK and BYSCORE window right",
            run: counts_in_a_big_changing_set,
        },
        Check {
            title: "ZREMRANGEBYRANK and ZREMRANGEBYSCORE remove a range and say how many; a set left empty is deleted",
            run: remove_ranges,
        },
        Check {
            title: "ZADD NX adds only new members, XX changes only members already there and creates no key",
            run: zadd_nx_xx,
        },
        Check {
            title: "ZADD GT and LT move a score only up or only down; CH counts changed members too",
            run: zadd_gt_lt_ch,
        },
        Check {
            title: "ZINCRBY and ZADD INCR add to a score and answer the new one; null when skipped; a NaN is refused",
            run: increments,
        },
        Check {
            title: "errors for the new commands and options are worded as Redis words them",
            run: errors_as_redis,
        },
    ],
};

fn integer(n: usize) -> Reply {
    Reply::Integer(n as i64)
}

fn bulks<T: AsRef<[u8]>>(items: &[T]) -> Reply {
    Reply::Array(items.iter().map(Reply::bulk).collect())
}

/// A key of its own for a check.
fn new_key(context: &mut Context) -> String {
    format!("zset-{}", context.rng.word())
}

/// Scores here are halves, kept as twice their value so that the model
/// orders them exactly: 3 is 1.5, -4 is -2. Printed as Redis prints them.
fn score_text(halves: i64) -> String {
    (halves as f64 / 2.0).to_string()
}

/// A sorted set as the tester keeps it: (score in halves, member), in
/// Redis's order.
#[derive(Default)]
struct Model {
    order: BTreeSet<(i64, String)>,
}

impl Model {
    fn score(&self, member: &str) -> Option<i64> {
        self.order
            .iter()
            .find(|(_, m)| m == member)
            .map(|(score, _)| *score)
    }

    /// Sets a score; returns whether the member was new.
    fn set(&mut self, member: &str, score: i64) -> bool {
        let old = self.score(member);
        if let Some(old) = old {
            self.order.remove(&(old, member.to_string()));
        }
        self.order.insert((score, member.to_string()));
        old.is_none()
    }

    fn members(&self) -> Vec<&(i64, String)> {
        self.order.iter().collect()
    }
}

/// One end of a range: `-inf`, `+inf`, or a score, `(` before it when it is
/// excluded.
#[derive(Clone, Copy, Debug)]
enum Bound {
    Lowest,
    Highest,
    Score(i64, bool),
}

impl Bound {
    fn text(self) -> String {
        match self {
            Bound::Lowest => "-inf".to_string(),
            Bound::Highest => "+inf".to_string(),
            Bound::Score(halves, false) => score_text(halves),
            Bound::Score(halves, true) => format!("({}", score_text(halves)),
        }
    }

    /// Whether `score` is on the right side of this end, as a minimum.
    fn admits_above(self, score: i64) -> bool {
        match self {
            Bound::Lowest => true,
            Bound::Highest => false,
            Bound::Score(min, excluded) => score > min || (!excluded && score == min),
        }
    }

    /// Whether `score` is on the right side of this end, as a maximum.
    fn admits_below(self, score: i64) -> bool {
        match self {
            Bound::Lowest => false,
            Bound::Highest => true,
            Bound::Score(max, excluded) => score < max || (!excluded && score == max),
        }
    }
}

/// A random end: mostly a score from `low` to `high` (halves), included or
/// not; sometimes an infinity.
fn random_bound(context: &mut Context, low: i64, high: i64) -> Bound {
    match context.rng.between(0, 9) {
        0 => Bound::Lowest,
        1 => Bound::Highest,
        _ => {
            let halves = low + context.rng.between(0, (high - low) as usize) as i64;
            Bound::Score(halves, context.rng.coin())
        }
    }
}

/// The model's members from `min` to `max`, in order.
fn in_range(model: &Model, min: Bound, max: Bound) -> Vec<&(i64, String)> {
    let admitted =
        |(score, _): &&(i64, String)| min.admits_above(*score) && max.admits_below(*score);
    model.order.iter().filter(admitted).collect()
}

/// The reply listing `members`, each followed by its score `with_scores`.
fn listing(members: &[&(i64, String)], with_scores: bool) -> Reply {
    let mut items = Vec::new();
    for (score, member) in members {
        items.push(member.clone());
        if with_scores {
            items.push(score_text(*score));
        }
    }
    bulks(&items)
}

/// A set of `count` random members with scores from -10 to 10 in halves,
/// added to `key` in one ZADD, and its model.
fn random_set(
    context: &mut Context,
    client: &mut Client,
    key: &str,
    count: usize,
) -> Result<Model, Failure> {
    let mut model = Model::default();
    let mut args: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), key.as_bytes().to_vec()];
    for i in 0..count {
        let member = format!("{}-{i}", context.rng.word());
        let score = context.rng.between(0, 40) as i64 - 20;
        model.set(&member, score);
        args.extend([score_text(score).into_bytes(), member.into_bytes()]);
    }
    let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    client.command(&args, &integer(count))?;
    Ok(model)
}

fn zrange_by_score(context: &mut Context) -> Result<(), Failure> {
    let key = new_key(context);
    let count = context.rng.between(20, 40);
    let mut client = context.connect()?;
    let model = random_set(context, &mut client, &key, count)?;
    let mut cases = vec![
        (Bound::Lowest, Bound::Highest),
        (Bound::Score(1, true), Bound::Score(1, false)),
    ];
    for _ in 0..12 {
        cases.push((
            random_bound(context, -22, 22),
            random_bound(context, -22, 22),
        ));
    }
    for (min, max) in cases {
        let with_scores = context.rng.coin();
        let (min_text, max_text) = (min.text(), max.text());
        let mut args: Vec<&[u8]> = vec![b"ZRANGE", key.as_bytes(), min_text.as_bytes()];
        args.extend([max_text.as_bytes(), b"BYSCORE"]);
        if with_scores {
            args.push(b"WITHSCORES");
        }
        let expected = listing(&in_range(&model, min, max), with_scores);
        client.command(&args, &expected).map_err(|failure| {
            failure.explain(format!(
                "{count} members, scores from -10 to 10 in halves. ZRANGE key min max BYSCORE lists \
                 the members with min <= score <= max, in order; `(` before an end excludes it \
                 (`(1` is score > 1); -inf and +inf are the ends; a min above the max is empty."
            ))
        })?;
    }
    client.expect_nothing_more()
}

fn limit_offset_count(context: &mut Context) -> Result<(), Failure> {
    let key = new_key(context);
    let count = context.rng.between(20, 40);
    let mut client = context.connect()?;
    let model = random_set(context, &mut client, &key, count)?;
    for round in 0..12 {
        let (min, max) = (random_bound(context, -22, 0), random_bound(context, 0, 22));
        let members = in_range(&model, min, max);
        let offset = context.rng.between(0, members.len() + 2);
        // A negative count is "all the rest".
        let take = context.rng.between(0, members.len() + 2) as i64 - 1;
        let with_scores = context.rng.coin();
        let expected: Vec<&(i64, String)> = members
            .iter()
            .skip(offset)
            .take(usize::try_from(take).unwrap_or(usize::MAX))
            .copied()
            .collect();
        let (min_text, max_text) = (min.text(), max.text());
        let (offset_text, take_text) = (offset.to_string(), take.to_string());
        let limit: [&[u8]; 3] = [b"LIMIT", offset_text.as_bytes(), take_text.as_bytes()];
        // The old form in even rounds, with WITHSCORES before or after LIMIT.
        let mut args: Vec<&[u8]> = if round % 2 == 0 {
            vec![
                b"ZRANGEBYSCORE",
                key.as_bytes(),
                min_text.as_bytes(),
                max_text.as_bytes(),
            ]
        } else {
            let start: [&[u8]; 5] = [
                b"ZRANGE",
                key.as_bytes(),
                min_text.as_bytes(),
                max_text.as_bytes(),
                b"BYSCORE",
            ];
            start.to_vec()
        };
        if with_scores && round % 4 < 2 {
            args.push(b"WITHSCORES");
        }
        args.extend(limit);
        if with_scores && round % 4 >= 2 {
            args.push(b"WITHSCORES");
        }
        client
            .command(&args, &listing(&expected, with_scores))
            .map_err(|failure| {
                failure.explain(format!(
                    "{} members are in the range. LIMIT offset count skips the first `offset` of \
                     them and lists the next `count`; a negative count lists all the rest. The \
                     options come in any order.",
                    members.len()
                ))
            })?;
    }
    client.expect_nothing_more()
}

fn reverse_ranges(context: &mut Context) -> Result<(), Failure> {
    let key = new_key(context);
    let count = context.rng.between(10, 25);
    let mut client = context.connect()?;
    let model = random_set(context, &mut client, &key, count)?;
    let members = model.members();
    let n = count as i64;
    let explain_indexes = |failure: Failure| {
        failure.explain(format!(
            "{count} members. ZRANGE key start stop REV: index 0 is the member with the highest \
             score, -1 the lowest; the members are listed from the highest down."
        ))
    };
    for (start, stop) in [(0, 2), (-3, -1), (0, -1), (n - 2, n + 5)] {
        let from_end = |i: i64| if i < 0 { n + i } else { i };
        let (first, last) = (from_end(start).max(0), from_end(stop).min(n - 1));
        let from_top: Vec<&(i64, String)> = members.iter().rev().copied().collect();
        let expected = if first > last {
            Vec::new()
        } else {
            from_top[first as usize..=last as usize].to_vec()
        };
        let (start, stop) = (start.to_string(), stop.to_string());
        client
            .command(
                &[
                    b"ZRANGE",
                    key.as_bytes(),
                    start.as_bytes(),
                    stop.as_bytes(),
                    b"REV",
                ],
                &listing(&expected, false),
            )
            .map_err(explain_indexes)?;
    }
    for _ in 0..6 {
        let (min, max) = (random_bound(context, -22, 0), random_bound(context, 0, 22));
        let mut expected = in_range(&model, min, max);
        expected.reverse();
        let (max_text, min_text) = (max.text(), min.text());
        client
            .command(
                &[
                    b"ZRANGE",
                    key.as_bytes(),
                    max_text.as_bytes(),
                    min_text.as_bytes(),
                    b"BYSCORE",
                    b"REV",
                    b"WITHSCORES",
                ],
                &listing(&expected, true),
            )
            .map_err(|failure| {
                failure.explain(
                    "ZRANGE key max min BYSCORE REV: with REV the range is given from its top, \
                     max first, and the members are listed from the highest score down.",
                )
            })?;
    }
    for (rank, (_, member)) in members.iter().enumerate() {
        client
            .command(
                &[b"ZREVRANK", key.as_bytes(), member.as_bytes()],
                &integer(count - 1 - rank),
            )
            .map_err(|failure| {
                failure.explain(
                    "ZREVRANK is the rank counted from the highest score: the highest is 0.",
                )
            })?;
    }
    client.command(&[b"ZREVRANK", key.as_bytes(), b"missing"], &Reply::NullBulk)?;
    client.expect_nothing_more()
}

fn counts_in_a_big_changing_set(context: &mut Context) -> Result<(), Failure> {
    let key = new_key(context);
    let mut model = Model::default();
    let mut client = context.connect()?;
    let explain = |failure: Failure| {
        failure.explain(
            "Scores from -250 to 249 (integers), so many members tie. ZCOUNT key min max is how \
             many members have min <= score <= max (`(` excludes an end). Redis finds where the \
             range starts and ends by two searches by score down the skip list, whose spans add \
             up to ranks: a search that stops one node early or late at tied scores is off.",
        )
    };
    let name = |i: usize| format!("member:{i}");
    for round in 0..2 {
        let mut args: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), key.clone().into_bytes()];
        let mut new = 0;
        for _ in 0..5_000 {
            let member = name(context.rng.between(0, 9_999));
            let score = (context.rng.between(0, 499) as i64 - 250) * 2;
            new += usize::from(model.set(&member, score));
            args.extend([score_text(score).into_bytes(), member.into_bytes()]);
        }
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        client.command(&args, &integer(new))?;
        // A narrow range of scores removed, to change the set.
        let low = (context.rng.between(0, 480) as i64 - 250) * 2;
        let (min, max) = (Bound::Score(low, false), Bound::Score(low + 20, true));
        let gone: Vec<(i64, String)> = in_range(&model, min, max).into_iter().cloned().collect();
        for entry in &gone {
            model.order.remove(entry);
        }
        let (min_text, max_text) = (min.text(), max.text());
        client
            .command(
                &[
                    b"ZREMRANGEBYSCORE",
                    key.as_bytes(),
                    min_text.as_bytes(),
                    max_text.as_bytes(),
                ],
                &integer(gone.len()),
            )
            .map_err(|failure| {
                failure.explain(format!(
                    "Round {round}: ZREMRANGEBYSCORE answers how many it removed."
                ))
            })?;
    }
    client.command(&[b"ZCARD", key.as_bytes()], &integer(model.order.len()))?;
    // 200 ZCOUNTs, 20 to a write; ties at the ends on purpose.
    for _ in 0..10 {
        let mut requests = Vec::new();
        let mut expected = Vec::new();
        for _ in 0..20 {
            let (min, max) = (
                random_bound(context, -520, 520),
                random_bound(context, -520, 520),
            );
            let snap = |bound: Bound| match bound {
                Bound::Score(halves, excluded) => Bound::Score(halves / 2 * 2, excluded),
                other => other,
            };
            let (min, max) = (snap(min), snap(max));
            let (min_text, max_text) = (min.text(), max.text());
            requests.extend(resp::command(&[
                b"ZCOUNT",
                key.as_bytes(),
                min_text.as_bytes(),
                max_text.as_bytes(),
            ]));
            expected.push(integer(in_range(&model, min, max).len()));
        }
        client.send(&requests)?;
        client.expect_all(&expected).map_err(explain)?;
    }
    let members = model.members();
    let picks: Vec<usize> = (0..100)
        .map(|_| context.rng.between(0, members.len() - 1))
        .collect();
    for batch in picks.chunks(20) {
        let requests: Vec<u8> = batch
            .iter()
            .flat_map(|&rank| {
                resp::command(&[b"ZREVRANK", key.as_bytes(), members[rank].1.as_bytes()])
            })
            .collect();
        client.send(&requests)?;
        let expected: Vec<Reply> = batch
            .iter()
            .map(|&rank| integer(members.len() - 1 - rank))
            .collect();
        client.expect_all(&expected).map_err(|failure| {
            failure.explain("ZREVRANK is the number of members after it: ZCARD - 1 - ZRANK.")
        })?;
    }
    // Windows of 10 from a random score, with the offset counted in the range.
    for _ in 0..30 {
        let min = Bound::Score(
            (context.rng.between(0, 499) as i64 - 250) * 2,
            context.rng.coin(),
        );
        let offset = context.rng.between(0, 5);
        let expected: Vec<&(i64, String)> = in_range(&model, min, Bound::Highest)
            .into_iter()
            .skip(offset)
            .take(10)
            .collect();
        let (min_text, offset_text) = (min.text(), offset.to_string());
        client
            .command(
                &[
                    b"ZRANGE",
                    key.as_bytes(),
                    min_text.as_bytes(),
                    b"+inf",
                    b"BYSCORE",
                    b"LIMIT",
                    offset_text.as_bytes(),
                    b"10",
                    b"WITHSCORES",
                ],
                &listing(&expected, true),
            )
            .map_err(explain)?;
    }
    client.expect_nothing_more()
}

fn remove_ranges(context: &mut Context) -> Result<(), Failure> {
    let key = new_key(context);
    let count = context.rng.between(12, 24);
    let mut client = context.connect()?;
    let mut model = random_set(context, &mut client, &key, count)?;
    // By rank: from the third to the third from the end, counted from the end.
    let members: Vec<(i64, String)> = model.order.iter().cloned().collect();
    let gone = &members[2..count - 2];
    for entry in gone {
        model.order.remove(entry);
    }
    client
        .command(
            &[b"ZREMRANGEBYRANK", key.as_bytes(), b"2", b"-3"],
            &integer(gone.len()),
        )
        .map_err(|failure| {
            failure.explain(
                "ZREMRANGEBYRANK key start stop removes the members at ranks start to stop, both \
                 included, negative ranks counting from the end, as ZRANGE reads them; it answers \
                 how many it removed.",
            )
        })?;
    client.command(
        &[b"ZRANGE", key.as_bytes(), b"0", b"-1", b"WITHSCORES"],
        &listing(&model.members(), true),
    )?;
    client.command(
        &[b"ZREMRANGEBYRANK", key.as_bytes(), b"10", b"20"],
        &integer(0),
    )?;
    // By score: everything above the least score left, the least excluded.
    let least = model.members()[0].0;
    let above: Vec<(i64, String)> = in_range(&model, Bound::Score(least, true), Bound::Highest)
        .into_iter()
        .cloned()
        .collect();
    let bound = Bound::Score(least, true).text();
    client
        .command(&[b"ZREMRANGEBYSCORE", key.as_bytes(), bound.as_bytes(), b"+inf"], &integer(above.len()))
        .map_err(|failure| {
            failure.explain("ZREMRANGEBYSCORE key min max removes the members ZCOUNT would count, and says how many.")
        })?;
    for entry in &above {
        model.order.remove(entry);
    }
    client.command(&[b"ZCARD", key.as_bytes()], &integer(model.order.len()))?;
    client.command(
        &[b"ZREMRANGEBYSCORE", key.as_bytes(), b"-inf", b"+inf"],
        &integer(model.order.len()),
    )?;
    expect_only_key_deleted(
        &mut client,
        key.as_bytes(),
        "No key holds an empty sorted set: a ZREMRANGEBY* that removes the last members deletes \
         the key.",
    )?;
    let missing = format!("{key}-missing");
    client.command(
        &[b"ZREMRANGEBYRANK", missing.as_bytes(), b"0", b"-1"],
        &integer(0),
    )?;
    client.command(
        &[b"ZREMRANGEBYSCORE", missing.as_bytes(), b"-inf", b"+inf"],
        &integer(0),
    )?;
    client.expect_nothing_more()
}

fn zadd_nx_xx(context: &mut Context) -> Result<(), Failure> {
    let key = new_key(context);
    let (old, new) = (
        format!("old-{}", context.rng.word()),
        format!("new-{}", context.rng.word()),
    );
    let (first, second) = (context.rng.between(1, 50), context.rng.between(51, 99));
    let (first, second) = (first.to_string(), second.to_string());
    let mut client = context.connect()?;
    let missing = format!("{key}-missing");
    client
        .command(
            &[b"ZADD", missing.as_bytes(), b"XX", b"1", old.as_bytes()],
            &integer(0),
        )
        .map_err(|failure| {
            failure.explain("ZADD XX adds no member, so on a missing key it adds nothing: :0.")
        })?;
    client
        .command(&[b"EXISTS", missing.as_bytes()], &integer(0))
        .map_err(|failure| {
            failure.explain("ZADD XX on a missing key must not leave an empty key behind.")
        })?;
    client.command(
        &[b"ZADD", key.as_bytes(), first.as_bytes(), old.as_bytes()],
        &integer(1),
    )?;
    client
        .command(
            &[
                b"ZADD",
                key.as_bytes(),
                b"nx",
                second.as_bytes(),
                old.as_bytes(),
                second.as_bytes(),
                new.as_bytes(),
            ],
            &integer(1),
        )
        .map_err(|failure| {
            failure
                .explain("ZADD NX adds new members and leaves members already there as they are.")
        })?;
    client.command(
        &[b"ZSCORE", key.as_bytes(), old.as_bytes()],
        &Reply::bulk(&first),
    )?;
    let other = format!("other-{}", context.rng.word());
    client
        .command(
            &[b"ZADD", key.as_bytes(), b"XX", b"CH", first.as_bytes(), new.as_bytes(), b"7", other.as_bytes()],
            &integer(1),
        )
        .map_err(|failure| {
            failure.explain("ZADD XX CH changes the score of members already there (CH counts them) and adds none.")
        })?;
    client.command(
        &[b"ZSCORE", key.as_bytes(), new.as_bytes()],
        &Reply::bulk(&first),
    )?;
    client.command(
        &[b"ZSCORE", key.as_bytes(), other.as_bytes()],
        &Reply::NullBulk,
    )?;
    client.command(&[b"ZCARD", key.as_bytes()], &integer(2))?;
    client.expect_nothing_more()
}

fn zadd_gt_lt_ch(context: &mut Context) -> Result<(), Failure> {
    let key = new_key(context);
    let count = context.rng.between(6, 12);
    let mut client = context.connect()?;
    let mut model = random_set(context, &mut client, &key, count)?;
    for (option, greater) in [("GT", true), ("LT", false)] {
        let members: Vec<(i64, String)> = model.order.iter().cloned().collect();
        let mut args: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), key.clone().into_bytes()];
        args.extend([option.as_bytes().to_vec(), b"CH".to_vec()]);
        let mut changed = 0;
        let mut updates = Vec::new();
        for (old, member) in &members {
            // Up, down, or the same.
            let score = old + context.rng.between(0, 2) as i64 - 1;
            let moves = if greater { score > *old } else { score < *old };
            if moves {
                changed += 1;
                updates.push((member.clone(), score));
            }
            args.extend([score_text(score).into_bytes(), member.clone().into_bytes()]);
        }
        let new = format!("new-{}", context.rng.word());
        let new_score = context.rng.between(0, 40) as i64 - 20;
        args.extend([score_text(new_score).into_bytes(), new.clone().into_bytes()]);
        updates.push((new.clone(), new_score));
        for (member, score) in updates {
            model.set(&member, score);
        }
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        client
            .command(&args, &integer(changed + 1))
            .map_err(|failure| {
                failure.explain(format!(
                "ZADD {option} CH: a member already there gets the new score only if it is {} than \
                 its old one; a new member is added whatever its score. CH counts the members \
                 added and the members whose score changed.",
                if greater { "greater" } else { "less" }
            ))
            })?;
        client.command(
            &[b"ZRANGE", key.as_bytes(), b"0", b"-1", b"WITHSCORES"],
            &listing(&model.members(), true),
        )?;
    }
    let (score, member) = model.members()[0].clone();
    let score = score_text(score);
    client
        .command(
            &[
                b"ZADD",
                key.as_bytes(),
                b"CH",
                score.as_bytes(),
                member.as_bytes(),
            ],
            &integer(0),
        )
        .map_err(|failure| {
            failure.explain("ZADD CH with the score a member already has changes nothing: :0.")
        })?;
    client.expect_nothing_more()
}

fn increments(context: &mut Context) -> Result<(), Failure> {
    let key = new_key(context);
    let member = format!("m-{}", context.rng.word());
    let (a, b) = (context.rng.between(1, 1000), context.rng.between(1, 1000));
    let (a_text, b_text, sum) = (a.to_string(), format!("-{b}"), a as i64 - b as i64);
    let mut client = context.connect()?;
    client
        .command(
            &[
                b"ZINCRBY",
                key.as_bytes(),
                a_text.as_bytes(),
                member.as_bytes(),
            ],
            &Reply::bulk(&a_text),
        )
        .map_err(|failure| {
            failure.explain(
                "ZINCRBY key increment member adds to the member's score (a new member starts at \
                 0, a missing key is created) and answers the new score as a bulk string.",
            )
        })?;
    client
        .command(
            &[
                b"ZADD",
                key.as_bytes(),
                b"INCR",
                b_text.as_bytes(),
                member.as_bytes(),
            ],
            &Reply::bulk(sum.to_string()),
        )
        .map_err(|failure| {
            failure.explain("ZADD INCR is ZINCRBY: it answers the new score, not a count.")
        })?;
    let explain_null = |failure: Failure| {
        failure.explain(
            "ZADD INCR answers a null bulk string when its options leave the member as it was: NX \
             on a member already there, XX on a member not there, GT with a score that would go down.",
        )
    };
    client
        .command(
            &[
                b"ZADD",
                key.as_bytes(),
                b"NX",
                b"INCR",
                b"1",
                member.as_bytes(),
            ],
            &Reply::NullBulk,
        )
        .map_err(explain_null)?;
    client
        .command(
            &[b"ZADD", key.as_bytes(), b"XX", b"INCR", b"1", b"nobody"],
            &Reply::NullBulk,
        )
        .map_err(explain_null)?;
    client
        .command(
            &[
                b"ZADD",
                key.as_bytes(),
                b"GT",
                b"INCR",
                b"-1",
                member.as_bytes(),
            ],
            &Reply::NullBulk,
        )
        .map_err(explain_null)?;
    // Scores are doubles, printed with 17 digits.
    let tenths = format!("t-{}", context.rng.word());
    client.command(
        &[b"ZINCRBY", key.as_bytes(), b"0.1", tenths.as_bytes()],
        &Reply::bulk("0.10000000000000001"),
    )?;
    client.command(
        &[b"ZINCRBY", key.as_bytes(), b"0.2", tenths.as_bytes()],
        &Reply::bulk("0.30000000000000004"),
    )?;
    client.command(
        &[b"ZINCRBY", key.as_bytes(), b"+inf", member.as_bytes()],
        &Reply::bulk("inf"),
    )?;
    client
        .command(
            &[b"ZINCRBY", key.as_bytes(), b"-inf", member.as_bytes()],
            &Reply::error("ERR resulting score is not a number (NaN)"),
        )
        .map_err(|failure| {
            failure.explain("inf + -inf is NaN, which no score may be: Redis refuses it and keeps the old score.")
        })?;
    client.command(
        &[b"ZSCORE", key.as_bytes(), member.as_bytes()],
        &Reply::bulk("inf"),
    )?;
    client.expect_nothing_more()
}

fn errors_as_redis(context: &mut Context) -> Result<(), Failure> {
    let limit_error =
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
    let cases: [(&[&[u8]], &str); 10] = [
        (
            &[b"ZADD", b"k", b"NX", b"XX", b"1", b"a"],
            "ERR XX and NX options at the same time are not compatible",
        ),
        (
            &[b"ZADD", b"k", b"GT", b"LT", b"1", b"a"],
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ),
        (
            &[b"ZADD", b"k", b"INCR", b"1", b"a", b"2", b"b"],
            "ERR INCR option supports a single increment-element pair",
        ),
        (&[b"ZADD", b"k", b"CH", b"1"], "ERR syntax error"),
        (
            &[b"ZCOUNT", b"k", b"(x", b"1"],
            "ERR min or max is not a float",
        ),
        (
            &[b"ZRANGE", b"k", b"0", b"nan", b"BYSCORE"],
            "ERR min or max is not a float",
        ),
        (
            &[b"ZRANGE", b"k", b"0", b"-1", b"LIMIT", b"0", b"1"],
            limit_error,
        ),
        (
            &[b"ZRANGEBYSCORE", b"k", b"0", b"1", b"REV"],
            "ERR syntax error",
        ),
        (
            &[b"ZINCRBY", b"k", b"1"],
            "ERR wrong number of arguments for 'zincrby' command",
        ),
        (
            &[b"ZREMRANGEBYRANK", b"k", b"0", b"x"],
            "ERR value is not an integer or out of range",
        ),
    ];
    let mut client = context.connect()?;
    expect_errors(
        &mut client,
        cases.map(|(args, error)| (args, Reply::error(error))),
        "Errors are matched byte for byte with Redis's: `-<message>\\r\\n`. ZADD checks its \
         options in this order: pairs after the options, XX with NX, GT/LT/NX together, INCR with \
         more than one pair, then the scores.",
    )?;
    client.expect_nothing_more()
}
