use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;

use super::*;

/// The skip list beside a model: a `BTreeSet` of (score, member), which
/// keeps the same order, and which node holds each member.
struct Both {
    list: SkipList,
    model: BTreeSet<(i64, Vec<u8>)>,
    nodes: HashMap<Vec<u8>, (i64, u32)>,
}

impl Both {
    fn new() -> Both {
        Both {
            list: SkipList::default(),
            model: BTreeSet::new(),
            nodes: HashMap::new(),
        }
    }

    /// Adds `member`, or moves it to its new score.
    fn set(&mut self, score: i64, member: Vec<u8>) {
        match self.nodes.get_mut(&member) {
            Some((old, node)) => {
                self.model.remove(&(*old, member.clone()));
                self.list.set_score(*node, score as f64);
                *old = score;
            }
            None => {
                let node = self.list.insert(score as f64, &member);
                self.nodes.insert(member.clone(), (score, node));
            }
        }
        self.model.insert((score, member));
    }

    fn remove(&mut self, member: &[u8]) {
        if let Some((score, node)) = self.nodes.remove(member) {
            self.list.remove(node);
            self.model.remove(&(score, member.to_vec()));
        }
    }

    /// The list agrees with the model: the same members in the same order
    /// along level 0, each node's rank is its place, and `at_rank` finds
    /// it; every link's span is the distance it jumps.
    fn check(&self) {
        assert_eq!(self.list.len(), self.model.len());
        let mut node = self.list.at_rank(0);
        for (rank, (score, member)) in self.model.iter().enumerate() {
            let found = node.expect("as many nodes as the model has");
            assert_eq!(self.list.member(found), &member[..]);
            assert_eq!(self.list.score(found), *score as f64);
            assert_eq!(self.list.rank(found), rank);
            assert_eq!(self.list.at_rank(rank), Some(found));
            node = self.list.next(found);
        }
        assert_eq!(node, None);
        assert_eq!(self.list.at_rank(self.model.len()), None);
        self.check_spans();
    }

    fn check_spans(&self) {
        let rank_of = |node: u32| {
            if node == HEAD {
                0
            } else {
                self.list.rank(node) + 1
            }
        };
        for level in 0..self.list.height {
            let mut node = HEAD;
            let in_use = self.list.link(HEAD, level).next != NONE;
            assert!(in_use || self.list.len() == 0, "level {level} is empty");
            loop {
                let Link { next, span } = self.list.link(node, level);
                if next == NONE {
                    break;
                }
                assert_eq!(
                    span as usize,
                    rank_of(next) - rank_of(node),
                    "level {level}"
                );
                node = next;
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Operation {
    Set(i64, u8),
    Remove(u8),
}

fn operation() -> impl Strategy<Value = Operation> {
    // Few scores and few members: many ties broken by member bytes, many
    // members moved and removed.
    prop_oneof![
        3 => (-5i64..5, any::<u8>()).prop_map(|(score, member)| Operation::Set(score, member)),
        1 => any::<u8>().prop_map(Operation::Remove),
    ]
}

fn member(byte: u8) -> Vec<u8> {
    // Members of different lengths, so that a prefix orders first.
    vec![b'm'; usize::from(byte % 3)]
        .into_iter()
        .chain([byte / 3])
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn agrees_with_an_ordered_set(operations in prop::collection::vec(operation(), 1..300)) {
        let mut both = Both::new();
        for operation in operations {
            match operation {
                Operation::Set(score, byte) => both.set(score, member(byte)),
                Operation::Remove(byte) => both.remove(&member(byte)),
            }
            both.check();
        }
    }
}

#[test]
fn ten_thousand_members_in_order_with_ranks() {
    let mut both = Both::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..10_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        both.set((x % 1_000) as i64, i.to_be_bytes().to_vec());
    }
    both.check();
    assert!(both.list.height > 4, "some nodes are tall");
    for i in (0..10_000u32).step_by(2) {
        both.remove(&i.to_be_bytes());
    }
    both.check();
}

#[test]
fn freed_nodes_and_links_are_reused() {
    let mut both = Both::new();
    for i in 0..1_000u32 {
        both.set(i64::from(i), i.to_be_bytes().to_vec());
    }
    let (nodes, links) = (both.list.nodes.len(), both.list.upper.len());
    for round in 0..10 {
        for i in 0..1_000u32 {
            both.remove(&i.to_be_bytes());
            both.set(i64::from(i + round), i.to_be_bytes().to_vec());
        }
    }
    both.check();
    assert_eq!(both.list.nodes.len(), nodes);
    assert_eq!(both.list.upper.len(), links, "and their links");
}
