//! Where the chat's state lives now: in Redis, shared by every process that
//! serves the chat, changed by commands written as redis-cli takes them.
//!
//! ```text
//!  chat:members        a set: every nick online, on any process
//!  chat:nick:<nick>    a string: the process that holds the nick (SET NX EX)
//!  chat:history        a sorted set: the last messages, scored by time (ms)
//!  chat:messages       a channel: chat lines and /me actions
//!  chat:presence       a channel: who joins, leaves, changes nick
//!  chat:user:<nick>    a channel: /msg to that nick
//! ```
//!
//! Two connections per process: one for commands, one that only listens
//! (a subscribed connection may run no other command). The chapter draws
//! them, and says why a claim on a nick expires.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use bytes::Bytes;
use redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};
use redis::{AsyncConnectionConfig, FromRedisValue, Value};
use tokio::sync::Notify;

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

// ANCHOR: claim
/// How long a claim on a nick lives unless refreshed: the longest that a
/// process that died without a word (SIGKILL, a lost machine) leaves its
/// users in `/who`.
pub const CLAIM_SECONDS: &str = "10";

/// How often a process refreshes its users' claims: three times in a
/// claim's life, so that one late heartbeat loses nobody.
pub const HEARTBEAT: Duration = Duration::from_secs(3);
// ANCHOR_END: claim

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
    /// Woken when a command finds the connection broken.
    pub lost: Notify,
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
        let (sequence, lost) = (AtomicU64::new(0), Notify::new());
        Ok(Store {
            client,
            process,
            commands,
            subscriptions,
            sequence,
            lost,
        })
    }

    // ANCHOR: connect
    /// Opens both connections, and subscribes to the chat's channels and
    /// to `nicks`' own. Returns the stream of messages.
    pub async fn connect(&self, nicks: &[String]) -> Result<PubSubStream> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        let commands = self
            .client
            .get_multiplexed_async_connection_with_config(&config);
        let commands = commands.await?;
        let pubsub = tokio::time::timeout(TIMEOUT, self.client.get_async_pubsub());
        let (mut sink, stream) = pubsub.await.context("timed out")??.split();
        let mut channels = vec![MESSAGES.to_string(), PRESENCE.to_string()];
        channels.extend(nicks.iter().map(|nick| user_channel(nick)));
        sink.subscribe(channels).await?;
        *lock(&self.commands) = Some(commands);
        *lock(&self.subscriptions) = Some(sink);
        Ok(stream)
    }

    /// Drops both connections: every command fails at once until
    /// [`Store::connect`] succeeds again.
    pub fn disconnect(&self) {
        lock(&self.commands).take();
        lock(&self.subscriptions).take();
    }
    // ANCHOR_END: connect

    /// Runs one command, its words as redis-cli takes them.
    async fn query<T: FromRedisValue>(&self, words: &[&str]) -> Result<T> {
        let mut pipeline = redis::pipe();
        pipeline.cmd(words[0]).arg(&words[1..]);
        let (reply,): (T,) = self.pipeline(&pipeline).await?;
        Ok(reply)
    }

    /// Runs commands in one round trip. A broken connection wakes
    /// [`Store::lost`] (if nothing is reconnecting already); an error
    /// reply does not.
    async fn pipeline<T: FromRedisValue>(&self, pipeline: &redis::Pipeline) -> Result<T> {
        let connection = lock(&self.commands).clone();
        let mut connection = connection.context("not connected to the chat store")?;
        let reply = pipeline.query_async(&mut connection).await;
        reply
            .inspect_err(|error| {
                if error.is_io_error() || error.is_timeout() || error.is_unrecoverable_error() {
                    self.lost.notify_waiters();
                }
            })
            .map_err(Into::into)
    }

    // ANCHOR: nicks
    /// Claims `nick` for this process: `false` if another holds it. The claim IS the nick's
    /// uniqueness: `NX` sets the key only if no one has, in one step, whoever asks.
    pub async fn claim(&self, nick: &str) -> Result<bool> {
        let key = claim_key(nick);
        let set = ["SET", &key, &self.process, "NX", "EX", CLAIM_SECONDS];
        let claimed = self.query::<Value>(&set).await? != Value::Nil;
        if claimed {
            self.query::<i64>(&["SADD", MEMBERS, nick]).await?;
        }
        Ok(claimed)
    }

    /// Refreshes the claims on `nicks`, in one round trip. Returns those
    /// whose claim had gone: it expired, or Redis restarted.
    pub async fn refresh(&self, nicks: &[String]) -> Result<Vec<String>> {
        if nicks.is_empty() {
            return Ok(Vec::new());
        }
        let mut refresh = redis::pipe();
        for nick in nicks {
            let key = claim_key(nick);
            refresh
                .cmd("SET")
                .arg(&[&key, &self.process, "XX", "EX", CLAIM_SECONDS]);
        }
        let replies: Vec<Value> = self.pipeline(&refresh).await?;
        let gone = nicks
            .iter()
            .zip(replies)
            .filter(|(_, reply)| *reply == Value::Nil);
        Ok(gone.map(|(nick, _)| nick.clone()).collect())
    }

    /// A user of this process left: out of the chat, and everyone told.
    pub async fn leave(&self, nick: &str) -> Result<()> {
        self.listen_to(None, Some(nick)).await?;
        if self.give_up(nick).await? {
            self.publish(PRESENCE, 0, &format!("* {nick} left")).await?;
        }
        Ok(())
    }

    /// Takes `nick` out of the members, then deletes its claim if it is
    /// still ours. Whether this SREM removed it: one process only does,
    /// and that one tells everyone.
    pub async fn give_up(&self, nick: &str) -> Result<bool> {
        let removed: i64 = self.query(&["SREM", MEMBERS, nick]).await?;
        let key = claim_key(nick);
        let holder: Option<String> = self.query(&["GET", &key]).await?;
        if holder.as_deref() == Some(self.process.as_str()) {
            self.query::<i64>(&["DEL", &key]).await?;
        }
        Ok(removed == 1)
    }

    /// Who is online: the members whose claim is alive. A member whose
    /// claim has expired was on a process that died: forgotten here.
    pub async fn members(&self) -> Result<Vec<String>> {
        let members: Vec<String> = self.query(&["SMEMBERS", MEMBERS]).await?;
        if members.is_empty() {
            return Ok(members);
        }
        let mut claims = redis::pipe();
        for nick in &members {
            claims.cmd("GET").arg(claim_key(nick));
        }
        let holders: Vec<Option<String>> = self.pipeline(&claims).await?;
        let mut online = Vec::with_capacity(members.len());
        for (nick, holder) in members.into_iter().zip(holders) {
            if holder.is_some() {
                online.push(nick);
            } else if self.query::<i64>(&["SREM", MEMBERS, &nick]).await? == 1 {
                self.publish(PRESENCE, 0, &format!("* {nick} left")).await?;
            }
        }
        online.sort_unstable();
        Ok(online)
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
