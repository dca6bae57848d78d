//! The course's own tools, for whoever maintains it: none of this is part
//! of a lesson, and a learner need never read it (rustlings keeps its `dev`
//! commands apart in the same way).
//!
//! - [`lint`]: the course lint (`just check-course`, the `check-course`
//!   binary): every stage has its pieces and stays one lesson.
//! - [`book`]: every include of the book resolves (the lint runs it, and so
//!   does `tests/tutorial_includes.rs`).
//! - the benches: `src/bin/hash-table-bench.rs` (`just bench-table`),
//!   `src/bin/protocol-bench.rs` (`just bench-protocols`),
//!   `src/bin/fanout-bench.rs` (`just bench-fanout`),
//!   `src/bin/chat-redis-bench.rs` (`just bench-chat-redis`), both on the
//!   load of [`fanout`], and
//!   `compare-with-redis.sh` (`just bench`).
//!
//! It builds on the tester's library, `harness`, for the list of stages and
//! for starting a reference stage.

pub mod book;
pub mod fanout;
pub mod figures;
pub mod lint;
