//! The course's stages and their checks: the spec, one file per stage.
//!
//! A later stage must still pass every earlier stage's checks (a stage is
//! the previous one plus one lesson), so the tester runs them in order.

pub mod stage_01_bind_port;
pub mod stage_02_answer_ping;
pub mod stage_03_many_pings;
pub mod stage_04_concurrent_clients;
pub mod stage_05_resp_echo;
pub mod stage_06_get_set;
pub mod stage_07_expiry;
pub mod stage_08_errors_and_limits;
pub mod stage_09_hash_table;
pub mod stage_10_keyspace;
pub mod stage_11_binary_protocol;
pub mod stage_12_chat_broadcast;
pub mod stage_13_chat_slow_clients;
pub mod stage_14_chat_presence;
pub mod stage_15_pub_sub;
pub mod stage_16_sets;
pub mod stage_17_sorted_sets;
pub mod stage_18_sorted_set_ranges;
pub mod stage_19_chat_on_redis;
pub mod stage_20_chat_faults;
pub mod stage_21_web_chat;

/// What the chat stages' checks share (12 to 14, and 19).
mod chat;

use crate::check::{Failure, Stage};
use crate::client::Client;
use crate::resp::{self, Reply};

/// Every stage, in order.
static ALL: &[&Stage] = &[
    &stage_01_bind_port::STAGE,
    &stage_02_answer_ping::STAGE,
    &stage_03_many_pings::STAGE,
    &stage_04_concurrent_clients::STAGE,
    &stage_05_resp_echo::STAGE,
    &stage_06_get_set::STAGE,
    &stage_07_expiry::STAGE,
    &stage_08_errors_and_limits::STAGE,
    &stage_09_hash_table::STAGE,
    &stage_10_keyspace::STAGE,
    &stage_11_binary_protocol::STAGE,
    &stage_12_chat_broadcast::STAGE,
    &stage_13_chat_slow_clients::STAGE,
    &stage_14_chat_presence::STAGE,
    &stage_15_pub_sub::STAGE,
    &stage_16_sets::STAGE,
    &stage_17_sorted_sets::STAGE,
    &stage_18_sorted_set_ranges::STAGE,
    &stage_19_chat_on_redis::STAGE,
    &stage_20_chat_faults::STAGE,
    &stage_21_web_chat::STAGE,
];

/// Every stage, in order.
pub fn all() -> &'static [&'static Stage] {
    ALL
}

/// Stage `number`, or `None` when there is no such stage.
pub fn find(number: u8) -> Option<&'static Stage> {
    all().iter().copied().find(|stage| stage.number == number)
}

/// The stage a command line names (`--stage 3`, `just hint 3`), or what is
/// wrong with the name, in words for the learner.
pub fn from_argument(text: &str) -> Result<&'static Stage, String> {
    let number: u8 = text
        .trim()
        .parse()
        .map_err(|_| "a stage is a number, e.g. 3".to_string())?;
    find(number).ok_or_else(|| {
        let known: Vec<String> = all().iter().map(|stage| stage.number.to_string()).collect();
        format!(
            "there is no stage `{number}`; the stages are {}",
            known.join(", ")
        )
    })
}

/// `PING` as redis-cli sends it: `*1\r\n$4\r\nPING\r\n`.
pub fn ping() -> Vec<u8> {
    resp::command(&[b"PING"])
}

/// `+PONG\r\n`
pub fn pong() -> Reply {
    Reply::simple("PONG")
}

/// Sends each command and expects its error reply byte for byte, each one
/// followed by a PING that must still be answered: a bad command is the
/// client's mistake, not a broken stream, and the connection goes on. `why`
/// says the rule the errors follow, for the failure's hint.
pub fn expect_errors<'a, A: AsRef<[&'a [u8]]>>(
    client: &mut Client,
    cases: impl IntoIterator<Item = (A, Reply)>,
    why: &str,
) -> Result<(), Failure> {
    for (args, error) in cases {
        client
            .command(args.as_ref(), &error)
            .map_err(|failure| failure.explain(why))?;
        client.command(&[b"PING"], &pong()).map_err(|failure| {
            failure.explain(
                "After an error reply the connection must stay open and go on: a bad command \
                 is the client's mistake, not a broken stream.",
            )
        })?;
    }
    Ok(())
}

/// Expects `key` to be gone: EXISTS 0, TYPE none, and a DBSIZE of 0 (the
/// caller's key space holds nothing else). `why` says why it must be.
pub fn expect_only_key_deleted(client: &mut Client, key: &[u8], why: &str) -> Result<(), Failure> {
    let explain = |failure: Failure| failure.explain(why);
    client
        .command(&[b"EXISTS", key], &Reply::Integer(0))
        .map_err(explain)?;
    client
        .command(&[b"TYPE", key], &Reply::simple("none"))
        .map_err(explain)?;
    client
        .command(&[b"DBSIZE"], &Reply::Integer(0))
        .map_err(explain)
}
