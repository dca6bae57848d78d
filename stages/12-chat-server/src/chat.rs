//! The chat: who is connected and under which nick, the last messages, and
//! the fanout of every line to the clients who should receive it.
//!
//! # Fanout: three designs, and what each does with a slow client
//!
//! A chat server's one hard problem is a client that stops reading (a
//! laptop that went to sleep, a phone in a tunnel, a script that
//! connected and forgot us). Its socket's buffers fill, and a write to it
//! waits. Then:
//!
//! - **A shared list of sockets under a lock, written to directly**
//!   (smallchat, and the first design most of us write): the sender writes
//!   to each socket in turn, so one full socket stops the message for
//!   everyone after it, and if the lock is held while writing, stops every
//!   other sender too. smallchat avoids the wait with non-blocking writes
//!   and throws away what does not fit: the slow client silently misses
//!   messages, and nobody knows.
//! - **A hub task** that owns the client list and receives every event on a
//!   channel: no lock, one owner. But if it writes to sockets itself, one
//!   slow client stalls the hub and so the whole chat; it must hand lines
//!   to per-client queues anyway, and every `/who` becomes a round trip
//!   through it.
//! - **A broadcast channel** (`tokio::sync::broadcast`): one ring buffer
//!   shared by all, every client's task reads it at its own pace. Memory is
//!   bounded by the ring, and a slow reader holds up no one, but a reader
//!   that falls a full ring behind gets `Lagged`: the oldest messages are
//!   gone for it, and the server has to decide what that means. Private
//!   messages and replies to one client need another channel beside it.
//!
//! **What we do:** a registry under a lock, as in the first design, but
//! nobody writes to a socket while holding it. Each client has an
//! [`Outbox`]: a queue that never blocks, and its own writer task that
//! drains it to the socket (see `outbox.rs`). Fanout takes the lock, puts
//! one shared `Bytes` into every recipient's queue, and lets go: for 10,000
//! clients, 10,000 handles queued and writers woken, about 3 ms. A client
//! whose queue would pass 256 KiB is not reading: it is disconnected, on
//! the spot, and everyone is told it left. Nobody waits for it, nothing is
//! silently lost, and its memory is bounded.
//!
//! The lock is std's `Mutex`, not Tokio's: it is never held across an
//! `.await` (nothing here awaits), so no task can be suspended holding it.
//! The server runs on one thread (see `main.rs`), so the lock is never
//! even contended; it is there because tasks share the hub through an
//! `Arc`, and it keeps this file correct on a multi-threaded runtime too.
//! Holding one lock for every change also gives the chat a single order of
//! events: a new client's welcome and history are queued before any
//! message that follows its join, and the log reads in that same order.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::task::AbortHandle;

use crate::command::{self, HELP, Input};
use crate::line::MAX_LINE;
use crate::outbox::{self, Outbox, OutboxReceiver};

/// Each connection's number, from 1 up, never reused.
pub type ClientId = u64;

/// How many chat messages a new client is shown.
pub const HISTORY_LENGTH: usize = 20;

/// Whether the client's connection goes on after a line.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// It sent `/quit`, or it has been disconnected already.
    Stop,
}

// ANCHOR: state
/// The chat, shared by every connection's tasks (in an `Arc`).
#[derive(Default)]
pub struct Hub {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The id of the last client that connected.
    last_id: ClientId,
    clients: HashMap<ClientId, Client>,
    /// The same clients by nick: `/msg` and "is this nick taken?" without
    /// looking through 10,000 clients.
    ids_by_nick: HashMap<String, ClientId>,
    history: History,
}

struct Client {
    nick: String,
    outbox: Outbox,
    /// The client's reader and writer tasks, to stop them when it is
    /// disconnected for not reading.
    tasks: Vec<AbortHandle>,
}

/// Who receives a line.
#[derive(Clone, Copy)]
enum To {
    One(ClientId),
    AllBut(ClientId),
    All,
}
// ANCHOR_END: state

// ANCHOR: history
/// The last [`HISTORY_LENGTH`] chat messages and actions, oldest first,
/// each as the exact line that was sent.
#[derive(Default)]
struct History {
    lines: VecDeque<Bytes>,
}

impl History {
    fn push(&mut self, line: Bytes) {
        if self.lines.len() == HISTORY_LENGTH {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }
}
// ANCHOR_END: history

impl Hub {
    // ANCHOR: join
    /// Registers a new client. It is sent its welcome and the history, and
    /// everyone else hears that it joined. Returns its id, and the end of
    /// its outbox that its writer task drains.
    pub fn join(&self, peer: SocketAddr) -> (ClientId, OutboxReceiver) {
        let (outbox, receiver) = outbox::outbox();
        let mut state = self.lock();
        state.last_id += 1;
        let id = state.last_id;
        let nick = format!("user{id}");
        log(format_args!("+ {peer} connected as {nick}"));
        state.ids_by_nick.insert(nick.clone(), id);
        let client = Client {
            nick: nick.clone(),
            outbox,
            tasks: Vec::new(),
        };
        state.clients.insert(id, client);
        // All under the one lock: no message can be queued for the client
        // ahead of its welcome and history, or be missing from both.
        let welcome =
            format!("Welcome, {nick}! Set your name with /nick NAME; /help lists the commands.\n");
        state.deliver(To::One(id), Bytes::from(welcome));
        // A copy of 20 handles, not of the lines.
        let history: Vec<Bytes> = state.history.lines.iter().cloned().collect();
        for line in history {
            state.deliver(To::One(id), line);
        }
        state.deliver(To::AllBut(id), Bytes::from(format!("* {nick} joined\n")));
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
    // ANCHOR_END: join

    // ANCHOR: handle_line
    /// Acts on one cleaned line from a client.
    pub fn handle_line(&self, id: ClientId, line: &str) -> Flow {
        let input = command::parse(line);
        let mut state = self.lock();
        let Some(client) = state.clients.get(&id) else {
            return Flow::Stop;
        };
        let nick = client.nick.clone();
        match input {
            Err(error) => state.reply(id, format!("{error}\n")),
            Ok(Input::Nothing) => {}
            Ok(Input::Chat(text)) => state.say(id, format!("{nick}> {text}\n")),
            Ok(Input::Me(action)) => state.say(id, format!("* {nick} {action}\n")),
            Ok(Input::Nick(new_nick)) => state.rename(id, new_nick),
            Ok(Input::Who) => state.who(id),
            Ok(Input::Msg { to, text }) => state.private(id, &nick, to, text),
            Ok(Input::Help) => state.reply(id, HELP),
            Ok(Input::Quit) => {
                state.reply(id, "* bye\n");
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// Tells the client its line was over the limit, and not sent.
    pub fn line_too_long(&self, id: ClientId) {
        let error = format!("! line too long (over {MAX_LINE} bytes): not sent\n");
        self.lock().reply(id, error);
    }

    /// Removes a client that left (or whose connection broke): the others
    /// are told, and it is gone from `/who` at once. Its outbox closes, so
    /// its writer task writes what is still queued and ends.
    pub fn leave(&self, id: ClientId) {
        let mut state = self.lock();
        if let Some(client) = state.remove(id) {
            log(format_args!("- {} left", client.nick));
            let notice = format!("* {} left\n", client.nick);
            state.deliver(To::All, Bytes::from(notice));
        }
    }
    // ANCHOR_END: handle_line

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a task panicked while holding it. Every
        // change here leaves the state whole before anything can panic, so
        // go on with it rather than take the whole chat down.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// A chat line or action: to everyone but its sender, into the
    /// history, and into the log.
    fn say(&mut self, from: ClientId, line: String) {
        log(format_args!("{}", line.trim_end_matches('\n')));
        let line = Bytes::from(line);
        self.history.push(line.clone());
        self.deliver(To::AllBut(from), line);
    }

    fn reply(&mut self, id: ClientId, line: impl Into<Bytes>) {
        self.deliver(To::One(id), line.into());
    }

    // ANCHOR: rename
    fn rename(&mut self, id: ClientId, new_nick: &str) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        if client.nick == new_nick {
            self.reply(id, format!("* you are now {new_nick}\n"));
            return;
        }
        if self.ids_by_nick.contains_key(new_nick) || is_future_default_nick(new_nick, self.last_id)
        {
            self.reply(id, format!("! the nick {new_nick} is taken\n"));
            return;
        }
        let old_nick = std::mem::replace(&mut client.nick, new_nick.to_string());
        self.ids_by_nick.remove(&old_nick);
        self.ids_by_nick.insert(new_nick.to_string(), id);
        log(format_args!("{old_nick} is now {new_nick}"));
        self.reply(id, format!("* you are now {new_nick}\n"));
        let notice = format!("* {old_nick} is now {new_nick}\n");
        self.deliver(To::AllBut(id), Bytes::from(notice));
    }
    // ANCHOR_END: rename

    fn who(&mut self, id: ClientId) {
        let mut nicks: Vec<&str> = self.ids_by_nick.keys().map(String::as_str).collect();
        // `str`'s order is byte order.
        nicks.sort_unstable();
        let line = format!("* online ({}): {}\n", nicks.len(), nicks.join(", "));
        self.reply(id, line);
    }

    fn private(&mut self, from: ClientId, nick: &str, to: &str, text: &str) {
        match self.ids_by_nick.get(to) {
            Some(&recipient) => {
                // The log says who wrote to whom, never what.
                log(format_args!("{nick} -> {to} (private)"));
                let line = format!("{nick} (private)> {text}\n");
                self.deliver(To::One(recipient), Bytes::from(line));
            }
            None => self.reply(from, format!("! no one is called {to}\n")),
        }
    }

    fn remove(&mut self, id: ClientId) -> Option<Client> {
        let client = self.clients.remove(&id)?;
        self.ids_by_nick.remove(&client.nick);
        Some(client)
    }

    // ANCHOR: deliver
    /// Puts `line` in the outbox of each recipient, and disconnects any
    /// recipient whose outbox is full: one allocation for the line, however
    /// many receive it, and no waiting for anyone.
    fn deliver(&mut self, to: To, line: Bytes) {
        let mut too_slow = Vec::new();
        self.fan_out(to, &line, &mut too_slow);
        // Telling the others that a slow client left is one more fanout,
        // which may find another slow client: go on until none is left.
        while let Some(id) = too_slow.pop() {
            // It may be on the list twice, and gone already.
            let Some(client) = self.remove(id) else {
                continue;
            };
            log(format_args!(
                "server: disconnected {} (id {id}): {} bytes were waiting, it is not reading",
                client.nick,
                client.outbox.queued()
            ));
            // Stopping its tasks closes its socket; its queue is dropped
            // with `client`.
            for task in &client.tasks {
                task.abort();
            }
            log(format_args!("- {} left", client.nick));
            let notice = Bytes::from(format!("* {} left\n", client.nick));
            self.fan_out(To::All, &notice, &mut too_slow);
        }
    }

    fn fan_out(&self, to: To, line: &Bytes, too_slow: &mut Vec<ClientId>) {
        let mut send = |id: ClientId, client: &Client| {
            if !client.outbox.send(line) {
                too_slow.push(id);
            }
        };
        match to {
            To::One(id) => {
                if let Some(client) = self.clients.get(&id) {
                    send(id, client);
                }
            }
            To::AllBut(_) | To::All => {
                for (&id, client) in &self.clients {
                    if !matches!(to, To::AllBut(sender) if sender == id) {
                        send(id, client);
                    }
                }
            }
        }
    }
    // ANCHOR_END: deliver
}

/// Is `nick` the default nick of a connection still to come ("user12"
/// when 11 have connected)? Such a nick is refused, or that connection
/// would get a nick someone else has. (The default nick of a connection
/// that has come already is an ordinary nick: taken while someone has it.)
fn is_future_default_nick(nick: &str, last_id: ClientId) -> bool {
    let Some(digits) = nick.strip_prefix("user") else {
        return false;
    };
    match digits.parse::<ClientId>() {
        // "user012" or "user+12" is no connection's default nick.
        Ok(id) => id > last_id && id.to_string() == digits,
        // Too many digits for an id: no connection will ever have it.
        Err(_) => false,
    }
}

/// Writes one line of the log to stdout. Unlike `println!`, it does not
/// panic if stdout is gone (say, the terminal was closed): the chat goes
/// on without its log.
fn log(line: std::fmt::Arguments) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 40000))
    }

    /// A hub, and `count` clients joined (ids 1 to count), with what they
    /// were sent on joining read and thrown away.
    fn chat_with(count: usize) -> (Hub, Vec<OutboxReceiver>) {
        let hub = Hub::default();
        let mut outboxes: Vec<OutboxReceiver> = (0..count).map(|_| hub.join(peer()).1).collect();
        for outbox in &mut outboxes {
            outbox.take_text();
        }
        (hub, outboxes)
    }

    #[test]
    fn joining_sends_the_welcome_then_the_history_and_tells_the_others() {
        let (hub, mut outboxes) = chat_with(1);
        assert_eq!(hub.handle_line(1, "hi"), Flow::Continue);
        assert_eq!(hub.handle_line(1, "/me waves"), Flow::Continue);
        let (id, mut new) = hub.join(peer());
        assert_eq!(id, 2);
        assert_eq!(
            new.take_text(),
            "Welcome, user2! Set your name with /nick NAME; /help lists the commands.\n\
             user1> hi\n\
             * user1 waves\n"
        );
        assert_eq!(outboxes[0].take_text(), "* user2 joined\n");
    }

    #[test]
    fn the_history_keeps_the_last_20_chat_lines_oldest_first() {
        let (hub, _outboxes) = chat_with(1);
        for number in 1..=25 {
            hub.handle_line(1, &format!("message {number}"));
            // Not history: errors, notices, private messages.
            hub.handle_line(1, "/who");
            hub.handle_line(1, "/msg user1 secret");
        }
        hub.handle_line(1, "/nick alice");
        let (_, mut new) = hub.join(peer());
        let text = new.take_text();
        let lines: Vec<&str> = text.lines().skip(1).collect();
        let expected: Vec<String> = (6..=25).map(|n| format!("user1> message {n}")).collect();
        assert_eq!(lines, expected);
    }

    #[test]
    fn chat_goes_to_everyone_but_the_sender() {
        let (hub, mut outboxes) = chat_with(3);
        hub.handle_line(2, "  hello, all  ");
        assert_eq!(outboxes[0].take_text(), "user2>   hello, all  \n");
        assert_eq!(outboxes[1].take_text(), "");
        assert_eq!(outboxes[2].take_text(), "user2>   hello, all  \n");
        hub.handle_line(2, "");
        assert_eq!(outboxes[0].take_text(), "");
    }

    #[test]
    fn nicks() {
        let (hub, mut outboxes) = chat_with(2);
        hub.handle_line(1, "/nick alice");
        assert_eq!(outboxes[0].take_text(), "* you are now alice\n");
        assert_eq!(outboxes[1].take_text(), "* user1 is now alice\n");
        // Again: no news for the others.
        hub.handle_line(1, "/nick alice");
        assert_eq!(outboxes[0].take_text(), "* you are now alice\n");
        assert_eq!(outboxes[1].take_text(), "");
        // Taken, exactly; another case is another nick.
        hub.handle_line(2, "/nick alice");
        assert_eq!(outboxes[1].take_text(), "! the nick alice is taken\n");
        hub.handle_line(2, "/nick Alice");
        assert_eq!(outboxes[1].take_text(), "* you are now Alice\n");
        assert_eq!(outboxes[0].take_text(), "* user2 is now Alice\n");
        hub.handle_line(2, "/nick a b");
        assert_eq!(
            outboxes[1].take_text(),
            "! a nick is 1-32 printable characters, without spaces\n"
        );
        // A nick that is free again can be taken.
        hub.handle_line(1, "/nick bob");
        hub.handle_line(2, "/nick alice");
        assert_eq!(
            outboxes[1].take_text(),
            "* alice is now bob\n* you are now alice\n"
        );
    }

    #[test]
    fn default_nicks_stay_unique() {
        let (hub, mut outboxes) = chat_with(2);
        // user3 is what the next client will be called.
        hub.handle_line(1, "/nick user3");
        assert_eq!(outboxes[0].take_text(), "! the nick user3 is taken\n");
        hub.handle_line(1, "/nick user2");
        assert_eq!(outboxes[0].take_text(), "! the nick user2 is taken\n");
        // Not a default nick: fine.
        hub.handle_line(1, "/nick user03");
        assert_eq!(outboxes[0].take_text(), "* you are now user03\n");
        // user1 is nobody's now, and nobody's to come.
        hub.handle_line(2, "/nick user1");
        assert_eq!(
            outboxes[1].take_text(),
            "* user1 is now user03\n* you are now user1\n"
        );
        let (id, mut third) = hub.join(peer());
        assert!(third.take_text().starts_with("Welcome, user3!"));
        assert_eq!(id, 3);
    }

    #[test]
    fn who_lists_everyone_in_byte_order() {
        let (hub, mut outboxes) = chat_with(3);
        hub.handle_line(1, "/nick zoë");
        hub.handle_line(2, "/nick Bob");
        hub.handle_line(3, "/nick alice");
        for outbox in &mut outboxes {
            outbox.take_text();
        }
        hub.handle_line(2, "/who");
        assert_eq!(outboxes[1].take_text(), "* online (3): Bob, alice, zoë\n");
        hub.leave(1);
        hub.handle_line(2, "/who");
        assert_eq!(
            outboxes[1].take_text(),
            "* zoë left\n* online (2): Bob, alice\n"
        );
    }

    #[test]
    fn private_messages_reach_one_client() {
        let (hub, mut outboxes) = chat_with(3);
        hub.handle_line(1, "/msg user3 just  you ");
        assert_eq!(outboxes[2].take_text(), "user1 (private)> just  you \n");
        assert_eq!(outboxes[0].take_text(), "");
        assert_eq!(outboxes[1].take_text(), "");
        hub.handle_line(1, "/msg nobody hi");
        assert_eq!(outboxes[0].take_text(), "! no one is called nobody\n");
        hub.handle_line(1, "/msg user3");
        assert_eq!(outboxes[0].take_text(), "! usage: /msg NAME text\n");
    }

    #[test]
    fn actions_help_unknown_and_quit() {
        let (hub, mut outboxes) = chat_with(2);
        hub.handle_line(1, "/me waves");
        assert_eq!(outboxes[1].take_text(), "* user1 waves\n");
        assert_eq!(outboxes[0].take_text(), "");
        hub.handle_line(1, "/me");
        assert_eq!(outboxes[0].take_text(), "! usage: /me action\n");
        hub.handle_line(1, "/help");
        assert_eq!(outboxes[0].take_text(), HELP);
        hub.handle_line(1, "/NICK x");
        assert_eq!(
            outboxes[0].take_text(),
            "! unknown command /NICK: /help lists the commands\n"
        );
        hub.line_too_long(1);
        assert_eq!(
            outboxes[0].take_text(),
            "! line too long (over 4096 bytes): not sent\n"
        );
        assert_eq!(hub.handle_line(1, "/quit"), Flow::Stop);
        assert_eq!(outboxes[0].take_text(), "* bye\n");
        hub.leave(1);
        assert_eq!(outboxes[1].take_text(), "* user1 left\n");
        // Gone: nothing more happens for it.
        assert_eq!(hub.handle_line(1, "hello?"), Flow::Stop);
        assert_eq!(outboxes[1].take_text(), "");
    }

    #[test]
    fn a_client_that_does_not_read_is_disconnected_and_the_others_are_told() {
        let (hub, mut outboxes) = chat_with(3);
        let line = "x".repeat(1000);
        // Client 1 talks; client 2 reads; client 3 never does.
        let mut received = String::new();
        for _ in 0..300 {
            hub.handle_line(1, &line);
            received.push_str(&outboxes[1].take_text());
        }
        let state = hub.lock();
        assert!(!state.clients.contains_key(&3));
        assert!(!state.ids_by_nick.contains_key("user3"));
        assert_eq!(state.clients.len(), 2);
        drop(state);
        // Client 2 got every line, and the news, where it happened.
        let lines: Vec<&str> = received.lines().collect();
        assert_eq!(lines.len(), 301);
        let dropped_at = lines.iter().position(|line| *line == "* user3 left");
        assert_eq!(dropped_at, Some(261));
        assert!(outboxes[1].is_open());
        // Client 3's queue ends where the bound was: its outbox is closed.
        let text = outboxes[2].take_text();
        assert!(text.len() <= outbox::MAX_QUEUED, "{}", text.len());
        assert!(!outboxes[2].is_open());
    }

    #[test]
    fn future_default_nicks() {
        assert!(is_future_default_nick("user5", 4));
        assert!(!is_future_default_nick("user4", 4));
        assert!(!is_future_default_nick("user05", 4));
        assert!(!is_future_default_nick("user+5", 4));
        assert!(!is_future_default_nick("User5", 4));
        assert!(!is_future_default_nick("user", 4));
        assert!(!is_future_default_nick("user99999999999999999999999", 4));
    }
}
