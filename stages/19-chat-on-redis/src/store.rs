//! Where the chat's state lives now: in Redis, shared by every process that
//! serves the chat, changed by commands written as redis-cli takes them.
//!
//! ```text
//!  chat:members        a set: every nick online, on any process
//!  chat:nick:<nick>    a string: the process that holds the nick (SET NX)
//!  chat:history        a sorted set: the last messages, scored by time (ms)
//!  chat:messages       a channel: chat lines and /me actions
//!  chat:presence       a channel: who joins, leaves, changes nick
//!  chat:user:<nick>    a channel: /msg to that nick
//! ```
//!
//! Two connections per process: one for commands, one that only listens
//! (a subscribed connection may run no other command). The chapter draws
//! them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use bytes::Bytes;
use redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};
use redis::{AsyncConnectionConfig, FromRedisValue, Value};

pub const MEMBERS: &str = "chat:members";
pub const HISTORY: &str = "chat:history";
pub const MESSAGES: &str = "chat:messages";
pub const PRESENCE: &str = "chat:presence";

pub fn claim_key(nick: &str) -> String {
    format!("chat:nick:{nick}")
}

pub fn user_channel(nick: &str) -> String {
    format!("chat:user:{nick}")
}

/// How long a connection or a command may take before Redis counts as lost.
const TIMEOUT: Duration = Duration::from_secs(2);

pub struct Store {
    client: redis::Client,
    /// This process's name in Redis: the value of its claims, and the
    /// start of the tag of everything it publishes.
    pub process: String,
    /// The command connection, if any: a handle whose clones share one socket.
    commands: Mutex<Option<MultiplexedConnection>>,
    /// The sending half of the subscribed connection: (un)subscribes.
    subscriptions: Mutex<Option<PubSubSink>>,
    /// Numbers what this process publishes: two messages may have one text.
    sequence: AtomicU64,
}

impl Store {
    /// A store at `url`, not yet connected.
    pub fn new(url: &str) -> Result<Store> {
        let client = redis::Client::open(url)
            .with_context(|| format!("--redis {url}: not a Redis URL (redis://HOST:PORT)"))?;
        // Unique among the processes of one chat: its id, and when it started.
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let process = format!(
            "{}-{}",
            std::process::id(),
            started.as_micros() % 1_000_000_000
        );
        let (commands, subscriptions) = (Mutex::new(None), Mutex::new(None));
        let sequence = AtomicU64::new(0);
        Ok(Store {
            client,
            process,
            commands,
            subscriptions,
            sequence,
        })
    }

    // ANCHOR: connect
    /// Opens both connections, and subscribes to the chat's channels.
    /// Returns the stream of messages.
    pub async fn connect(&self) -> Result<PubSubStream> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        let commands = self
            .client
            .get_multiplexed_async_connection_with_config(&config);
        let commands = commands.await?;
        let pubsub = tokio::time::timeout(TIMEOUT, self.client.get_async_pubsub());
        let (mut sink, stream) = pubsub.await.context("timed out")??.split();
        sink.subscribe(&[MESSAGES, PRESENCE]).await?;
        *lock(&self.commands) = Some(commands);
        *lock(&self.subscriptions) = Some(sink);
        Ok(stream)
    }
    // ANCHOR_END: connect

    /// Runs one command, its words as redis-cli takes them.
    async fn query<T: FromRedisValue>(&self, words: &[&str]) -> Result<T> {
        let connection = lock(&self.commands).clone();
        let mut connection = connection.context("not connected to the chat store")?;
        let mut command = redis::cmd(words[0]);
        command.arg(&words[1..]);
        Ok(command.query_async(&mut connection).await?)
    }

    // ANCHOR: nicks
    /// Claims `nick` for this process: `false` if another holds it. The claim IS the nick's
    /// uniqueness: `NX` sets the key only if no one has, in one step, whoever asks.
    pub async fn claim(&self, nick: &str) -> Result<bool> {
        let key = claim_key(nick);
        let set = ["SET", &key, &self.process, "NX"];
        let claimed = self.query::<Value>(&set).await? != Value::Nil;
        if claimed {
            self.query::<i64>(&["SADD", MEMBERS, nick]).await?;
        }
        Ok(claimed)
    }

    /// A user of this process left: out of the chat, and everyone told.
    pub async fn leave(&self, nick: &str) -> Result<()> {
        self.listen_to(None, Some(nick)).await?;
        if self.give_up(nick).await? {
            self.publish(PRESENCE, 0, &format!("* {nick} left")).await?;
        }
        Ok(())
    }

    /// Takes `nick` out of the members, then deletes its claim. Whether this SREM removed it:
    /// one process only does, and that one tells everyone.
    pub async fn give_up(&self, nick: &str) -> Result<bool> {
        let removed: i64 = self.query(&["SREM", MEMBERS, nick]).await?;
        self.query::<i64>(&["DEL", &claim_key(nick)]).await?;
        Ok(removed == 1)
    }

    /// Who is online, on every process, sorted.
    pub async fn members(&self) -> Result<Vec<String>> {
        let mut members: Vec<String> = self.query(&["SMEMBERS", MEMBERS]).await?;
        members.sort_unstable();
        Ok(members)
    }
    // ANCHOR_END: nicks

    /// Listens to a nick's private channel, or stops.
    pub async fn listen_to(&self, nick: Option<&str>, not_to: Option<&str>) -> Result<()> {
        let sink = lock(&self.subscriptions).clone();
        let mut sink = sink.context("not connected to the chat store")?;
        if let Some(nick) = nick {
            sink.subscribe(user_channel(nick)).await?;
        }
        if let Some(nick) = not_to {
            sink.unsubscribe(user_channel(nick)).await?;
        }
        Ok(())
    }

    pub async fn member_count(&self) -> Result<u64> {
        self.query(&["SCARD", MEMBERS]).await
    }

    // ANCHOR: publish
    /// Publishes `line`, tagged with its sender (`client` of this process, 0 for none), so that
    /// each process can leave the sender out. Returns how many connections received it.
    pub async fn publish(&self, channel: &str, client: u64, line: &str) -> Result<i64> {
        self.query(&["PUBLISH", channel, &self.tagged(client, line)])
            .await
    }

    /// A chat line: into the history (its last `keep` kept), then to all. ZADD before PUBLISH:
    /// a process that hears the message may have read it in the history already (`chat.rs`).
    pub async fn say(&self, client: u64, line: &str, keep: usize) -> Result<()> {
        let payload = self.tagged(client, line);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let score = now.as_millis().to_string();
        self.query::<i64>(&["ZADD", HISTORY, &score, &payload])
            .await?;
        let last = format!("-{}", keep + 1);
        self.query::<i64>(&["ZREMRANGEBYRANK", HISTORY, "0", &last])
            .await?;
        self.query::<i64>(&["PUBLISH", MESSAGES, &payload]).await?;
        Ok(())
    }

    /// The last `count` entries of the history, oldest first, tagged.
    pub async fn history(&self, count: usize) -> Result<Vec<Bytes>> {
        let first = format!("-{count}");
        let entries: Vec<Vec<u8>> = self.query(&["ZRANGE", HISTORY, &first, "-1"]).await?;
        Ok(entries.into_iter().map(Bytes::from).collect())
    }

    /// `"<process>.<sequence>.<client> <line>\n"`: unique, says who sent it; fixed-width, so
    /// that members with one score (one millisecond) are in the order of their bytes.
    fn tagged(&self, client: u64, line: &str) -> String {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        format!("{}.{sequence:012}.{client} {line}\n", self.process)
    }
    // ANCHOR_END: publish
}

/// A payload's sender (a client of this process, or none) and line; `None` if not the chat's.
pub fn untag(payload: &Bytes, process: &str) -> Option<(Option<u64>, Bytes)> {
    let space = payload.iter().position(|&byte| byte == b' ')?;
    let tag = std::str::from_utf8(&payload[..space]).ok()?;
    let mut parts = tag.split('.');
    let (from, _sequence) = (parts.next()?, parts.next()?);
    let client = parts.next()?.parse::<u64>().ok()?;
    let sender = (from == process && client != 0).then_some(client);
    Some((sender, payload.slice(space + 1..)))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
