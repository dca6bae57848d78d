use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;

use super::*;

/// Sets `member`'s score as ZADD without options does; whether it is new.
fn insert(set: &mut SortedSet, member: &[u8], score: f64) -> bool {
    set.update(member, |_| Some(score)).0.is_none()
}

#[derive(Debug, Clone)]
enum Operation {
    Insert(i8, u8),
    Remove(u8),
    Range(u8, u8),
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        4 => (any::<i8>(), any::<u8>()).prop_map(|(score, member)| Operation::Insert(score % 8, member)),
        2 => any::<u8>().prop_map(Operation::Remove),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Operation::Range(a, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// ZADD, ZREM, ZSCORE, ZRANK and ZRANGE's ranges against a model: the
    /// scores in a `HashMap`, the order in a `BTreeSet` of (score, member).
    #[test]
    fn agrees_with_a_model(operations in prop::collection::vec(operation(), 1..400)) {
        let mut set = SortedSet::default();
        let mut scores: HashMap<Vec<u8>, i8> = HashMap::new();
        let mut order: BTreeSet<(i8, Vec<u8>)> = BTreeSet::new();
        for operation in operations {
            match operation {
                Operation::Insert(score, byte) => {
                    let member = vec![byte % 64];
                    let old = scores.insert(member.clone(), score);
                    if let Some(old) = old {
                        order.remove(&(old, member.clone()));
                    }
                    order.insert((score, member.clone()));
                    prop_assert_eq!(insert(&mut set, &member, f64::from(score)), old.is_none());
                }
                Operation::Remove(byte) => {
                    let member = vec![byte % 64];
                    let old = scores.remove(&member);
                    if let Some(old) = old {
                        order.remove(&(old, member.clone()));
                    }
                    prop_assert_eq!(set.remove(&member), old.is_some());
                }
                Operation::Range(a, b) if !order.is_empty() => {
                    let first = usize::from(a) % order.len();
                    let last = first + usize::from(b) % (order.len() - first);
                    let expected: Vec<(&[u8], f64)> = order
                        .iter()
                        .skip(first)
                        .take(last + 1 - first)
                        .map(|(score, member)| (&member[..], f64::from(*score)))
                        .collect();
                    prop_assert_eq!(set.range(first, last), expected);
                }
                Operation::Range(..) => {}
            }
            prop_assert_eq!(set.len(), order.len());
            for (rank, (score, member)) in order.iter().enumerate() {
                prop_assert_eq!(set.score(member), Some(f64::from(*score)));
                prop_assert_eq!(set.rank(member), Some(rank));
            }
            prop_assert_eq!(set.score(b"missing"), None);
        }
    }
}

#[test]
fn a_member_is_stored_once_and_found_after_rehashes() {
    let mut set = SortedSet::default();
    for i in 0..10_000u32 {
        assert!(insert(
            &mut set,
            format!("m{i}").as_bytes(),
            f64::from(i % 100)
        ));
    }
    for i in 0..10_000u32 {
        assert!(!insert(&mut set, format!("m{i}").as_bytes(), f64::from(i)));
    }
    assert_eq!(set.len(), 10_000);
    assert_eq!(set.rank(b"m9999"), Some(9_999));
    assert_eq!(
        set.range(0, 2),
        vec![(&b"m0"[..], 0.0), (b"m1", 1.0), (b"m2", 2.0)]
    );
    for i in 0..10_000u32 {
        assert!(set.remove(format!("m{i}").as_bytes()));
    }
    assert_eq!(set.len(), 0);
}

/// One end of a range of scores for the model test: a score from -5 to 5,
/// and whether it is excluded.
fn bound() -> impl Strategy<Value = (i8, bool)> {
    (-5i8..=5, any::<bool>())
}

#[derive(Debug, Clone)]
enum ByScore {
    Insert(i8, u8),
    Remove(u8),
    /// ZCOUNT and ZRANGE BYSCORE.
    Range((i8, bool), (i8, bool)),
    /// ZREMRANGEBYSCORE.
    RemoveScores((i8, bool), (i8, bool)),
    /// ZREMRANGEBYRANK, from a rank, so many.
    RemoveRanks(u8, u8),
}

fn by_score() -> impl Strategy<Value = ByScore> {
    prop_oneof![
        6 => (-4i8..4, any::<u8>()).prop_map(|(score, member)| ByScore::Insert(score, member)),
        1 => any::<u8>().prop_map(ByScore::Remove),
        3 => (bound(), bound()).prop_map(|(min, max)| ByScore::Range(min, max)),
        1 => (bound(), bound()).prop_map(|(min, max)| ByScore::RemoveScores(min, max)),
        1 => (any::<u8>(), 0u8..6).prop_map(|(first, count)| ByScore::RemoveRanks(first, count)),
    ]
}

fn score_range((min, min_excluded): (i8, bool), (max, max_excluded): (i8, bool)) -> ScoreRange {
    ScoreRange {
        min: f64::from(min),
        min_excluded,
        max: f64::from(max),
        max_excluded,
    }
}

/// Whether the model's `score` is in the range, as Redis's
/// `zslValueGteMin` and `zslValueLteMax` say.
fn in_range(score: i8, (min, min_excluded): (i8, bool), (max, max_excluded): (i8, bool)) -> bool {
    let above_min = if min_excluded {
        score > min
    } else {
        score >= min
    };
    let below_max = if max_excluded {
        score < max
    } else {
        score <= max
    };
    above_min && below_max
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Ranges by score and removals by score and by rank against a model,
    /// a `BTreeSet` of (score, member): the same ranks, members and counts.
    #[test]
    fn ranges_by_score_agree_with_a_model(operations in prop::collection::vec(by_score(), 1..300)) {
        let mut set = SortedSet::default();
        let mut scores: HashMap<Vec<u8>, i8> = HashMap::new();
        let mut order: BTreeSet<(i8, Vec<u8>)> = BTreeSet::new();
        for operation in operations {
            match operation {
                ByScore::Insert(score, byte) => {
                    let member = vec![byte % 48];
                    if let Some(old) = scores.insert(member.clone(), score) {
                        order.remove(&(old, member.clone()));
                    }
                    order.insert((score, member.clone()));
                    insert(&mut set, &member, f64::from(score));
                }
                ByScore::Remove(byte) => {
                    let member = vec![byte % 48];
                    if let Some(old) = scores.remove(&member) {
                        order.remove(&(old, member.clone()));
                    }
                    set.remove(&member);
                }
                ByScore::Range(min, max) => {
                    let ranks = set.ranks_in(&score_range(min, max));
                    let expected: Vec<(usize, &(i8, Vec<u8>))> = order
                        .iter()
                        .enumerate()
                        .filter(|(_, (score, _))| in_range(*score, min, max))
                        .collect();
                    prop_assert_eq!(ranks.len(), expected.len());
                    if let Some((first, _)) = expected.first() {
                        prop_assert_eq!(ranks.start, *first);
                        let listed = set.range(ranks.start, ranks.end - 1);
                        let expected: Vec<(&[u8], f64)> = expected
                            .iter()
                            .map(|(_, (score, member))| (&member[..], f64::from(*score)))
                            .collect();
                        prop_assert_eq!(listed, expected);
                    }
                }
                ByScore::RemoveScores(min, max) => {
                    let ranks = set.ranks_in(&score_range(min, max));
                    let gone: Vec<(i8, Vec<u8>)> = order
                        .iter()
                        .filter(|(score, _)| in_range(*score, min, max))
                        .cloned()
                        .collect();
                    prop_assert_eq!(set.remove_ranks(ranks), gone.len());
                    for (score, member) in gone {
                        order.remove(&(score, member.clone()));
                        scores.remove(&member);
                    }
                }
                ByScore::RemoveRanks(first, count) => {
                    let first = usize::from(first) % (order.len() + 1);
                    let end = (first + usize::from(count)).min(order.len());
                    let gone: Vec<(i8, Vec<u8>)> =
                        order.iter().skip(first).take(end - first).cloned().collect();
                    prop_assert_eq!(set.remove_ranks(first..end), gone.len());
                    for (score, member) in gone {
                        order.remove(&(score, member.clone()));
                        scores.remove(&member);
                    }
                }
            }
            prop_assert_eq!(set.len(), order.len());
            for (rank, (score, member)) in order.iter().enumerate() {
                prop_assert_eq!(set.score(member), Some(f64::from(*score)));
                prop_assert_eq!(set.rank(member), Some(rank));
            }
        }
    }
}
