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
        self.check_counts_by_score();
        self.check_words();
    }

    /// `count_below` finds where each range of scores starts and ends:
    /// scores from below the least to above the greatest, both ways.
    fn check_counts_by_score(&self) {
        for score in -7..7 {
            let below = self.model.iter().filter(|(s, _)| *s < score).count();
            let at_most = self.model.iter().filter(|(s, _)| *s <= score).count();
            let score = score as f64;
            assert_eq!(self.list.count_below(score, false), below, "below {score}");
            assert_eq!(
                self.list.count_below(score, true),
                at_most,
                "at most {score}"
            );
        }
        assert_eq!(self.list.count_below(f64::NEG_INFINITY, false), 0);
        assert_eq!(self.list.count_below(f64::INFINITY, true), self.model.len());
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

    /// The words are the head, the nodes in the list and the freed nodes,
    /// end to end: no node's links run into the next node, whatever their
    /// heights; each node has a member of its own; the head keeps every level.
    fn check_words(&self) {
        let list = &self.list;
        let in_list = std::iter::successors(Some(HEAD), |&node| list.next(node));
        let mut nodes: Vec<u32> = in_list.chain(list.free_nodes.iter().copied()).collect();
        nodes.sort();
        let mut end = 0;
        let mut members = Vec::new();
        for node in nodes {
            assert_eq!(
                node as usize, end,
                "a node starts where the one before it ends"
            );
            let (member, height) = list.header(node);
            assert!((1..=MAX_HEIGHT).contains(&height), "height {height}");
            end += 2 + height;
            members.push(member);
        }
        assert_eq!(end, list.words.len());
        members.sort();
        assert!(members.iter().copied().eq(0..list.members.len()));
        assert_eq!(list.header(HEAD), (0, MAX_HEIGHT));
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
    let words = both.list.words.len();
    for round in 0..10 {
        for i in 0..1_000u32 {
            both.remove(&i.to_be_bytes());
            both.set(i64::from(i + round), i.to_be_bytes().to_vec());
        }
    }
    both.check();
    assert_eq!(both.list.words.len(), words);
}

/// The list drawn as chapter 17 draws it: a row per level, top first, each
/// link an arrow labelled with its span, and each node in its column.
fn draw(list: &SkipList) -> String {
    let mut columns = vec![HEAD];
    columns.extend(std::iter::successors(list.at_rank(0), |&node| {
        list.next(node)
    }));
    let name = |node: u32| match node {
        HEAD => "HEAD".to_string(),
        _ => format!(
            "{}({})",
            String::from_utf8_lossy(list.member(node)),
            list.score(node)
        ),
    };
    let width = columns
        .iter()
        .map(|&node| name(node).len())
        .max()
        .unwrap_or(4)
        + 8;
    let mut rows = Vec::new();
    for level in (0..list.height).rev() {
        let mut row = format!("level {level}  ");
        let indent = row.len();
        let mut node = HEAD;
        loop {
            row.push_str(&name(node));
            let Link { next, span } = list.link(node, level);
            if next == NONE {
                break;
            }
            let to = columns.iter().position(|&n| n == next).unwrap();
            let length = indent + to * width - row.len() - 3;
            let label = format!(" {span} ");
            let dashes = length - label.len();
            let (left, right) = ("-".repeat(dashes / 2), "-".repeat(dashes - dashes / 2));
            row.push_str(&format!(" {left}{label}{right}> "));
            node = next;
        }
        rows.push(row);
    }
    rows.join("\n")
}

#[test]
#[ignore = "prints the drawing of chapter 17: cargo test -p stage-17-sorted-sets draw -- --ignored --nocapture"]
fn draw_a_zadd_sequence() {
    let mut both = Both::new();
    for (score, member) in [
        (3, "carol"),
        (1, "alice"),
        (5, "eve"),
        (2, "bob"),
        (4, "dave"),
        (2, "bea"),
    ] {
        both.set(score, member.as_bytes().to_vec());
        println!("ZADD history {score} {member}\n{}\n", draw(&both.list));
    }
    both.check();
}
