//! The Redis that a chat server keeps its state in, from stage 19 on: the
//! tester starts one for each check, and starts the program under test
//! with `--redis redis://127.0.0.1:PORT --port N`, once or several times.
//!
//! By default it is the course's own Redis, the reference stage that has
//! every command the chat needs; with `COURSE_CHAT_STORE=redis-server` (or
//! the tester's `--chat-store redis-server`), a real redis-server.

use std::time::Duration;

use crate::check::{Failure, Stage};
use crate::random::Rng;
use crate::server::{Server, ServerSpec};
use crate::stages;

/// The environment variable that picks the chat's Redis: `course` (the
/// default) or `redis-server`.
pub const STORE_VARIABLE: &str = "COURSE_CHAT_STORE";

/// The first stage whose server keeps the chat in Redis: its checks, and
/// those of earlier chat stages run against it, start a Redis.
pub const FIRST_STAGE_ON_REDIS: u8 = 19;

/// The course's Redis: the last reference stage of the Redis track before
/// the chat on Redis, which has every command the chat uses (Pub/Sub, sets,
/// sorted sets; ZREMRANGEBYRANK from stage 18).
pub fn course_redis() -> &'static Stage {
    let redis_track = |stage: &&&Stage| (15..FIRST_STAGE_ON_REDIS).contains(&stage.number);
    let last = stages::all().iter().rfind(redis_track);
    last.expect("the course has a Redis with Pub/Sub")
}

/// Which Redis holds the chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// The course's own reference Redis.
    Course,
    /// A real redis-server, which must be installed.
    RedisServer,
}

impl StoreKind {
    /// `course` or `redis-server`.
    pub fn from_name(name: &str) -> Result<StoreKind, String> {
        match name.trim() {
            "" | "course" => Ok(StoreKind::Course),
            "redis-server" => Ok(StoreKind::RedisServer),
            other => Err(format!(
                "the chat's Redis is `course` or `redis-server`, not `{other}`"
            )),
        }
    }

    /// From [`STORE_VARIABLE`]; the course's Redis when it is not set, or
    /// not understood (said on stderr).
    pub fn from_environment() -> StoreKind {
        let name = std::env::var(STORE_VARIABLE).unwrap_or_default();
        StoreKind::from_name(&name).unwrap_or_else(|problem| {
            eprintln!("{STORE_VARIABLE}: {problem}; using the course's Redis");
            StoreKind::Course
        })
    }

    pub fn spec(self) -> ServerSpec {
        match self {
            StoreKind::Course => course_redis().reference(),
            StoreKind::RedisServer => {
                ServerSpec::Command("redis-server --save '' --appendonly no".to_string())
            }
        }
    }
}

/// A running Redis for one check.
pub struct Store {
    kind: StoreKind,
    pub server: Server,
}

impl Store {
    pub fn start(kind: StoreKind, rng: &mut Rng, timeout: Duration) -> Result<Store, Failure> {
        let server = Server::start(&kind.spec(), rng, timeout).map_err(|mut failure| {
            failure.problem = format!("the chat's Redis did not start: {}", failure.problem);
            failure.hint(format!(
                "This is the tester's Redis, not your program: with {STORE_VARIABLE}=redis-server \
                 the tester uses a real redis-server instead."
            ))
        })?;
        Ok(Store { kind, server })
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.server.port)
    }

    /// Kills the Redis (SIGKILL: it saves nothing) and starts a new, empty
    /// one on the same port.
    pub fn restart(&mut self, timeout: Duration) -> Result<(), Failure> {
        self.server.signal("KILL");
        self.server.wait_for_exit(Duration::from_secs(3));
        self.server = Server::restart_on(&self.kind.spec(), self.server.port, timeout)?;
        Ok(())
    }
}
