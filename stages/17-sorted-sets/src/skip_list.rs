//! A skip list whose links carry spans, as Redis's `zskiplist`: members
//! kept in order of (score, member bytes), found in O(log n), and each
//! link says how many places it jumps, so that a member's rank, and the
//! member at a rank, are O(log n) too (ZRANK, ZRANGE by index).
//!
//! The nodes live in one `Vec` of words and name each other by a `u32`
//! index: no `unsafe`, and half a pointer's size. Chapter 17 draws it, and
//! says why a node's score, links and member are where they are.

#[cfg(test)]
mod tests;

use crate::random::Random;

/// The most levels a node has (Redis's `ZSKIPLIST_MAXLEVEL`).
const MAX_HEIGHT: usize = 32;

/// Node 0 is the head: it holds no member, and has every level. No link
/// ever points back at it, so 0 also means "no next node".
const HEAD: u32 = 0;
const NONE: u32 = 0;

/// One link of a node at one level: the next node at that level, and how
/// many places that is along the bottom level (1 at level 0). In the arena
/// it is one word, `next | span << 32`.
#[derive(Clone, Copy)]
struct Link {
    next: u32,
    span: u32,
}

// ANCHOR: node
/// A member's bytes: in place up to 22 of them, else on the heap, where
/// even a few bytes take malloc's smallest block, 32 bytes.
enum Member {
    Short(u8, [u8; 22]),
    Long(Box<[u8]>),
}

impl Member {
    fn new(bytes: &[u8]) -> Member {
        let mut short = [0; 22];
        let Some(start) = short.get_mut(..bytes.len()) else {
            return Member::Long(bytes.into());
        };
        start.copy_from_slice(bytes);
        Member::Short(bytes.len() as u8, short)
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Member::Short(len, bytes) => &bytes[..usize::from(*len)],
            Member::Long(bytes) => bytes,
        }
    }
}

pub struct SkipList {
    /// The nodes, each a run of words: `[index in members | height << 32,
    /// score's bits, link 0, ..., link height - 1]`. A node is named by its
    /// first word's index: a search step reads one place, the next node's
    /// score and link.
    words: Vec<u64>,
    /// Each node's member, apart: a search reads it only on a tied score.
    members: Vec<Member>,
    /// Nodes deleted, for the next inserts to reuse, links and all.
    free_nodes: Vec<u32>,
    /// How many levels are in use: the height of the tallest node.
    height: usize,
    len: usize,
    random: Random,
}
// ANCHOR_END: node

impl Default for SkipList {
    fn default() -> SkipList {
        let mut words = vec![0; 2 + MAX_HEIGHT];
        words[HEAD as usize] = (MAX_HEIGHT as u64) << 32;
        SkipList {
            words,
            members: vec![Member::new(b"")],
            free_nodes: Vec::new(),
            height: 1,
            len: 0,
            random: Random::new(),
        }
    }
}

impl SkipList {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Where `node`'s member is in `members`, and its height.
    fn header(&self, node: u32) -> (usize, usize) {
        let header = self.words[node as usize];
        (header as u32 as usize, (header >> 32) as usize)
    }

    pub fn member(&self, node: u32) -> &[u8] {
        self.members[self.header(node).0].bytes()
    }

    pub fn score(&self, node: u32) -> f64 {
        f64::from_bits(self.words[node as usize + 1])
    }

    fn link(&self, node: u32, level: usize) -> Link {
        let word = self.words[node as usize + 2 + level];
        Link {
            next: word as u32,
            span: (word >> 32) as u32,
        }
    }

    fn set_link(&mut self, node: u32, level: usize, next: u32, span: u32) {
        self.words[node as usize + 2 + level] = u64::from(next) | u64::from(span) << 32;
    }

    // ANCHOR: insert
    /// 1, then one more level with probability 1/4 each time (Redis's
    /// `zslRandomLevel`): on average a node has 1.33 links.
    fn random_height(&mut self) -> usize {
        let mut height = 1;
        while height < MAX_HEIGHT && self.random.below(4) == 0 {
            height += 1;
        }
        height
    }

    /// The way down to `node`'s place, by its (score, member): at each
    /// level, walk right while the next node comes before it, then go down.
    /// Returns each level's last node before it, and that node's rank.
    fn path_to(&self, node: u32) -> ([u32; MAX_HEIGHT], [u32; MAX_HEIGHT]) {
        let (score, member) = (self.score(node), self.member(node));
        let (mut last, mut rank) = ([HEAD; MAX_HEIGHT], [0; MAX_HEIGHT]);
        let (mut node, mut traversed) = (HEAD, 0);
        for level in (0..self.height).rev() {
            loop {
                let Link { next, span } = self.link(node, level);
                let ahead = self.score(next);
                let before = ahead < score || (ahead == score && self.member(next) < member);
                if next == NONE || !before {
                    break;
                }
                traversed += span;
                node = next;
            }
            last[level] = node;
            rank[level] = traversed;
        }
        (last, rank)
    }

    /// Adds a member that is not in the list yet; returns its node.
    pub fn insert(&mut self, score: f64, member: &[u8]) -> u32 {
        // A freed node keeps its links and its height: drawn at random and
        // not from its member, the height is as good as a new draw.
        let node = self.free_nodes.pop().unwrap_or_else(|| {
            let (node, height) = (self.words.len(), self.random_height());
            self.words.resize(node + 2 + height, 0);
            self.words[node] = self.members.len() as u64 | (height as u64) << 32;
            self.members.push(Member::new(b""));
            node as u32
        });
        self.words[node as usize + 1] = score.to_bits();
        let (index, _) = self.header(node);
        self.members[index] = Member::new(member);
        self.link_in(node);
        node
    }

    /// Links `node` in at its place by (score, member), on each of its
    /// levels (Redis's `zslInsert`).
    fn link_in(&mut self, node: u32) {
        let (mut last, mut rank) = self.path_to(node);
        let height = self.header(node).1;
        // New levels start at the head, whose link there spans the list.
        for level in self.height..height {
            (last[level], rank[level]) = (HEAD, 0);
            self.set_link(HEAD, level, NONE, self.len as u32);
        }
        self.height = self.height.max(height);
        for level in 0..height {
            let before = self.link(last[level], level);
            // How far `last[level]` is behind the new node's place.
            let behind = rank[0] - rank[level];
            self.set_link(node, level, before.next, before.span - behind);
            self.set_link(last[level], level, node, behind + 1);
        }
        // Higher links pass over the new node: one more place each.
        for (level, &before) in last.iter().enumerate().take(self.height).skip(height) {
            let Link { next, span } = self.link(before, level);
            self.set_link(before, level, next, span + 1);
        }
        self.len += 1;
    }
    // ANCHOR_END: insert

    // ANCHOR: unlink
    /// Takes `node` out of every level (Redis's `zslDeleteNode`).
    fn unlink(&mut self, node: u32) {
        let (last, _) = self.path_to(node);
        let height = self.header(node).1;
        for (level, &before) in last.iter().enumerate().take(self.height) {
            let Link { next, span } = self.link(before, level);
            if level < height && next == node {
                let after = self.link(node, level);
                self.set_link(before, level, after.next, span + after.span - 1);
            } else {
                // A link that passes over the node is one place shorter.
                self.set_link(before, level, next, span - 1);
            }
        }
        while self.height > 1 && self.link(HEAD, self.height - 1).next == NONE {
            self.height -= 1;
        }
        self.len -= 1;
    }
    // ANCHOR_END: unlink

    /// Deletes `node`; the next insert reuses it.
    pub fn remove(&mut self, node: u32) {
        self.unlink(node);
        let (index, _) = self.header(node);
        self.members[index] = Member::new(b"");
        self.free_nodes.push(node);
    }

    /// Moves `node` to its place for a new score.
    pub fn set_score(&mut self, node: u32, score: f64) {
        self.unlink(node);
        self.words[node as usize + 1] = score.to_bits();
        self.link_in(node);
    }

    // ANCHOR: rank
    /// How many nodes come before `node`: its rank, from 0. The spans
    /// along the way down add up to it.
    pub fn rank(&self, node: u32) -> usize {
        self.path_to(node).1[0] as usize
    }

    /// The node at `rank` (from 0): at each level, take every link that
    /// does not overshoot it (Redis's `zslGetElementByRank`).
    pub fn at_rank(&self, rank: usize) -> Option<u32> {
        let target = u32::try_from(rank).ok()?.checked_add(1)?;
        let (mut node, mut traversed) = (HEAD, 0);
        for level in (0..self.height).rev() {
            loop {
                let Link { next, span } = self.link(node, level);
                if next == NONE || traversed + span > target {
                    break;
                }
                traversed += span;
                node = next;
            }
            if traversed == target {
                return Some(node);
            }
        }
        None
    }
    // ANCHOR_END: rank

    /// The node after `node` in order, along level 0.
    pub fn next(&self, node: u32) -> Option<u32> {
        Some(self.link(node, 0).next).filter(|&next| next != NONE)
    }
}
