//! The chat, as one process serves it: its own clients, and the lines
//! Redis brings them. Who is online, the history and every message live in
//! Redis (`store.rs`), so any number of processes serve one chat.
//!
//! Every line goes out through Redis and comes back: each process hears
//! every message on its subscription, its own too, and puts it in the
//! outbox of each of its clients but the sender. So every client, on every
//! process, sees the messages in the one order Redis published them.
//!
//! The lock is std's `Mutex`, not Tokio's: it is never held across an
//! `.await` (Redis is asked first, the registry changed after), so no task
//! can be suspended holding it. A client that is not reading is
//! disconnected on the spot, as in stage 13.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use futures_core::Stream;
use redis::aio::PubSubStream;
use stage_20_chat_faults::line::{self, Line, LineReader, MAX_LINE};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::task::AbortHandle;

use crate::command::{self, HELP, Input};
use crate::nick;
use crate::outbox::{self, Outbox, OutboxReceiver};
use crate::store::{self, Store};

/// Each connection's number, from 1 up, never reused.
pub type ClientId = u64;

/// How many chat messages a new client is shown.
pub const HISTORY_LENGTH: usize = 20;

/// The most messages held for a client while its history is read.
const MAX_HELD: usize = 1024;

/// How long after joining a message may still come that was in the history.
const RECENT_FOR: Duration = Duration::from_secs(3);

/// The longest wait between two attempts to reconnect to Redis.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(5);

/// What a client is told when Redis fails it: on joining, and on a line.
const UNAVAILABLE: &str = "! the chat is unavailable (its store cannot be reached)\n";
const NOT_DONE: &str = "! the chat store is unreachable: not done, try again\n";

/// Whether the client's connection goes on after a line.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// It sent `/quit`, or it has been disconnected already.
    Stop,
}

// ANCHOR: state
/// The chat's part in this process, shared by every connection's task.
pub struct Hub {
    state: Mutex<State>,
    pub store: Arc<Store>,
}

#[derive(Default)]
struct State {
    /// The id of the last client that connected.
    last_id: ClientId,
    clients: HashMap<ClientId, Client>,
    /// Shutting down: what Redis brings (its users leaving) is not delivered.
    stopping: bool,
    /// Whether lines are gathered, to be flushed at the end of a message
    /// from Redis (`on_message`), rather than queued at once.
    gathering: bool,
    /// The clients whose outbox has lines gathered since the last flush.
    unflushed: Vec<ClientId>,
}

struct Client {
    /// Empty until Redis has granted it one.
    nick: String,
    outbox: Outbox,
    /// The client's reader and writer tasks, to stop them when it is
    /// disconnected for not reading.
    tasks: Vec<AbortHandle>,
    /// While its history is read: what arrives meanwhile, tagged.
    held: Option<Vec<Bytes>>,
    /// Its own join notice has come back: the notices after it are held.
    announced: bool,
    /// The history it was sent: a message ZADDed before may be PUBLISHed after.
    recent: Vec<Bytes>,
    joined: Instant,
}

/// What a line is to a client whose history is being read: a reply goes
/// at once, a message is held, a notice too (if it came after its own).
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
        let state = Mutex::default();
        Hub {
            state,
            store: Arc::new(store),
        }
    }

    /// Registers a client without a nick ([`Hub::join`] claims one): its id, its outbox's end.
    pub fn register(&self) -> (ClientId, OutboxReceiver) {
        let (outbox, receiver) = outbox::outbox();
        let mut state = self.lock();
        state.last_id += 1;
        let id = state.last_id;
        let (nick, tasks, recent) = (String::new(), Vec::new(), Vec::new());
        let (held, announced, joined) = (Some(Vec::new()), false, Instant::now());
        let client = Client {
            nick,
            outbox,
            tasks,
            held,
            announced,
            recent,
            joined,
        };
        state.clients.insert(id, client);
        (id, receiver)
    }

    /// Records the client's tasks, so that they can be stopped if it has to
    /// be disconnected, and its socket, for flushes to write to. If it has
    /// been disconnected already (it joined, and did not read fast enough
    /// even before its tasks started), stops them now.
    pub fn attach_tasks(&self, id: ClientId, tasks: Vec<AbortHandle>, socket: Arc<OwnedWriteHalf>) {
        let mut state = self.lock();
        match state.clients.get_mut(&id) {
            Some(client) => {
                client.tasks = tasks;
                client.outbox.attach(socket);
            }
            None => tasks.iter().for_each(AbortHandle::abort),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a task panicked while holding it. Every
        // change here leaves the state whole before anything can panic, so
        // go on with it rather than take the whole chat down.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Acts on every whole line in the client's buffer, one at a time.
    pub async fn handle_lines(&self, id: ClientId, lines: &mut LineReader) -> Flow {
        let mut flow = Flow::Continue;
        while let (Flow::Continue, Some(line)) = (&flow, lines.next_line()) {
            flow = match line {
                // Boxed, as joining is: else a line's steps through Redis
                // would make every client's task larger for all its life.
                Line::Text(raw) => Box::pin(self.handle_line(id, &line::clean(&raw))).await,
                Line::TooLong => self.line_too_long(id),
            };
        }
        flow
    }

    // ANCHOR: join
    /// Claims a default nick, tells everyone, then sends the welcome and
    /// the history. `Stop` if Redis cannot be reached, or the client left.
    pub async fn join(&self, id: ClientId) -> Flow {
        let joined = async {
            let nick = self.claim_default_nick().await?;
            if !self.set_nick(id, &nick) {
                self.store.leave(&nick).await?;
                return Ok(Flow::Stop);
            }
            // Announced before welcomed: whoever has its welcome has been
            // announced, and the notices after its own are its to see.
            let notice = format!("* {nick} joined");
            self.store.publish(store::PRESENCE, id, &notice).await?;
            let welcome = format!(
                "Welcome, {nick}! Set your name with /nick NAME; /help lists the commands.\n"
            );
            self.tell(To::One(id), welcome);
            self.store.listen_to(Some(&nick), None).await?;
            let history = self.store.history(HISTORY_LENGTH).await?;
            self.end_holding(id, history);
            anyhow::Ok(Flow::Continue)
        };
        joined.await.unwrap_or_else(|error| {
            self.failed(id, error, UNAVAILABLE);
            Flow::Stop
        })
    }

    /// `user<N>`, the first free N from the member count up: `SET NX` picks one winner.
    async fn claim_default_nick(&self) -> Result<String> {
        let mut number = self.store.member_count().await? + 1;
        while !self.store.claim(&format!("user{number}")).await? {
            number += 1;
        }
        Ok(format!("user{number}"))
    }

    /// Sends the history, then what was held and is not in it (`recent`), then all as it comes.
    fn end_holding(&self, id: ClientId, history: Vec<Bytes>) {
        let mut state = self.lock();
        let Some(client) = state.clients.get_mut(&id) else {
            return;
        };
        let held = client.held.take().unwrap_or_default();
        (client.recent, client.joined) = (history.clone(), Instant::now());
        let history = history.iter().map(|payload| (Kind::Reply, payload));
        let mut gone = Vec::new();
        for (kind, payload) in history.chain(held.iter().map(|p| (Kind::Message(p), p))) {
            if let Some((_, line)) = store::untag(payload, &self.store.process) {
                gone.extend(state.deliver(To::One(id), kind, line));
            }
        }
        drop(state);
        self.forget_later(gone);
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
                self.tell(To::One(id), format!("{error}\n"));
                Ok(())
            }
            Ok(Input::Nothing) => Ok(()),
            Ok(Input::Chat(text)) => self.say(id, format!("{nick}> {text}")).await,
            // The user's words, so after its nick: "* " starts the server's.
            Ok(Input::Me(action)) => self.say(id, format!("{nick}> *{action}*")).await,
            Ok(Input::Nick(new_nick)) => self.rename(id, &nick, new_nick).await,
            Ok(Input::Who) => self.who(id).await,
            Ok(Input::Msg { to, text }) => self.private(id, &nick, to, text).await,
            Ok(Input::Help) => {
                self.tell(To::One(id), HELP);
                Ok(())
            }
            Ok(Input::Quit) => {
                self.tell(To::One(id), "* bye\n");
                return Flow::Stop;
            }
        };
        if let Err(error) = done {
            self.failed(id, error, NOT_DONE);
        }
        Flow::Continue
    }

    /// Tells the client its line was over the limit, and not sent.
    pub fn line_too_long(&self, id: ClientId) -> Flow {
        let error = format!("! line too long (over {MAX_LINE} bytes): not sent\n");
        self.tell(To::One(id), error);
        Flow::Continue
    }

    /// Removes a client that left: here (its outbox closes), then from Redis, which tells all.
    pub async fn leave(&self, id: ClientId) {
        let client = self.lock().clients.remove(&id);
        if let Some(client) = client.filter(|client| !client.nick.is_empty()) {
            if let Err(error) = self.store.leave(&client.nick).await {
                log!("store: {error:#}");
            }
        }
    }

    /// Tells a client the server is shutting down, and removes it (its writer writes what is
    /// queued, and closes); then its user leaves Redis, so that the other processes see it go.
    pub async fn shut_down(&self, id: ClientId) {
        let nicks = {
            let mut state = self.lock();
            state.stopping = true;
            let line = Bytes::from_static(b"* server shutting down\n");
            let mut nicks = state.deliver(To::One(id), Kind::Reply, line);
            nicks.extend(state.clients.remove(&id).map(|client| client.nick));
            nicks
        };
        for nick in nicks.iter().filter(|nick| !nick.is_empty()) {
            if let Err(error) = self.store.leave(nick).await {
                log!("store: {error:#}");
            }
        }
    }
    // ANCHOR_END: handle_line
}

impl State {
    /// Writes what each outbox gathered since the last flush, and stops
    /// gathering.
    fn flush(&mut self) {
        for id in std::mem::take(&mut self.unflushed) {
            // A client disconnected since is gone.
            if let Some(client) = self.clients.get_mut(&id) {
                client.outbox.flush();
            }
        }
        self.gathering = false;
    }
}

impl Hub {
    /// Redis did not answer: logged, and the client told `line`.
    fn failed(&self, id: ClientId, error: anyhow::Error, line: &'static str) {
        log!("store: {error:#}");
        self.tell(To::One(id), line);
    }

    /// A chat line or action: into the history and the log, and to all.
    async fn say(&self, id: ClientId, line: String) -> Result<()> {
        log!("{line}");
        self.store.say(id, &line, HISTORY_LENGTH).await
    }

    // ANCHOR: rename
    async fn rename(&self, id: ClientId, old_nick: &str, new_nick: &str) -> Result<()> {
        if !nick::is_valid(new_nick) {
            let rule = format!(
                "! a nick is 1-{} printable characters, without spaces\n",
                nick::MAX_NICK
            );
            self.tell(To::One(id), rule);
            return Ok(());
        }
        // Redis decides, for every process at once: no lock here could.
        if new_nick != old_nick && !self.store.claim(new_nick).await? {
            self.tell(To::One(id), format!("! the nick {new_nick} is taken\n"));
            return Ok(());
        }
        if !self.set_nick(id, new_nick) {
            return self.store.leave(new_nick).await;
        }
        if old_nick != new_nick {
            log!("{old_nick} is now {new_nick}");
            self.store.listen_to(Some(new_nick), Some(old_nick)).await?;
            self.store.give_up(old_nick).await?;
            let notice = format!("* {old_nick} is now {new_nick}");
            self.store.publish(store::PRESENCE, id, &notice).await?;
        }
        // Said once the old nick is given up: a client that asks who is
        // online on hearing it must not find both.
        self.tell(To::One(id), format!("* you are now {new_nick}\n"));
        Ok(())
    }
    // ANCHOR_END: rename

    async fn who(&self, id: ClientId) -> Result<()> {
        let nicks = self.store.members().await?;
        let line = format!("* online ({}): {}\n", nicks.len(), nicks.join(", "));
        self.tell(To::One(id), line);
        Ok(())
    }

    /// To the process that holds `to`: PUBLISH answers how many listened.
    async fn private(&self, from: ClientId, nick: &str, to: &str, text: &str) -> Result<()> {
        let line = format!("{nick} (private)> {text}");
        match self
            .store
            .publish(&store::user_channel(to), 0, &line)
            .await?
        {
            0 => self.tell(To::One(from), format!("! no one is called {to}\n")),
            // The log says who wrote to whom, never what.
            _ => log!("{nick} -> {to} (private)"),
        }
        Ok(())
    }

    // ANCHOR: on_message
    /// A message from the subscription: to the clients of this process it is for (if the chat's).
    pub fn on_message(&self, channel: &str, payload: Bytes) {
        let Some((sender, line)) = store::untag(&payload, &self.store.process) else {
            return;
        };
        let mut state = self.lock();
        if state.stopping {
            return;
        }
        let (to, kind) = match channel.strip_prefix("chat:user:") {
            Some(nick) => match state.clients.iter().find(|(_, c)| c.nick == nick) {
                Some((&id, _)) => (To::One(id), Kind::Message(&payload)),
                None => return,
            },
            None if channel == store::PRESENCE => {
                if let Some(client) = sender.and_then(|id| state.clients.get_mut(&id)) {
                    client.announced = true;
                }
                (sender.map_or(To::All, To::AllBut), Kind::Notice(&payload))
            }
            None => (sender.map_or(To::All, To::AllBut), Kind::Message(&payload)),
        };
        // Straight to each socket, in one write, where nothing is queued.
        state.gathering = true;
        let gone = state.deliver(to, kind, line);
        state.flush();
        drop(state);
        self.forget_later(gone);
    }
    // ANCHOR_END: on_message

    /// The nicks of this process's clients.
    pub fn nicks(&self) -> Vec<String> {
        let state = self.lock();
        let nicks = state.clients.values().map(|c| c.nick.clone());
        nicks.filter(|nick| !nick.is_empty()).collect()
    }

    // ANCHOR: follow_store
    /// Hands every message of the subscription to [`Hub::on_message`].
    /// When Redis goes away: tells this process's users, reconnects with a
    /// growing delay, subscribes and claims their nicks again (a restarted
    /// Redis remembers nothing), and tells them. Never ends.
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
            log!("store: lost the connection; reconnecting");
            self.tell(To::All, "* lost the chat store, reconnecting\n");
            let mut delay = Duration::from_millis(100);
            messages = loop {
                tokio::time::sleep(delay).await;
                match self.store.connect(&self.nicks()).await {
                    Ok(messages) => break messages,
                    Err(error) => log!("store: reconnecting: {error:#}"),
                }
                delay = (delay * 2).min(MAX_RECONNECT_DELAY);
            };
            if let Err(error) = self.refresh_claims().await {
                log!("store: {error:#}");
            }
            log!("store: reconnected");
            self.tell(To::All, "* reconnected\n");
        }
    }
    // ANCHOR_END: follow_store

    // ANCHOR: heartbeat
    /// Every [`store::HEARTBEAT`]: keeps this process's claims alive, and
    /// forgets the users of processes that died (their claims expired).
    pub async fn heartbeat(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(store::HEARTBEAT);
        loop {
            ticks.tick().await;
            let refreshed = self.refresh_claims().await;
            if let Err(error) = refreshed.and(self.store.members().await.map(drop)) {
                log!("store: heartbeat: {error:#}");
            }
        }
    }

    /// Refreshes every claim. One that is gone (a restarted Redis) is
    /// claimed again; if another process took it meanwhile, its user gets
    /// a default nick.
    pub async fn refresh_claims(&self) -> Result<()> {
        for lost in self.store.refresh(&self.nicks()).await? {
            // Unless its user has just left, or it is ours again.
            if !self.nicks().contains(&lost) || self.store.claim(&lost).await? {
                continue;
            }
            let nick = self.claim_default_nick().await?;
            if let Some(id) = self.id_of(&lost).filter(|&id| self.set_nick(id, &nick)) {
                let line = format!("! {lost} was taken while Redis was away: you are {nick}\n");
                self.tell(To::One(id), line);
                self.store.listen_to(Some(&nick), Some(&lost)).await?;
            }
        }
        Ok(())
    }
    // ANCHOR_END: heartbeat

    fn id_of(&self, nick: &str) -> Option<ClientId> {
        let state = self.lock();
        state
            .clients
            .iter()
            .find(|(_, c)| c.nick == nick)
            .map(|(&id, _)| id)
    }

    /// Gives a client its nick: `false` if it has left.
    fn set_nick(&self, id: ClientId, nick: &str) -> bool {
        let mut state = self.lock();
        let client = state.clients.get_mut(&id);
        client
            .map(|client| client.nick = nick.to_string())
            .is_some()
    }

    /// A line from this process, not from Redis: never held.
    fn tell(&self, to: To, line: impl Into<Bytes>) {
        let gone = self.lock().deliver(to, Kind::Reply, line.into());
        self.forget_later(gone);
    }

    /// Clients disconnected for not reading leave Redis in a task: the fanout does not wait.
    fn forget_later(&self, nicks: Vec<String>) {
        for nick in nicks.into_iter().filter(|nick| !nick.is_empty()) {
            let store = Arc::clone(&self.store);
            tokio::spawn(async move { store.leave(&nick).await });
        }
    }
}

impl State {
    // ANCHOR: deliver
    /// Puts `line` in the outbox of each recipient, and disconnects any
    /// recipient whose outbox is full: no waiting for anyone. Returns the
    /// nicks of those disconnected.
    fn deliver(&mut self, to: To, kind: Kind, line: Bytes) -> Vec<String> {
        let mut gone = Vec::new();
        for id in self.fan_out(to, kind, &line) {
            // It may be on the list twice, and gone already.
            let Some(client) = self.clients.remove(&id) else {
                continue;
            };
            log!(
                "server: disconnected {} (id {id}): {} bytes were waiting, it is not reading",
                client.nick,
                client.outbox.queued()
            );
            // Stopping its tasks closes its socket; its queue is dropped
            // with `client`.
            for task in &client.tasks {
                task.abort();
            }
            gone.push(client.nick);
        }
        gone
    }

    /// Gives `line` to each recipient: the ones whose outbox refused it.
    fn fan_out(&mut self, to: To, kind: Kind, line: &Bytes) -> Vec<ClientId> {
        let mut too_slow = Vec::new();
        let (gather, unflushed) = (self.gathering, &mut self.unflushed);
        let mut send = |id: ClientId, client: &mut Client| {
            if gather && client.outbox.is_flushed() {
                unflushed.push(id);
            }
            if !client.take(kind, line, gather) {
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
    /// Queues a line, or holds or skips it: `false` if the client is too slow for it.
    fn take(&mut self, kind: Kind, line: &Bytes, gather: bool) -> bool {
        match (&mut self.held, kind) {
            (_, Kind::Reply) | (None, Kind::Notice(_)) => self.outbox.send(line, gather),
            (Some(_), Kind::Notice(_)) if !self.announced => true,
            (Some(held), Kind::Message(payload) | Kind::Notice(payload)) => {
                held.push(payload.clone());
                held.len() <= MAX_HELD
            }
            (None, Kind::Message(payload)) => {
                if self.joined.elapsed() > RECENT_FOR {
                    self.recent = Vec::new();
                }
                match self.recent.iter().position(|p| p == payload) {
                    Some(at) => {
                        self.recent.swap_remove(at);
                        true
                    }
                    None => self.outbox.send(line, gather),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
