//! A sorted set as Redis builds one: a skip list keeps the members in
//! order, for ranks and ranges, and a hash table finds a member's node in
//! O(1). A member's bytes are stored once, in its node: the table holds the
//! node's index, as Redis's `dict` shares the skip list's string.

#[cfg(test)]
mod tests;

use std::ops::Range;

use crate::hash_table::HashTable;
use crate::skip_list::SkipList;

// ANCHOR: score_range
/// Scores from `min` to `max`, each end in the range or not (`(` in
/// Redis's syntax): what ZRANGE BYSCORE, ZCOUNT and ZREMRANGEBYSCORE take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub min_excluded: bool,
    pub max: f64,
    pub max_excluded: bool,
}
// ANCHOR_END: score_range

// ANCHOR: sorted_set
#[derive(Default)]
pub struct SortedSet {
    /// The node of each member, found by the member's bytes.
    nodes: HashTable<u32, ()>,
    list: SkipList,
}
// ANCHOR_END: sorted_set

// ANCHOR: insert
impl SortedSet {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// The node holding `member`, and the member's hash.
    fn find(&mut self, member: &[u8]) -> (Option<u32>, u64) {
        let hash = self.nodes.hash_of(member);
        let list = &self.list;
        let is_member = |&node: &u32| list.member(node) == member;
        (self.nodes.find_hashed(hash, is_member).copied(), hash)
    }

    pub fn score(&mut self, member: &[u8]) -> Option<f64> {
        let (node, _) = self.find(member);
        node.map(|node| self.list.score(node))
    }

    /// Gives `member`'s score (`None` if it is not in the set) to `choose`,
    /// and sets the score `choose` returns, adding the member if it is new
    /// (`None`: leave it as it is). One lookup, as Redis's `zsetAdd`: a
    /// lookup costs two fifths of a search of the list. Returns the old
    /// score and the chosen one.
    pub fn update(
        &mut self,
        member: &[u8],
        choose: impl FnOnce(Option<f64>) -> Option<f64>,
    ) -> (Option<f64>, Option<f64>) {
        let (node, hash) = self.find(member);
        let old = node.map(|node| self.list.score(node));
        let new = choose(old);
        match (node, new) {
            // The same score: the member stays where it is.
            (Some(node), Some(score)) if old != Some(score) => self.list.set_score(node, score),
            (None, Some(score)) => {
                let node = self.list.insert(score, member);
                self.nodes.insert_hashed(hash, node, ());
            }
            _ => {}
        }
        (old, new)
    }
    // ANCHOR_END: insert

    /// Deletes `member`; returns whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let hash = self.nodes.hash_of(member);
        let list = &self.list;
        let removed = self
            .nodes
            .remove_hashed(hash, |&node| list.member(node) == member);
        removed.map(|(node, ())| self.list.remove(node)).is_some()
    }

    /// `member`'s rank, from 0 at the lowest score.
    pub fn rank(&mut self, member: &[u8]) -> Option<usize> {
        let (node, _) = self.find(member);
        node.map(|node| self.list.rank(node))
    }

    // ANCHOR: range
    /// The members from rank `first` to `last` (both in range), with their
    /// scores: the first found in O(log n), then a walk along level 0.
    pub fn range(&self, first: usize, last: usize) -> Vec<(&[u8], f64)> {
        let nodes = std::iter::successors(self.list.at_rank(first), |&node| self.list.next(node));
        nodes
            .take(last + 1 - first)
            .map(|node| (self.list.member(node), self.list.score(node)))
            .collect()
    }
    // ANCHOR_END: range

    // ANCHOR: ranks_in
    /// The ranks of the members whose scores are in `scores`: from the
    /// first in it to the first past it, by two searches by score. A range
    /// whose end is before its start is empty, without a search (Redis's
    /// `zslIsInRange`).
    pub fn ranks_in(&self, scores: &ScoreRange) -> Range<usize> {
        let excluded = scores.min_excluded || scores.max_excluded;
        if scores.min > scores.max || (scores.min == scores.max && excluded) {
            return 0..0;
        }
        let first = self.list.count_below(scores.min, scores.min_excluded);
        let end = self.list.count_below(scores.max, !scores.max_excluded);
        first..end.max(first)
    }

    /// Deletes the members at `ranks`; returns how many there were.
    pub fn remove_ranks(&mut self, ranks: Range<usize>) -> usize {
        let first = self.list.at_rank(ranks.start);
        let nodes: Vec<u32> = std::iter::successors(first, |&node| self.list.next(node))
            .take(ranks.len())
            .collect();
        for &node in &nodes {
            let hash = self.nodes.hash_of(self.list.member(node));
            self.nodes.remove_hashed(hash, |&found| found == node);
            self.list.remove(node);
        }
        nodes.len()
    }
    // ANCHOR_END: ranks_in
}
