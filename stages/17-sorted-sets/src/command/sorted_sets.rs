//! The sorted-set commands, checked as Redis 7.0 checks them and answered
//! with scores as Redis prints them (`score.rs`).

use bytes::Bytes;

use super::{not_an_integer, or_wrong_type, syntax_error, wrong_arity};
use crate::db::Db;
use crate::protocol::parse_integer;
use crate::reply::Reply;
use crate::score::{format_score, parse_score};
use crate::sorted_set::SortedSet;

/// A sorted-set command: the key, and what to do with the set there. `Eq`,
/// as `Command` is, since a score is never NaN.
#[derive(Debug, PartialEq)]
pub struct SortedSetCommand {
    key: Bytes,
    action: Action,
}

/// ZADD, ZSCORE, ZRANK, ZCARD, ZREM, ZRANGE (with WITHSCORES or not),
/// with their arguments after the key (see `parse`).
#[derive(Debug, PartialEq)]
enum Action {
    Add(Vec<(f64, Bytes)>),
    Score(Bytes),
    Rank(Bytes),
    Card,
    Remove(Vec<Bytes>),
    Range(i64, i64, bool),
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
    let action = match (name, args) {
        (b"ZADD", pairs) if pairs.len() >= 2 => {
            if pairs.len() % 2 != 0 {
                return Err(syntax_error());
            }
            // Every score is read before any is added: one bad score, and
            // nothing changes.
            let pairs = pairs
                .chunks(2)
                .map(|pair| Some((parse_score(&pair[0])?, pair[1].clone())));
            let not_a_float = || Reply::error("value is not a valid float");
            Add(pairs.collect::<Option<_>>().ok_or_else(not_a_float)?)
        }
        (b"ZSCORE", [member]) => Score(member.clone()),
        (b"ZRANK", [member]) => Rank(member.clone()),
        (b"ZCARD", []) => Card,
        (b"ZREM", members) if !members.is_empty() => Remove(members.to_vec()),
        (b"ZRANGE", [start, stop, options @ ..]) => {
            let withscores = |option: &Bytes| option.eq_ignore_ascii_case(b"WITHSCORES");
            if !options.iter().all(withscores) {
                return Err(syntax_error());
            }
            let start = parse_integer(start).ok_or_else(not_an_integer)?;
            let stop = parse_integer(stop).ok_or_else(not_an_integer)?;
            Range(start, stop, !options.is_empty())
        }
        _ => return Err(arity()),
    };
    let key = key.clone();
    Ok(SortedSetCommand { key, action })
}
// ANCHOR_END: parse

// ANCHOR: execute
impl SortedSetCommand {
    /// Runs the command on the set at its key: a missing key is an empty
    /// set, which ZADD alone stores.
    pub fn execute(self, db: &Db) -> Reply {
        let SortedSetCommand { key, action } = self;
        let create = matches!(action, Add(_));
        let reply = db.with_sorted_set(&key, create, |set| action.run(set));
        or_wrong_type(reply, |reply| reply)
    }
}

impl Action {
    fn run(self, set: &mut SortedSet) -> Reply {
        let integer = |n: usize| Reply::Integer(n as i64);
        match self {
            Add(pairs) => integer(pairs.iter().filter(|(s, m)| set.insert(m, *s)).count()),
            Score(member) => set.score(&member).map_or(Reply::Null, score_reply),
            Rank(member) => set.rank(&member).map_or(Reply::Null, integer),
            Card => integer(set.len()),
            Remove(members) => integer(members.iter().filter(|m| set.remove(m)).count()),
            Range(start, stop, scores) => Reply::Array(range(set, start, stop, scores)),
        }
    }
}
// ANCHOR_END: execute

/// A score in a bulk string, as Redis 7.0 sends it to a RESP2 client.
fn score_reply(score: f64) -> Reply {
    Reply::Bulk(Bytes::from(format_score(score)))
}

// ANCHOR: range
/// ZRANGE by index: negative indexes count from the end (-1 is the last),
/// and a range past either end is cut to the set, as Redis does.
fn range(set: &SortedSet, start: i64, stop: i64, with_scores: bool) -> Vec<Reply> {
    let len = set.len() as i64;
    let from_end = |index: i64| if index < 0 { len + index } else { index };
    let (start, stop) = (from_end(start).max(0), from_end(stop).min(len - 1));
    if start > stop {
        return Vec::new();
    }
    let mut replies = Vec::new();
    for (member, score) in set.range(start as usize, stop as usize) {
        replies.push(Reply::Bulk(Bytes::copy_from_slice(member)));
        if with_scores {
            replies.push(score_reply(score));
        }
    }
    replies
}
// ANCHOR_END: range
