use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;

use super::*;

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
                    prop_assert_eq!(set.insert(&member, f64::from(score)), old.is_none());
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
        assert!(set.insert(format!("m{i}").as_bytes(), f64::from(i % 100)));
    }
    for i in 0..10_000u32 {
        assert!(!set.insert(format!("m{i}").as_bytes(), f64::from(i)));
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
