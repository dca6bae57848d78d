//! Publish/subscribe: who listens to which channel and which pattern, and
//! a message pushed to each of them.
//!
//! Two indexes, as in Redis: the registry, shared by every connection, maps
//! each channel (and each pattern) to its subscribers, for PUBLISH; each
//! client keeps its own channels and patterns, for UNSUBSCRIBE and for when
//! it leaves. A message goes into each subscriber's outbox (`outbox.rs`),
//! which never waits, and the subscriber's own task writes it out.

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};

use crate::glob;
use crate::hash_table::HashTable;
use crate::outbox::Outbox;
use crate::reply::Reply;

/// What a client subscribes to: one channel by its name (SUBSCRIBE), or
/// every channel whose name matches a glob pattern (PSUBSCRIBE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel = 0,
    Pattern = 1,
}

/// The first word of the confirmations, by [`Kind`].
const SUBSCRIBED: [&str; 2] = ["subscribe", "psubscribe"];
const UNSUBSCRIBED: [&str; 2] = ["unsubscribe", "punsubscribe"];

// ANCHOR: registry
/// Every subscription, shared by all connections; cloning it is cheap.
#[derive(Clone, Default)]
pub struct PubSub {
    // A std `Mutex`, as the key space's: never held across an `.await`.
    registry: Arc<Mutex<Registry>>,
}

/// Channels, then patterns (a [`Kind`] indexes it): each name with its
/// subscribers' outboxes, in the order they subscribed (Redis's
/// `server.pubsub_channels` and `server.pubsub_patterns`). A name with no
/// subscriber left is removed.
type Registry = [HashTable<Bytes, Vec<Arc<Outbox>>>; 2];

/// One connection's side of Pub/Sub. Dropped, it leaves every channel and
/// pattern, however the connection ended.
pub struct Client {
    pubsub: PubSub,
    outbox: Arc<Outbox>,
    /// Its channels, then its patterns (Redis's `c->pubsub_channels` and
    /// `c->pubsub_patterns`), each with a number that says in what order
    /// they were subscribed, for UNSUBSCRIBE with no names.
    subscriptions: [HashTable<Bytes, u64>; 2],
    subscribed: u64,
}
// ANCHOR_END: registry

impl PubSub {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new connection's side of Pub/Sub, with an empty outbox.
    pub fn client(&self) -> Client {
        Client {
            pubsub: self.clone(),
            outbox: Arc::default(),
            subscriptions: Default::default(),
            subscribed: 0,
        }
    }

    // ANCHOR: publish
    /// PUBLISH: pushes the message to each subscriber of `channel`, then to
    /// each subscriber of every pattern that matches it (a client of both
    /// gets it twice, as from Redis); returns how many pushes that made.
    pub fn publish(&self, channel: &[u8], message: &[u8]) -> usize {
        let mut registry = self.lock();
        let [channels, patterns] = &mut *registry;
        let mut receivers = 0;
        if let Some(outboxes) = channels.get(channel) {
            let push = encode(&[b"message", channel, message]);
            outboxes.iter().for_each(|outbox| outbox.push(&push));
            receivers += outboxes.len();
        }
        for (pattern, outboxes) in patterns.iter() {
            if glob::matches(pattern, channel) {
                let push = encode(&[b"pmessage", pattern, channel, message]);
                outboxes.iter().for_each(|outbox| outbox.push(&push));
                receivers += outboxes.len();
            }
        }
        receivers
    }
    // ANCHOR_END: publish

    /// PUBSUB CHANNELS: the channels with subscribers, or those of them
    /// that match `pattern`.
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let registry = self.lock();
        registry[Kind::Channel as usize]
            .iter()
            .map(|(name, _)| name)
            .filter(|name| pattern.is_none_or(|pattern| glob::matches(pattern, name)))
            .cloned()
            .collect()
    }

    /// PUBSUB NUMSUB: how many clients are subscribed to `channel`.
    pub fn subscribers(&self, channel: &[u8]) -> usize {
        let mut registry = self.lock();
        registry[Kind::Channel as usize]
            .get(channel)
            .map_or(0, Vec::len)
    }

    /// PUBSUB NUMPAT: how many patterns have subscribers.
    pub fn patterns(&self) -> usize {
        self.lock()[Kind::Pattern as usize].len()
    }
}

/// A push as RESP2 sends it: an array of bulk strings.
fn encode(parts: &[&[u8]]) -> BytesMut {
    let parts = parts
        .iter()
        .map(|part| Reply::Bulk(Bytes::copy_from_slice(part)))
        .collect();
    let mut push = BytesMut::new();
    Reply::Array(parts).write_to(&mut push);
    push
}

impl Client {
    pub fn outbox(&self) -> Arc<Outbox> {
        Arc::clone(&self.outbox)
    }

    pub fn pubsub(&self) -> &PubSub {
        &self.pubsub
    }

    /// How many channels and patterns: the count in every confirmation.
    fn count(&self) -> usize {
        self.subscriptions[0].len() + self.subscriptions[1].len()
    }

    /// Whether the client is in subscribed mode: then it may only
    /// subscribe, unsubscribe, PING, QUIT and RESET.
    pub fn is_subscribed(&self) -> bool {
        self.count() > 0
    }

    // ANCHOR: subscribe
    /// SUBSCRIBE or PSUBSCRIBE, each name confirmed. The confirmations go
    /// into the outbox under the registry's lock, so that no message on a
    /// channel can overtake its confirmation.
    pub fn subscribe(&mut self, kind: Kind, names: &[Bytes]) {
        let mut registry = self.pubsub.lock();
        for name in names {
            let mine = &mut self.subscriptions[kind as usize];
            if mine.get(name).is_none() {
                // A copy: `name` points into the connection's read buffer.
                let name = Bytes::copy_from_slice(name);
                self.subscribed += 1;
                mine.insert(name.clone(), self.subscribed);
                let listeners = &mut registry[kind as usize];
                match listeners.get_mut(&name) {
                    Some(outboxes) => outboxes.push(Arc::clone(&self.outbox)),
                    None => {
                        listeners.insert(name, vec![Arc::clone(&self.outbox)]);
                    }
                }
            }
            self.confirm(SUBSCRIBED[kind as usize], Some(name));
        }
    }

    /// UNSUBSCRIBE or PUNSUBSCRIBE: the names given, or else every one of
    /// the kind, each confirmed; with none to leave, one confirmation
    /// without a name.
    pub fn unsubscribe(&mut self, kind: Kind, names: &[Bytes]) {
        let pubsub = self.pubsub.clone();
        let mut registry = pubsub.lock();
        let names = match names {
            [] => self.names(kind),
            names => names.to_vec(),
        };
        if names.is_empty() {
            self.confirm(UNSUBSCRIBED[kind as usize], None);
        }
        for name in &names {
            self.leave(&mut registry, kind, name);
            self.confirm(UNSUBSCRIBED[kind as usize], Some(name));
        }
    }
    // ANCHOR_END: subscribe

    /// RESET, and a client that leaves: every channel and pattern left,
    /// without a word.
    pub fn unsubscribe_all(&mut self) {
        if self.is_subscribed() {
            let pubsub = self.pubsub.clone();
            let mut registry = pubsub.lock();
            for kind in [Kind::Channel, Kind::Pattern] {
                for name in self.names(kind) {
                    self.leave(&mut registry, kind, &name);
                }
            }
        }
    }

    /// Leaves `name`, if subscribed; a name with no subscriber left goes,
    /// so that nothing piles up.
    fn leave(&mut self, registry: &mut Registry, kind: Kind, name: &[u8]) {
        let mine = &mut self.subscriptions[kind as usize];
        if mine.remove(name).is_none() {
            return;
        }
        mine.shrink_if_sparse();
        let listeners = &mut registry[kind as usize];
        if let Some(outboxes) = listeners.get_mut(name) {
            outboxes.retain(|outbox| !Arc::ptr_eq(outbox, &self.outbox));
            if outboxes.is_empty() {
                listeners.remove(name);
                listeners.shrink_if_sparse();
            }
        }
    }

    /// The client's channels or patterns, in the order it subscribed.
    fn names(&self, kind: Kind) -> Vec<Bytes> {
        let mut names: Vec<(u64, Bytes)> = self.subscriptions[kind as usize]
            .iter()
            .map(|(name, order)| (*order, name.clone()))
            .collect();
        names.sort_unstable();
        names.into_iter().map(|(_, name)| name).collect()
    }

    /// `*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n`, into the outbox.
    fn confirm(&self, word: &'static str, name: Option<&Bytes>) {
        self.outbox.queue(&Reply::Array(vec![
            Reply::Bulk(Bytes::from_static(word.as_bytes())),
            name.map_or(Reply::Null, |name| Reply::Bulk(name.clone())),
            Reply::Integer(self.count() as i64),
        ]));
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.unsubscribe_all();
    }
}
