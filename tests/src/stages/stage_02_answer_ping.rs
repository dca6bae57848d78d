//! Stage 2: answer PING. `*1\r\n$4\r\nPING\r\n` gets exactly `+PONG\r\n`,
//! and the connection stays open for more.

use std::time::Duration;

use super::{ping, pong};
use crate::check::{Check, Context, Failure, Stage};

pub static STAGE: Stage = Stage {
    number: 2,
    name: "answer-ping",
    summary: "answer PING",
    builds_on: &[1],
    base: 1,
    checks: &[
        Check {
            title: "answers PING (*1\\r\\n$4\\r\\nPING\\r\\n) with +PONG\\r\\n and nothing more",
            run: answers_ping,
        },
        Check {
            title: "keeps the connection open after replying, and answers a second PING",
            run: keeps_the_connection_open_after_replying,
        },
        Check {
            title: "answers a PING from each of 3 clients that connect one after another",
            run: answers_each_client,
        },
    ],
};

fn answers_ping(context: &mut Context) -> Result<(), Failure> {
    let mut client = context.connect()?;
    client.send(&ping())?;
    client.expect(&pong())?;
    client.expect_nothing_more()
}

fn keeps_the_connection_open_after_replying(context: &mut Context) -> Result<(), Failure> {
    let mut client = context.connect()?;
    client.send(&ping())?;
    client.expect(&pong())?;
    client
        .expect_open_and_quiet(Duration::from_millis(300))
        .map_err(|failure| {
            failure.explain(
                "After answering, go back to reading: the client may send another command on the \
             same connection (redis-cli does, in interactive mode).",
            )
        })?;
    client.send(&ping())?;
    client.expect(&pong())?;
    client.expect_nothing_more()
}

fn answers_each_client(context: &mut Context) -> Result<(), Failure> {
    for _ in 0..3 {
        let mut client = context.connect()?;
        client.send(&ping())?;
        client.expect(&pong()).map_err(|failure| {
            failure.explain(
                "When one client leaves, the server must go back to accepting the next one.",
            )
        })?;
    }
    Ok(())
}
