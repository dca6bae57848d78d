//! The chat: who is connected under which nick, the last messages, and
//! the fanout of every line to the clients who should receive it.
//!
//! A registry under a lock, in which nobody waits on a socket: a fanout
//! takes the lock, puts the line into each recipient's outbox (which never
//! waits, see `outbox.rs`), and lets go. The chapter compares this with the
//! other designs. An outbox that would pass its bound belongs to a client
//! that is not reading: it is disconnected on the spot, and logged. Nobody
//! waits for it, and nothing is lost silently. The lines of one read are
//! acted on under one lock, and the outboxes they went to are flushed once,
//! at the end: one write per client for all of them.
//!
//! The lock is std's `Mutex`, not Tokio's: it is never held
//! across an `.await` (nothing here awaits), so no task can be suspended
//! holding it. One lock for every change also gives the chat one order of
//! events: every client receives the lines in the order they were said,
//! and a newcomer's welcome and history are queued before any message that
//! follows its join.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use stage_14_chat_presence::line::{self, Line, LineReader, MAX_LINE};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::AbortHandle;

use crate::command::{self, HELP, Input};
use crate::nick;
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
/// The chat, shared by every connection's task (in an `Arc`).
#[derive(Default)]
pub struct Hub {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The id of the last client that connected.
    last_id: ClientId,
    clients: HashMap<ClientId, Client>,
    /// Whether lines are gathered, to be flushed at the end of a read
    /// (`handle_lines`), rather than queued at once.
    gathering: bool,
    /// The clients whose outbox has lines gathered since the last flush.
    unflushed: Vec<ClientId>,
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
    /// Registers a new client under its default nick. It is sent the
    /// welcome and the history, and everyone else hears that it joined.
    /// Returns its id, and the end of its outbox that its writer task
    /// drains.
    pub fn join(&self) -> (ClientId, OutboxReceiver) {
        let (outbox, receiver) = outbox::outbox();
        let mut state = self.lock();
        state.last_id += 1;
        let id = state.last_id;
        let nick = format!("user{id}");
        let welcome =
            format!("Welcome, {nick}! Set your name with /nick NAME; /help lists the commands.\n");
        let joined = Bytes::from(format!("* {nick} joined\n"));
        let tasks = Vec::new();
        state.clients.insert(
            id,
            Client {
                nick,
                outbox,
                tasks,
            },
        );
        state.deliver(To::One(id), Bytes::from(welcome));
        // A copy of 20 handles, not of the lines.
        let history: Vec<Bytes> = state.history.lines.iter().cloned().collect();
        for line in history {
            state.deliver(To::One(id), line);
        }
        state.deliver(To::AllBut(id), joined);
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
    // ANCHOR_END: join

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a task panicked while holding it. Every
        // change here leaves the state whole before anything can panic, so
        // go on with it rather than take the whole chat down.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ANCHOR: handle_line
    /// Acts on every whole line in the client's buffer, under one lock,
    /// then flushes the outboxes they went to. Before the flush, it reads
    /// once more without waiting, so that lines which arrived meanwhile go
    /// out in the same writes (only once: a client that floods the chat
    /// must still let the writers run).
    pub fn handle_lines(
        &self,
        id: ClientId,
        lines: &mut LineReader,
        client_socket: &OwnedReadHalf,
    ) -> Flow {
        let mut state = self.lock();
        state.gathering = true;
        let mut flow = Flow::Continue;
        for round in 0..2 {
            if round == 1 && (flow == Flow::Stop || !lines.read_ready(client_socket)) {
                break;
            }
            while let (Flow::Continue, Some(line)) = (&flow, lines.next_line()) {
                flow = match line {
                    Line::Text(raw) => state.handle_line(id, &line::clean(&raw)),
                    Line::TooLong => state.line_too_long(id),
                };
            }
        }
        state.flush();
        flow
    }

    /// Removes a client that left: the others are told, and it is gone
    /// from `/who` at once. Its outbox closes with it, so its writer task
    /// writes what is still queued and ends.
    pub fn leave(&self, id: ClientId) {
        let mut state = self.lock();
        if let Some(client) = state.clients.remove(&id) {
            let notice = format!("* {} left\n", client.nick);
            state.deliver(To::All, Bytes::from(notice));
        }
    }

    /// Tells a client the server is shutting down, after what its outbox
    /// already holds, and removes it: its outbox closes, so its writer task
    /// writes what is queued and ends the connection. Nobody else is told:
    /// everyone is leaving.
    pub fn shut_down(&self, id: ClientId) {
        let mut state = self.lock();
        state.reply(id, "* server shutting down\n");
        state.clients.remove(&id);
    }
}

impl State {
    /// Acts on one cleaned line from a client.
    fn handle_line(&mut self, id: ClientId, line: &str) -> Flow {
        let input = command::parse(line);
        let Some(client) = self.clients.get(&id) else {
            return Flow::Stop;
        };
        let nick = client.nick.clone();
        match input {
            Err(error) => self.reply(id, format!("{error}\n")),
            Ok(Input::Nothing) => {}
            Ok(Input::Chat(text)) => self.say(id, format!("{nick}> {text}\n")),
            // The user's words, so after its nick: "* " starts the server's.
            Ok(Input::Me(action)) => self.say(id, format!("{nick}> *{action}*\n")),
            Ok(Input::Nick(new_nick)) => self.rename(id, new_nick),
            Ok(Input::Who) => self.who(id),
            Ok(Input::Msg { to, text }) => self.private(id, &nick, to, text),
            Ok(Input::Help) => self.reply(id, HELP),
            Ok(Input::Quit) => {
                self.reply(id, "* bye\n");
                return Flow::Stop;
            }
        }
        Flow::Continue
    }
    // ANCHOR_END: handle_line

    /// Tells the client its line was over the limit, and not sent.
    fn line_too_long(&mut self, id: ClientId) -> Flow {
        let error = format!("! line too long (over {MAX_LINE} bytes): not sent\n");
        self.reply(id, error);
        Flow::Continue
    }

    /// Writes what each outbox gathered since the last flush, and stops
    /// gathering. (Outside a read, notices to everyone, such as a join, are
    /// queued at once: the writers batch a storm of them, where a write per
    /// client per notice would not.)
    fn flush(&mut self) {
        for id in std::mem::take(&mut self.unflushed) {
            // A client disconnected since is gone.
            if let Some(client) = self.clients.get_mut(&id) {
                client.outbox.flush();
            }
        }
        self.gathering = false;
    }

    /// A chat line or action: to everyone but its sender, into the
    /// history, and into the log.
    fn say(&mut self, from: ClientId, line: String) {
        log!("{}", line.trim_end_matches('\n'));
        let line = Bytes::from(line);
        self.history.push(line.clone());
        self.deliver(To::AllBut(from), line);
    }

    fn reply(&mut self, id: ClientId, line: impl Into<Bytes>) {
        self.deliver(To::One(id), line.into());
    }

    // ANCHOR: rename
    fn rename(&mut self, id: ClientId, new_nick: &str) {
        if !nick::is_valid(new_nick) {
            let rule = format!(
                "! a nick is 1-{} printable characters, without spaces\n",
                nick::MAX_NICK
            );
            self.reply(id, rule);
            return;
        }
        // A walk through every client: renaming is rare, and a second map,
        // by nick, would be one more thing to keep in step.
        let taken = self
            .clients
            .iter()
            .any(|(&other, client)| other != id && client.nick == new_nick);
        if taken || nick::is_future_default(new_nick, self.last_id) {
            self.reply(id, format!("! the nick {new_nick} is taken\n"));
            return;
        }
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        let old_nick = std::mem::replace(&mut client.nick, new_nick.to_string());
        self.reply(id, format!("* you are now {new_nick}\n"));
        if old_nick != new_nick {
            log!("{old_nick} is now {new_nick}");
            let notice = format!("* {old_nick} is now {new_nick}\n");
            self.deliver(To::AllBut(id), Bytes::from(notice));
        }
    }
    // ANCHOR_END: rename

    fn who(&mut self, id: ClientId) {
        let mut nicks: Vec<&str> = self.clients.values().map(|c| c.nick.as_str()).collect();
        // `str`'s order is byte order.
        nicks.sort_unstable();
        let line = format!("* online ({}): {}\n", nicks.len(), nicks.join(", "));
        self.reply(id, line);
    }

    fn private(&mut self, from: ClientId, nick: &str, to: &str, text: &str) {
        let recipient = self.clients.iter().find(|(_, client)| client.nick == to);
        match recipient.map(|(&id, _)| id) {
            Some(recipient) => {
                // The log says who wrote to whom, never what.
                log!("{nick} -> {to} (private)");
                let line = format!("{nick} (private)> {text}\n");
                self.deliver(To::One(recipient), Bytes::from(line));
            }
            None => self.reply(from, format!("! no one is called {to}\n")),
        }
    }

    // ANCHOR: deliver
    /// Puts `line` in the outbox of each recipient, and disconnects any
    /// recipient whose outbox is full: no waiting for anyone.
    fn deliver(&mut self, to: To, line: Bytes) {
        let mut too_slow = self.fan_out(to, &line);
        // Telling the others that a slow client left is one more fanout,
        // which may find another slow client: go on until none is left.
        while let Some(id) = too_slow.pop() {
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
            let notice = Bytes::from(format!("* {} left\n", client.nick));
            too_slow.extend(self.fan_out(To::All, &notice));
        }
    }

    /// Gives `line` to each recipient: the ones whose outbox refused it.
    fn fan_out(&mut self, to: To, line: &Bytes) -> Vec<ClientId> {
        let mut too_slow = Vec::new();
        let (gather, unflushed) = (self.gathering, &mut self.unflushed);
        let mut send = |id: ClientId, client: &mut Client| {
            if gather && client.outbox.is_flushed() {
                unflushed.push(id);
            }
            if !client.outbox.send(line, gather) {
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

#[cfg(test)]
mod tests;
