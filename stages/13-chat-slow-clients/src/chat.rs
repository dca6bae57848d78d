//! The chat: who is connected under which nick, and the fanout of every
//! line to the clients who should receive it.
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
//! events: every client receives the lines in the order they were said.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use stage_13_chat_slow_clients::line::{self, Line, LineReader, MAX_LINE};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::AbortHandle;

use crate::nick;
use crate::outbox::{self, Outbox, OutboxReceiver};

/// Each connection's number, from 1 up, never reused.
pub type ClientId = u64;

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
}
// ANCHOR_END: state

impl Hub {
    // ANCHOR: join
    /// Registers a new client under its default nick, and sends it the
    /// welcome. Returns its id, and the end of its outbox that its writer
    /// task drains.
    pub fn join(&self) -> (ClientId, OutboxReceiver) {
        let (outbox, receiver) = outbox::outbox();
        let mut state = self.lock();
        state.last_id += 1;
        let id = state.last_id;
        let nick = format!("user{id}");
        let welcome = format!("Welcome, {nick}! Set your name with /nick NAME.\n");
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
    ) {
        let mut state = self.lock();
        state.gathering = true;
        for round in 0..2 {
            if round == 1 && !lines.read_ready(client_socket) {
                break;
            }
            while let Some(line) = lines.next_line() {
                match line {
                    Line::Text(raw) => state.handle_line(id, &line::clean(&raw)),
                    Line::TooLong => state.line_too_long(id),
                }
            }
        }
        state.flush();
    }

    /// Removes a client that left. Its outbox closes with it, so its writer
    /// task writes what is still queued and ends.
    pub fn leave(&self, id: ClientId) {
        let mut state = self.lock();
        // SHORTCUT(stage 14): the others are not told.
        state.clients.remove(&id);
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
    // ANCHOR_END: handle_line
}

impl State {
    /// Acts on one cleaned line from a client: a chat line for the others,
    /// or a command.
    fn handle_line(&mut self, id: ClientId, line: &str) {
        if line.is_empty() {
            return;
        }
        let Some(client) = self.clients.get(&id) else {
            return;
        };
        let Some(command) = line.strip_prefix('/') else {
            let chat = format!("{}> {line}\n", client.nick);
            log!("{}", chat.trim_end_matches('\n'));
            self.deliver(To::AllBut(id), Bytes::from(chat));
            return;
        };
        // The command's name, and after one space its argument.
        let (name, argument) = command.split_once(' ').unwrap_or((command, ""));
        match name {
            "nick" => self.rename(id, argument),
            // SHORTCUT(stage 14): /nick is the only command.
            _ => self.reply(id, format!("! unknown command /{name}\n")),
        }
    }

    /// Tells the client its line was over the limit, and not sent.
    fn line_too_long(&mut self, id: ClientId) {
        let error = format!("! line too long (over {MAX_LINE} bytes): not sent\n");
        self.reply(id, error);
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

    // ANCHOR: deliver
    /// Puts `line` in the outbox of each recipient, and disconnects any
    /// recipient whose outbox is full: no waiting for anyone.
    fn deliver(&mut self, to: To, line: Bytes) {
        for id in self.fan_out(to, &line) {
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
            To::AllBut(sender) => {
                for (&id, client) in &mut self.clients {
                    if id != sender {
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
