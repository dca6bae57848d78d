//! The course's tester: black-box checks of every stage.
//!
//! It starts the server under test as a separate process (the reference
//! stage, or a learner's program in any language), talks to it over TCP, and
//! judges the bytes that come back. Everything is built to tell a learner
//! exactly what went wrong: what was sent, what was expected, what arrived,
//! with a caret under the first wrong byte and a hint.
//!
//! Layers, from the bottom: [`escape`] (bytes shown to a human), [`random`]
//! (seeded values), [`frame`] (what a protocol must offer), [`resp`],
//! [`binary`] and [`lines`] (reading replies of stages 2-10, 11 and the chat
//! stages), [`htstats`] (stage 9's window on a server's hash table), [`server`]
//! (the process under test), [`client`] (a connection with timeouts and
//! expectations), [`web`] and [`json`] (stage 21's page and WebSocket),
//! [`check`] (checks, failures, the runner), [`stages`] (the spec).
//!
//! Around them, the course for a learner: [`learner`] (their registered
//! program and their progress), [`project`] (`my-server/`, started empty or
//! from a checkpoint), [`progress`], [`hints`].
//!
//! The course's own tools (the course lint, the book's checks, the benches)
//! are the `maintainer` package, in `maintainer/`: no lesson needs them.

pub mod binary;
pub mod chat_store;
pub mod check;
pub mod client;
pub mod escape;
pub mod frame;
pub mod hints;
pub mod htstats;
pub mod json;
pub mod learner;
pub mod lines;
pub mod progress;
pub mod project;
pub mod random;
pub mod resp;
pub mod server;
pub mod stages;
pub mod web;
