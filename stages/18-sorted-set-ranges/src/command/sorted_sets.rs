//! The sorted-set commands, checked as Redis 7.0 checks them and answered
//! with scores as Redis prints them (`score.rs`).

use std::ops::Range;

use bytes::Bytes;

use super::{not_an_integer, or_wrong_type, syntax_error, wrong_arity};
use crate::db::Db;
use crate::protocol::parse_integer;
use crate::reply::Reply;
use crate::score::{format_score, parse_bound, parse_score};
use crate::sorted_set::{ScoreRange, SortedSet};

/// A sorted-set command: the key, and what to do with the set there. `Eq`,
/// as `Command` is, since a score is never NaN.
#[derive(Debug, PartialEq)]
pub struct SortedSetCommand {
    key: Bytes,
    action: Action,
}

/// ZADD (and ZINCRBY), ZSCORE, ZRANK and ZREVRANK, ZCARD, ZREM, ZRANGE
/// (and ZRANGEBYSCORE), ZCOUNT, ZREMRANGEBYRANK and ZREMRANGEBYSCORE, with
/// their arguments after the key (see `parse`).
#[derive(Debug, PartialEq)]
enum Action {
    Add(AddOptions, Vec<(f64, Bytes)>),
    Score(Bytes),
    /// The member, and whether to count from the highest score (ZREVRANK).
    Rank(Bytes, bool),
    Card,
    Remove(Vec<Bytes>),
    Range(RangeQuery),
    Count(ScoreRange),
    RemoveRange(Selection),
}

// ANCHOR: options
/// ZADD's options. Each changes what a pair does to a member that is there,
/// or is not, by its old score.
#[derive(Debug, Default, PartialEq)]
struct AddOptions {
    /// NX: add new members, leave the others as they are.
    only_new: bool,
    /// XX: change members that are there, add none.
    only_existing: bool,
    /// GT: change a score only to a greater one (new members are added).
    only_greater: bool,
    /// LT: change a score only to a lesser one.
    only_less: bool,
    /// CH: count the members whose score changed, not only the new ones.
    count_changed: bool,
    /// INCR (and ZINCRBY): add the score to the old one, and answer the
    /// new score.
    increment: bool,
}
// ANCHOR_END: options

/// Which members: by rank (indexes from 0, negative from the end), or by
/// score.
#[derive(Debug, PartialEq)]
enum Selection {
    Ranks(i64, i64),
    Scores(ScoreRange),
}

/// ZRANGE's and ZRANGEBYSCORE's options beside the selection.
#[derive(Debug, PartialEq)]
struct RangeQuery {
    selection: Selection,
    /// REV: from the highest score down.
    reverse: bool,
    /// LIMIT offset count, by score only: a negative count is "all".
    limit: Option<(i64, i64)>,
    with_scores: bool,
}

impl Eq for SortedSetCommand {}

use Action::*;

// ANCHOR: parse
/// Checks a sorted-set command's arguments; `name` is in upper case.
pub fn parse(name: &[u8], args: &[Bytes]) -> Result<SortedSetCommand, Reply> {
    let arity = || wrong_arity(&String::from_utf8_lossy(name).to_lowercase());
    let [key, args @ ..] = args else {
        return Err(arity());
    };
    let not_a_float = || Reply::error("value is not a valid float");
    let action = match (name, args) {
        (b"ZADD", args) if args.len() >= 2 => parse_add(args)?,
        (b"ZINCRBY", [increment, member]) => {
            let increment = parse_score(increment).ok_or_else(not_a_float)?;
            let options = AddOptions {
                increment: true,
                ..AddOptions::default()
            };
            Add(options, vec![(increment, member.clone())])
        }
        (b"ZSCORE", [member]) => Score(member.clone()),
        (b"ZRANK", [member]) => Rank(member.clone(), false),
        (b"ZREVRANK", [member]) => Rank(member.clone(), true),
        (b"ZCARD", []) => Card,
        (b"ZREM", members) if !members.is_empty() => Remove(members.to_vec()),
        (b"ZRANGE", [start, stop, options @ ..]) => parse_range(false, start, stop, options)?,
        (b"ZRANGEBYSCORE", [min, max, options @ ..]) => parse_range(true, min, max, options)?,
        (b"ZCOUNT", [min, max]) => Count(parse_score_range(min, max)?),
        (b"ZREMRANGEBYRANK", [start, stop]) => {
            let start = parse_integer(start).ok_or_else(not_an_integer)?;
            let stop = parse_integer(stop).ok_or_else(not_an_integer)?;
            RemoveRange(Selection::Ranks(start, stop))
        }
        (b"ZREMRANGEBYSCORE", [min, max]) => {
            RemoveRange(Selection::Scores(parse_score_range(min, max)?))
        }
        _ => return Err(arity()),
    };
    let key = key.clone();
    Ok(SortedSetCommand { key, action })
}
// ANCHOR_END: parse

// ANCHOR: parse_add
/// `ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member
/// ...]`: the options first, in any order, then the pairs; checked in
/// Redis's order, every score before anything is added.
fn parse_add(args: &[Bytes]) -> Result<Action, Reply> {
    let mut options = AddOptions::default();
    let mut first_pair = 0;
    while let Some(word) = args.get(first_pair) {
        let option = match word.to_ascii_uppercase().as_slice() {
            b"NX" => &mut options.only_new,
            b"XX" => &mut options.only_existing,
            b"GT" => &mut options.only_greater,
            b"LT" => &mut options.only_less,
            b"CH" => &mut options.count_changed,
            b"INCR" => &mut options.increment,
            _ => break,
        };
        *option = true;
        first_pair += 1;
    }
    let pairs = &args[first_pair..];
    if pairs.is_empty() || pairs.len() % 2 != 0 {
        return Err(syntax_error());
    }
    let AddOptions {
        only_new: nx,
        only_existing: xx,
        only_greater: gt,
        only_less: lt,
        ..
    } = options;
    if nx && xx {
        let error = "XX and NX options at the same time are not compatible";
        return Err(Reply::error(error));
    }
    if [gt, lt, nx].iter().filter(|&&given| given).count() > 1 {
        let error = "GT, LT, and/or NX options at the same time are not compatible";
        return Err(Reply::error(error));
    }
    if options.increment && pairs.len() > 2 {
        let error = "INCR option supports a single increment-element pair";
        return Err(Reply::error(error));
    }
    let pairs = pairs
        .chunks(2)
        .map(|pair| Some((parse_score(&pair[0])?, pair[1].clone())));
    let not_a_float = || Reply::error("value is not a valid float");
    let pairs = pairs.collect::<Option<_>>().ok_or_else(not_a_float)?;
    Ok(Add(options, pairs))
}
// ANCHOR_END: parse_add

// ANCHOR: parse_range
/// `ZRANGE key start stop [BYSCORE] [REV] [LIMIT offset count]
/// [WITHSCORES]`, and `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset
/// count]` (`zrangebyscore`), checked in Redis's order: the options, then
/// whether LIMIT may be there, then the range.
fn parse_range(
    zrangebyscore: bool,
    start: &Bytes,
    stop: &Bytes,
    options: &[Bytes],
) -> Result<Action, Reply> {
    let mut by_score = zrangebyscore;
    let (mut reverse, mut limit, mut with_scores) = (false, None, false);
    let mut words = options.iter();
    while let Some(word) = words.next() {
        let is = |name: &str| word.eq_ignore_ascii_case(name.as_bytes());
        if is("WITHSCORES") {
            with_scores = true;
        } else if is("LIMIT") && words.len() >= 2 {
            let mut integer = || parse_integer(words.next()?);
            let (offset, count) = (integer(), integer());
            limit = Some((offset.zip(count)).ok_or_else(not_an_integer)?);
        } else if is("REV") && !reverse && !zrangebyscore {
            reverse = true;
        } else if is("BYSCORE") && !by_score {
            by_score = true;
        } else {
            // BYLEX too: ranges of members by their bytes are not here.
            return Err(syntax_error());
        }
    }
    // Redis tells "no LIMIT" by a count of -1, so `LIMIT 5 -1` passes.
    if !by_score && limit.is_some_and(|(_, count)| count != -1) {
        let error =
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
        return Err(Reply::error(error));
    }
    let selection = if by_score {
        // REV BYSCORE names the range from its top: max, then min.
        let (min, max) = if reverse {
            (stop, start)
        } else {
            (start, stop)
        };
        Selection::Scores(parse_score_range(min, max)?)
    } else {
        let start = parse_integer(start).ok_or_else(not_an_integer)?;
        let stop = parse_integer(stop).ok_or_else(not_an_integer)?;
        Selection::Ranks(start, stop)
    };
    let limit = limit.filter(|_| by_score);
    Ok(Range(RangeQuery {
        selection,
        reverse,
        limit,
        with_scores,
    }))
}

/// `min max`, each maybe with `(` (see `parse_bound`).
fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, Reply> {
    let not_a_float = || Reply::error("min or max is not a float");
    let (min, min_excluded) = parse_bound(min).ok_or_else(not_a_float)?;
    let (max, max_excluded) = parse_bound(max).ok_or_else(not_a_float)?;
    Ok(ScoreRange {
        min,
        min_excluded,
        max,
        max_excluded,
    })
}
// ANCHOR_END: parse_range

// ANCHOR: execute
impl SortedSetCommand {
    /// Runs the command on the set at its key: a missing key is an empty
    /// set, which ZADD and ZINCRBY alone store.
    pub fn execute(self, db: &Db) -> Reply {
        let SortedSetCommand { key, action } = self;
        let create = matches!(action, Add(..));
        let reply = db.with_sorted_set(&key, create, |set| action.run(set));
        or_wrong_type(reply, |reply| reply)
    }
}

impl Action {
    fn run(self, set: &mut SortedSet) -> Reply {
        let integer = |n: usize| Reply::Integer(n as i64);
        match self {
            Add(options, pairs) => add(set, &options, pairs),
            Score(member) => set.score(&member).map_or(Reply::Null, score_reply),
            Rank(member, reverse) => set.rank(&member).map_or(Reply::Null, |rank| {
                integer(if reverse { set.len() - 1 - rank } else { rank })
            }),
            Card => integer(set.len()),
            Remove(members) => integer(members.iter().filter(|m| set.remove(m)).count()),
            Range(query) => Reply::Array(range(set, query)),
            Count(scores) => integer(set.ranks_in(&scores).len()),
            RemoveRange(selection) => {
                let ranks = ranks_of(set, &selection);
                integer(set.remove_ranks(ranks))
            }
        }
    }
}
// ANCHOR_END: execute

/// A score in a bulk string, as Redis 7.0 sends it to a RESP2 client.
fn score_reply(score: f64) -> Reply {
    Reply::Bulk(Bytes::from(format_score(score)))
}

// ANCHOR: add
/// ZADD and ZINCRBY, a pair at a time as Redis's `zsetAdd`: whether a
/// member changes, and to what, depends on its old score. Answers how many
/// members were added (with CH, or changed), or with INCR the new score,
/// or a null when the options left the member as it was.
fn add(set: &mut SortedSet, options: &AddOptions, pairs: Vec<(f64, Bytes)>) -> Reply {
    let (mut added, mut changed, mut last_score) = (0, 0, None);
    for (score, member) in pairs {
        let mut not_a_number = false;
        let (old, new) = set.update(&member, |old| {
            let allowed = match old {
                None => !options.only_existing,
                Some(_) => !options.only_new,
            };
            let new = match old {
                Some(old) if options.increment => old + score,
                _ => score,
            };
            // inf + -inf
            not_a_number = allowed && new.is_nan();
            let skipped = old.is_some_and(|old| {
                (options.only_greater && new <= old) || (options.only_less && new >= old)
            });
            (allowed && !not_a_number && !skipped).then_some(new)
        });
        if not_a_number {
            return Reply::error("resulting score is not a number (NaN)");
        }
        match (old, new) {
            (None, Some(_)) => added += 1,
            (Some(old), Some(new)) if old != new => changed += 1,
            _ => {}
        }
        last_score = new.or(last_score);
    }
    if options.increment {
        last_score.map_or(Reply::Null, score_reply)
    } else if options.count_changed {
        Reply::Integer(added + changed)
    } else {
        Reply::Integer(added)
    }
}
// ANCHOR_END: add

// ANCHOR: range
/// The ranks a selection names, in order of score. By index: negative
/// indexes count from the end (-1 is the last), and a range past either end
/// is cut to the set, as Redis does.
fn ranks_of(set: &SortedSet, selection: &Selection) -> Range<usize> {
    match selection {
        Selection::Ranks(start, stop) => {
            let len = set.len() as i64;
            let from_end = |index: i64| if index < 0 { len + index } else { index };
            let (start, stop) = (from_end(*start).max(0), from_end(*stop).min(len - 1));
            if start > stop {
                return 0..0;
            }
            start as usize..stop as usize + 1
        }
        Selection::Scores(scores) => set.ranks_in(scores),
    }
}

/// ZRANGE and ZRANGEBYSCORE. REV counts the indexes from the top, and lists
/// the members from the highest; LIMIT skips `offset` of the members in
/// range, in the order they are listed, then takes `count`.
fn range(set: &SortedSet, query: RangeQuery) -> Vec<Reply> {
    let RangeQuery {
        selection,
        reverse,
        limit,
        with_scores,
    } = query;
    let mut ranks = ranks_of(set, &selection);
    if reverse && matches!(selection, Selection::Ranks(..)) {
        // Index 0 is the highest: mirror the ranks.
        ranks = set.len() - ranks.end..set.len() - ranks.start;
    }
    if let Some((offset, count)) = limit {
        // A negative offset walks past the end in Redis 7.0: nothing.
        let offset = usize::try_from(offset).map_or(ranks.len(), |o| o.min(ranks.len()));
        let left = ranks.len() - offset;
        let taken = usize::try_from(count).map_or(left, |count| count.min(left));
        ranks = if reverse {
            ranks.end - offset - taken..ranks.end - offset
        } else {
            ranks.start + offset..ranks.start + offset + taken
        };
    }
    if ranks.is_empty() {
        return Vec::new();
    }
    let mut members = set.range(ranks.start, ranks.end - 1);
    if reverse {
        // No backward links: the same walk forward, then turned around.
        members.reverse();
    }
    let mut replies = Vec::new();
    for (member, score) in members {
        replies.push(Reply::Bulk(Bytes::copy_from_slice(member)));
        if with_scores {
            replies.push(score_reply(score));
        }
    }
    replies
}
// ANCHOR_END: range
