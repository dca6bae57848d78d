//! The chat, as one process serves it: the clients connected here, and
//! the lines Redis brings them. Who is online, the history and every
//! message live in Redis (`store.rs`); this process keeps only its own
//! connections, so any number of processes serve one chat.
//!
//! A line goes out through Redis and comes back: each process hears every
//! message on its subscription, its own too, and puts it in the outbox of
//! each of its clients but the sender. So every client, on every process,
//! sees the messages in the one order Redis published them.
//!
//! The local registry is under std's `Mutex`, never held across an
//! `.await`: Redis is asked first, the registry changed after. A fanout
//! never waits (see `outbox.rs`); a client that is not reading is
//! disconnected on the spot, as in stage 14.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::Bytes;
use futures_core::Stream;
use redis::aio::PubSubStream;
use stage_19_chat_on_redis::line::MAX_LINE;
use tokio::task::AbortHandle;

use crate::command::{self, HELP, Input};
use crate::nick;
use crate::outbox::{self, Outbox, OutboxReceiver};
use crate::store::{self, Store};

/// Each connection's number in this process, from 1 up, never reused.
pub type ClientId = u64;

/// How many chat messages a new client is shown.
pub const HISTORY_LENGTH: usize = 20;

/// The most messages held for a client while its history is read.
const MAX_HELD: usize = 1024;

/// The wait before the first attempt to reconnect to Redis, doubled after
/// each failure up to the most.
const RECONNECT_FIRST_DELAY: Duration = Duration::from_millis(100);
const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(5);

/// Whether the client's connection goes on after a line.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// It sent `/quit`, or it has been disconnected already.
    Stop,
}

// ANCHOR: state
/// This process's part of the chat, shared by every connection's task.
pub struct Hub {
    state: Mutex<State>,
    pub store: Arc<Store>,
}

#[derive(Default)]
struct State {
    /// The id of the last client that connected.
    last_id: ClientId,
    clients: HashMap<ClientId, Client>,
}

struct Client {
    /// Empty until the client has a nick claimed in Redis.
    nick: String,
    outbox: Outbox,
    /// The client's reader and writer tasks, to stop them when it is
    /// disconnected for not reading.
    tasks: Vec<AbortHandle>,
    /// While its history is read: the messages that arrive meanwhile,
    /// tagged, to be sent after the history (those not in it).
    held: Option<Vec<Bytes>>,
    /// The history it was sent, for a moment: a message ZADDed before the
    /// history was read may be PUBLISHed after, and is not sent twice.
    recent: Vec<Bytes>,
    /// When it was sent the history.
    joined: Instant,
    /// Its own "* NICK joined" has come back from Redis: the notices after
    /// it are of the chat it is in, and held for it like messages.
    announced: bool,
}

/// What a line is, which matters for a client whose history is being
/// read: a reply is sent at once, a message held until the history has
/// been sent (its tagged payload, to find it in the history), a notice
/// held too, or skipped if it came before the client's own join.
#[derive(Clone, Copy)]
enum Kind<'a> {
    Reply,
    Message(&'a Bytes),
    Notice(&'a Bytes),
}

/// Who receives a line.
#[derive(Clone, Copy)]
enum To {
    One(ClientId),
    AllBut(ClientId),
    All,
}
// ANCHOR_END: state

impl Hub {
    pub fn new(store: Store) -> Hub {
        Hub {
            state: Mutex::default(),
            store: Arc::new(store),
        }
    }

    /// Registers a new client, without a nick yet: [`Hub::join`] gives it
    /// one. Returns its id, and the end of its outbox that its writer task
    /// drains.
    pub fn register(&self) -> (ClientId, OutboxReceiver) {
        let (outbox, receiver) = outbox::outbox();
        let mut state = self.lock();
        state.last_id += 1;
        let id = state.last_id;
        let client = Client {
            nick: String::new(),
            outbox,
            tasks: Vec::new(),
            held: Some(Vec::new()),
            recent: Vec::new(),
            joined: Instant::now(),
            announced: false,
        };
        state.clients.insert(id, client);
        (id, receiver)
    }

    /// Records the client's tasks, so that they can be stopped if it has to
    /// be disconnected. If that has happened already (it joined, and did not
    /// read fast enough even before its tasks started), stops them now.
    pub fn attach_tasks(&self, id: ClientId, tasks: Vec<AbortHandle>) {
        let mut state = self.lock();
        match state.clients.get_mut(&id) {
            Some(client) => client.tasks = tasks,
            None => tasks.iter().for_each(AbortHandle::abort),
        }
    }

    // ANCHOR: join
    /// Gives the client a free default nick, sends it the welcome and the
    /// history, and tells everyone it joined. `Stop` if the store cannot
    /// be reached, or the client is gone.
    pub async fn join(&self, id: ClientId) -> Flow {
        let nick = match self.claim_default_nick().await {
            Ok(nick) => nick,
            Err(error) => return self.cannot_join(id, error),
        };
        if !self.set_nick(id, &nick) {
            let _ = self.store.leave(&nick).await;
            return Flow::Stop;
        }
        // Everyone is told before the newcomer is welcomed: a client that
        // has its welcome has been announced, on every process.
        let joined = async {
            let notice = format!("* {nick} joined");
            self.store.publish(store::PRESENCE, id, &notice).await?;
            let welcome = format!(
                "Welcome, {nick}! Set your name with /nick NAME; /help lists the commands.\n"
            );
            self.reply(id, welcome);
            self.store.listen_to(Some(&nick), None).await?;
            let history = self.store.history(HISTORY_LENGTH).await?;
            self.end_holding(id, history);
            anyhow::Ok(())
        };
        match joined.await {
            Ok(()) => Flow::Continue,
            Err(error) => self.cannot_join(id, error),
        }
    }

    /// Redis cannot be reached: the client is told, and let go.
    fn cannot_join(&self, id: ClientId, error: anyhow::Error) -> Flow {
        println!("store: {error:#}");
        self.reply(
            id,
            "! the chat is unavailable (its store cannot be reached)\n",
        );
        Flow::Stop
    }

    /// `user<N>`, for the first N from the count of members up that no
    /// one has: each process tries, Redis's `SET NX` picks one winner.
    async fn claim_default_nick(&self) -> Result<String> {
        let first = self.store.member_count().await? + 1;
        for number in first..first + 1000 {
            let nick = format!("user{number}");
            if self.store.claim(&nick).await? {
                return Ok(nick);
            }
        }
        bail!("no free default nick from user{first} on")
    }

    /// Sends the history, then what arrived while it was read and is not
    /// in it, and from now on every message as it comes.
    fn end_holding(&self, id: ClientId, history: Vec<Bytes>) {
        let mut state = self.lock();
        let Some(client) = state.clients.get_mut(&id) else {
            return;
        };
        let held = client.held.take().unwrap_or_default();
        (client.recent, client.joined) = (history.clone(), Instant::now());
        let process = &self.store.process;
        for (kind, payload) in history.iter().map(|p| (Kind::Reply, p)).chain(
            // Each one in the history is found in `recent`, and skipped.
            held.iter().map(|p| (Kind::Message(p), p)),
        ) {
            if let Some((_, line)) = store::untag(payload, process) {
                let gone = state.deliver(To::One(id), kind, line);
                if !gone.is_empty() {
                    drop(state);
                    return self.forget_later(gone);
                }
            }
        }
    }
    // ANCHOR_END: join

    // ANCHOR: handle_line
    /// Acts on one cleaned line from a client.
    pub async fn handle_line(&self, id: ClientId, line: &str) -> Flow {
        let input = command::parse(line);
        let Some(nick) = self.lock().clients.get(&id).map(|c| c.nick.clone()) else {
            return Flow::Stop;
        };
        let done = match input {
            Err(error) => {
                self.reply(id, format!("{error}\n"));
                Ok(())
            }
            Ok(Input::Nothing) => Ok(()),
            Ok(Input::Chat(text)) => self.say(id, format!("{nick}> {text}")).await,
            Ok(Input::Me(action)) => self.say(id, format!("* {nick} {action}")).await,
            Ok(Input::Nick(new_nick)) => self.rename(id, &nick, new_nick).await,
            Ok(Input::Who) => self.who(id).await,
            Ok(Input::Msg { to, text }) => self.private(id, &nick, to, text).await,
            Ok(Input::Help) => {
                self.reply(id, HELP);
                Ok(())
            }
            Ok(Input::Quit) => {
                self.reply(id, "* bye\n");
                return Flow::Stop;
            }
        };
        match done {
            Ok(()) => Flow::Continue,
            Err(error) => self.unreachable(id, error),
        }
    }

    /// Tells the client its line was over the limit, and not sent.
    pub fn line_too_long(&self, id: ClientId) {
        let error = format!("! line too long (over {MAX_LINE} bytes): not sent\n");
        self.reply(id, error);
    }

    /// Removes a client that left: gone from here at once (its outbox
    /// closes with it), then from Redis, which tells everyone.
    pub async fn leave(&self, id: ClientId) {
        let client = self.lock().clients.remove(&id);
        if let Some(client) = client.filter(|client| !client.nick.is_empty()) {
            if let Err(error) = self.store.leave(&client.nick).await {
                println!("store: {error:#}");
            }
        }
    }
    // ANCHOR_END: handle_line

    /// The chat store did not answer: say so; the client stays connected.
    fn unreachable(&self, id: ClientId, error: anyhow::Error) -> Flow {
        println!("store: {error:#}");
        self.reply(id, "! the chat store is unreachable: not done, try again\n");
        Flow::Continue
    }

    /// A chat line or action: into the history and to everyone, the
    /// sender's process leaving the sender out when it comes back.
    async fn say(&self, id: ClientId, line: String) -> Result<()> {
        println!("{line}");
        self.store.say(id, &line, HISTORY_LENGTH).await
    }

    // ANCHOR: rename
    async fn rename(&self, id: ClientId, old_nick: &str, new_nick: &str) -> Result<()> {
        if !nick::is_valid(new_nick) {
            let rule = format!(
                "! a nick is 1-{} printable characters, without spaces\n",
                nick::MAX_NICK
            );
            self.reply(id, rule);
            return Ok(());
        }
        if new_nick == old_nick {
            self.reply(id, format!("* you are now {new_nick}\n"));
            return Ok(());
        }
        // The claim decides, on every process at once: no lock here could.
        if !self.store.claim(new_nick).await? {
            self.reply(id, format!("! the nick {new_nick} is taken\n"));
            return Ok(());
        }
        if !self.set_nick(id, new_nick) {
            // It left meanwhile: let the new nick go too.
            return self.store.leave(new_nick).await;
        }
        self.reply(id, format!("* you are now {new_nick}\n"));
        println!("{old_nick} is now {new_nick}");
        self.store.listen_to(Some(new_nick), Some(old_nick)).await?;
        self.store.give_up(old_nick).await?;
        let notice = format!("* {old_nick} is now {new_nick}");
        self.store.publish(store::PRESENCE, id, &notice).await?;
        Ok(())
    }
    // ANCHOR_END: rename

    async fn who(&self, id: ClientId) -> Result<()> {
        let nicks = self.store.members().await?;
        let line = format!("* online ({}): {}\n", nicks.len(), nicks.join(", "));
        self.reply(id, line);
        Ok(())
    }

    /// To the one process that holds `to`: PUBLISH says how many listened.
    async fn private(&self, from: ClientId, nick: &str, to: &str, text: &str) -> Result<()> {
        let line = format!("{nick} (private)> {text}");
        if self
            .store
            .publish(&store::user_channel(to), 0, &line)
            .await?
            == 0
        {
            self.reply(from, format!("! no one is called {to}\n"));
        } else {
            // The log says who wrote to whom, never what.
            println!("{nick} -> {to} (private)");
        }
        Ok(())
    }

    // ANCHOR: on_message
    /// A message from the subscription: to the clients of this process it
    /// is for. Payloads that are not the chat's own are ignored.
    pub fn on_message(&self, channel: &str, payload: Bytes) {
        let Some((sender, line)) = store::untag(&payload, &self.store.process) else {
            return;
        };
        let mut state = self.lock();
        let to = match channel.strip_prefix("chat:user:") {
            Some(nick) => match state.clients.iter().find(|(_, c)| c.nick == nick) {
                Some((&id, _)) => To::One(id),
                None => return,
            },
            None => sender.map_or(To::All, To::AllBut),
        };
        let kind = match channel {
            store::PRESENCE => Kind::Notice(&payload),
            _ => Kind::Message(&payload),
        };
        if let (store::PRESENCE, Some(id)) = (channel, sender) {
            if let Some(client) = state.clients.get_mut(&id) {
                client.announced = true;
            }
        }
        let gone = state.deliver(to, kind, line);
        drop(state);
        self.forget_later(gone);
    }
    // ANCHOR_END: on_message

    /// Tells every client of this process something about the store.
    pub fn tell_all(&self, line: &'static str) {
        let line = Bytes::from_static(line.as_bytes());
        let gone = self.lock().deliver(To::All, Kind::Reply, line);
        self.forget_later(gone);
    }

    /// The nicks of this process's clients.
    pub fn nicks(&self) -> Vec<String> {
        let state = self.lock();
        let nicks = state.clients.values().map(|c| c.nick.clone());
        nicks.filter(|nick| !nick.is_empty()).collect()
    }

    // ANCHOR: follow_store
    /// Hands every message of the subscription to [`Hub::on_message`].
    /// When Redis goes away, tells this process's users, reconnects with a
    /// growing delay, subscribes again and claims their nicks again (a
    /// restarted Redis remembers nothing). Never ends.
    pub async fn follow_store(self: Arc<Self>, mut messages: PubSubStream) {
        loop {
            loop {
                let next = std::future::poll_fn(|cx| Pin::new(&mut messages).poll_next(cx));
                tokio::select! {
                    message = next => match message {
                        Some(message) => {
                            let payload = Bytes::copy_from_slice(message.get_payload_bytes());
                            self.on_message(message.get_channel_name(), payload);
                        }
                        None => break,
                    },
                    () = self.store.lost.notified() => break,
                }
            }
            self.store.disconnect();
            println!("store: lost the connection; reconnecting");
            self.tell_all("* lost the chat store, reconnecting\n");
            let mut delay = RECONNECT_FIRST_DELAY;
            messages = loop {
                tokio::time::sleep(delay).await;
                match self.store.connect(&self.nicks()).await {
                    Ok(messages) => break messages,
                    Err(error) => println!("store: reconnect failed: {error:#}; next in {delay:?}"),
                }
                delay = (delay * 2).min(RECONNECT_MAX_DELAY);
            };
            if let Err(error) = self.refresh_claims().await {
                println!("store: {error:#}");
            }
            println!("store: reconnected");
            self.tell_all("* reconnected\n");
        }
    }
    // ANCHOR_END: follow_store

    // ANCHOR: heartbeat
    /// Keeps this process's claims alive, and forgets the users of
    /// processes that died (their claims expired): every [`store::HEARTBEAT`].
    pub async fn heartbeat(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(store::HEARTBEAT);
        loop {
            ticks.tick().await;
            for client in self.lock().clients.values_mut() {
                if client.joined.elapsed() > store::HEARTBEAT {
                    client.recent = Vec::new();
                }
            }
            if let Err(error) = self.refresh_claims().await {
                println!("store: heartbeat: {error:#}");
                continue;
            }
            if let Err(error) = self.store.members().await {
                println!("store: heartbeat: {error:#}");
            }
        }
    }

    /// Refreshes every claim; a user whose nick was taken while this
    /// process could not refresh it (Redis was away) gets a default nick.
    pub async fn refresh_claims(&self) -> Result<()> {
        for lost in self.store.refresh(&self.nicks()).await? {
            // Gone (a restarted Redis has no claims): ours again, unless
            // someone took it meanwhile, or its user has just left.
            if !self.nicks().contains(&lost) || self.store.claim(&lost).await? {
                continue;
            }
            let nick = self.claim_default_nick().await?;
            let id = self
                .lock()
                .clients
                .iter()
                .find(|(_, c)| c.nick == lost)
                .map(|(&id, _)| id);
            if let Some(id) = id.filter(|&id| self.set_nick(id, &nick)) {
                let line = format!("! {lost} was taken while the store was away: you are {nick}\n");
                self.reply(id, line);
                self.store.listen_to(Some(&nick), Some(&lost)).await?;
            }
        }
        Ok(())
    }
    // ANCHOR_END: heartbeat

    /// Takes this process's users out of Redis, for a clean exit: they
    /// leave `/who` at once instead of when their claims expire.
    pub async fn leave_all(&self) {
        for nick in self.nicks() {
            if let Err(error) = self.store.leave(&nick).await {
                println!("store: {error:#}");
                return;
            }
        }
    }

    /// Gives a client of this process its nick: `false` if it has left.
    fn set_nick(&self, id: ClientId, nick: &str) -> bool {
        let mut state = self.lock();
        let client = state.clients.get_mut(&id);
        client
            .map(|client| client.nick = nick.to_string())
            .is_some()
    }

    fn reply(&self, id: ClientId, line: impl Into<Bytes>) {
        let gone = self.lock().deliver(To::One(id), Kind::Reply, line.into());
        self.forget_later(gone);
    }

    /// Clients disconnected for not reading leave Redis too, in a task of
    /// their own: the fanout that found them does not wait for Redis.
    fn forget_later(&self, nicks: Vec<String>) {
        for nick in nicks.into_iter().filter(|nick| !nick.is_empty()) {
            let store = Arc::clone(&self.store);
            tokio::spawn(async move {
                if let Err(error) = store.leave(&nick).await {
                    println!("store: {error:#}");
                }
            });
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a task panicked while holding it. Every
        // change here leaves the state whole before anything can panic, so
        // go on with it rather than take the whole chat down.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    // ANCHOR: deliver
    /// Puts `line` in the outbox of each recipient, and disconnects any
    /// recipient whose outbox is full. Returns the nicks of those
    /// disconnected.
    fn deliver(&mut self, to: To, kind: Kind, line: Bytes) -> Vec<String> {
        let mut gone = Vec::new();
        for id in self.fan_out(to, kind, &line) {
            // It may be on the list twice, and gone already.
            let Some(client) = self.clients.remove(&id) else {
                continue;
            };
            println!(
                "server: disconnected {} (id {id}): {} bytes were waiting, it is not reading",
                client.nick,
                client.outbox.queued()
            );
            // Stopping its tasks closes its socket; its queue is dropped
            // with `client`. Redis tells everyone it left.
            for task in &client.tasks {
                task.abort();
            }
            gone.push(client.nick);
        }
        gone
    }

    /// Queues `line` for each recipient: the ones whose outbox refused it.
    fn fan_out(&mut self, to: To, kind: Kind, line: &Bytes) -> Vec<ClientId> {
        let mut too_slow = Vec::new();
        let mut send = |id: ClientId, client: &mut Client| {
            if !client.take(kind, line) {
                too_slow.push(id);
            }
        };
        match to {
            To::One(id) => {
                if let Some(client) = self.clients.get_mut(&id) {
                    send(id, client);
                }
            }
            To::AllBut(_) | To::All => {
                for (&id, client) in &mut self.clients {
                    if !matches!(to, To::AllBut(sender) if sender == id) {
                        send(id, client);
                    }
                }
            }
        }
        too_slow
    }
    // ANCHOR_END: deliver
}

impl Client {
    /// Queues one line, or holds it, or skips it: `false` when the client
    /// is too slow for it.
    fn take(&mut self, kind: Kind, line: &Bytes) -> bool {
        if let Some(held) = &mut self.held {
            return match kind {
                Kind::Reply => self.outbox.send(line),
                // Of the chat before this client was in it: not for it.
                Kind::Notice(_) if !self.announced => true,
                Kind::Message(payload) | Kind::Notice(payload) => {
                    held.push(payload.clone());
                    held.len() <= MAX_HELD
                }
            };
        }
        if let Kind::Message(payload) = kind {
            if let Some(at) = self.recent.iter().position(|sent| sent == payload) {
                self.recent.swap_remove(at);
                return true;
            }
        }
        self.outbox.send(line)
    }
}

#[cfg(test)]
mod tests;
