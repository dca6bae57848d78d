//! The chat: who is connected under which nick, and the fanout of every
//! line to the clients who should receive it.
//!
//! A registry under a lock, in which nobody writes to a socket: a fanout
//! takes the lock, puts the line into each recipient's outbox (which never
//! waits, see `outbox.rs`), and lets go. The chapter compares this with the
//! other designs. The lock is std's `Mutex`, not Tokio's: it is never held
//! across an `.await` (nothing here awaits), so no task can be suspended
//! holding it. One lock for every change also gives the chat one order of
//! events: every client receives the lines in the order they were said.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use stage_12_chat_broadcast::line::MAX_LINE;

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
}

struct Client {
    nick: String,
    outbox: Outbox,
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
        state.clients.insert(id, Client { nick, outbox });
        state.deliver(To::One(id), Bytes::from(welcome));
        (id, receiver)
    }
    // ANCHOR_END: join

    // ANCHOR: handle_line
    /// Acts on one cleaned line from a client: a chat line for the others,
    /// or a command.
    pub fn handle_line(&self, id: ClientId, line: &str) {
        if line.is_empty() {
            return;
        }
        let mut state = self.lock();
        let Some(client) = state.clients.get(&id) else {
            return;
        };
        let Some(command) = line.strip_prefix('/') else {
            let chat = format!("{}> {line}\n", client.nick);
            log!("{}", chat.trim_end_matches('\n'));
            state.deliver(To::AllBut(id), Bytes::from(chat));
            return;
        };
        // The command's name, and after one space its argument.
        let (name, argument) = command.split_once(' ').unwrap_or((command, ""));
        match name {
            "nick" => state.rename(id, argument),
            // SHORTCUT(stage 14): /nick is the only command.
            _ => state.reply(id, format!("! unknown command /{name}\n")),
        }
    }

    /// Tells the client its line was over the limit, and not sent.
    pub fn line_too_long(&self, id: ClientId) {
        let error = format!("! line too long (over {MAX_LINE} bytes): not sent\n");
        self.lock().reply(id, error);
    }

    /// Removes a client that left. Its outbox closes with it, so its writer
    /// task writes what is still queued and ends.
    pub fn leave(&self, id: ClientId) {
        // SHORTCUT(stage 14): the others are not told.
        self.lock().clients.remove(&id);
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

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a task panicked while holding it. Every
        // change here leaves the state whole before anything can panic, so
        // go on with it rather than take the whole chat down.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
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
    /// Puts `line` in the outbox of each recipient: one allocation for the
    /// line, however many receive it, and no waiting for anyone.
    fn deliver(&mut self, to: To, line: Bytes) {
        match to {
            To::One(id) => {
                if let Some(client) = self.clients.get(&id) {
                    client.outbox.send(&line);
                }
            }
            To::AllBut(sender) => {
                for (&id, client) in &self.clients {
                    if id != sender {
                        client.outbox.send(&line);
                    }
                }
            }
        }
    }
    // ANCHOR_END: deliver
}

#[cfg(test)]
mod tests;
