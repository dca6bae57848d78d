//! The chat's protocol, which the server (`main.rs`) and stage 14's client
//! both speak: lines of UTF-8 text, at most [`line::MAX_LINE`] bytes, cleaned
//! of anything that could take over a terminal. One copy of the rules, so
//! that the two cannot disagree.
//!
//! The server's own parts (`chat.rs`, `nick.rs`, `outbox.rs`, `config.rs`)
//! are modules of `main.rs`, not of this library.

pub mod line;

/// smallchat's port: a chat server, not a Redis.
pub const DEFAULT_PORT: u16 = 7711;
