//! Stage 4: concurrent clients. Every connected client is served at once,
//! independently: one that stays, sends slowly or leaves does not hold up
//! the others, and neither does a log nobody reads. And they stop together:
//! on SIGTERM or SIGINT the server answers what it was sent, closes every
//! client and exits with status 0.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use super::{ping, pong};
use crate::check::{Check, Context, Failure, Stage};
use crate::server::describe_status;

pub static STAGE: Stage = Stage {
    number: 4,
    name: "concurrent-clients",
    summary: "serve many clients at once",
    builds_on: &[1, 2, 3],
    base: 3,
    checks: &[
        Check {
            title: "answers a second client while the first stays connected",
            run: answers_a_second_client_while_the_first_stays,
        },
        Check {
            title: "answers many clients connected at once, their PINGs interleaved",
            run: answers_many_clients_at_once,
        },
        Check {
            title: "keeps serving the others when a client leaves in the middle of a PING",
            run: survives_a_client_leaving_mid_command,
        },
        Check {
            title: "answers 5,000 clients in a row while nobody reads its output",
            run: answers_while_nobody_reads_its_output,
        },
        Check {
            title: "on SIGTERM: answers the PING sent just before, closes every client, exits with status 0",
            run: stops_on_sigterm,
        },
        Check {
            title: "on SIGINT (Ctrl-C): closes every client, exits with status 0",
            run: stops_on_sigint,
        },
    ],
};

const ONE_AT_A_TIME: &str = "Client 1 is still connected. A server that serves one client at a \
     time is still busy with client 1 and never reads client 2's PING: serve each client in a \
     task (or thread) of its own, and go straight back to accepting.";

fn answers_a_second_client_while_the_first_stays(context: &mut Context) -> Result<(), Failure> {
    let mut first = context.connect()?;
    first.send(&ping())?;
    first.expect(&pong())?;
    let mut second = context.connect()?;
    second.send(&ping())?;
    second
        .expect(&pong())
        .map_err(|failure| failure.explain(ONE_AT_A_TIME))?;
    // And the first is still served.
    first.send(&ping())?;
    first.expect(&pong())?;
    first.expect_nothing_more()?;
    second.expect_nothing_more()
}

fn answers_many_clients_at_once(context: &mut Context) -> Result<(), Failure> {
    let count = context.rng.between(10, 50);
    context.title(format!(
        "answers {count} clients connected at once, their PINGs interleaved"
    ));
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        clients.push(context.connect()?);
    }
    // Round 1: every client sends a PING before any reads its PONG, and the
    // replies are read in a random order.
    for client in &mut clients {
        client.send(&ping())?;
    }
    let mut order: Vec<usize> = (0..count).collect();
    context.rng.shuffle(&mut order);
    for &i in &order {
        clients[i]
            .expect(&pong())
            .map_err(|failure| failure.explain(ONE_AT_A_TIME))?;
    }
    // Round 2: PINGs one at a time, from clients picked at random.
    for _ in 0..count * 2 {
        let i = context.rng.between(0, count - 1);
        clients[i].send(&ping())?;
        clients[i].expect(&pong())?;
    }
    for client in &mut clients {
        client.expect_nothing_more()?;
    }
    Ok(())
}

fn survives_a_client_leaving_mid_command(context: &mut Context) -> Result<(), Failure> {
    let mut staying = context.connect()?;
    staying.send(&ping())?;
    staying.expect(&pong())?;
    {
        let mut leaving = context.connect()?;
        let ping = ping();
        leaving.send(&ping[..ping.len() / 2])?;
        // Dropped here: the connection closes with half a PING sent.
    }
    let explain = |failure: Failure| {
        failure.explain(
            "A client left with half a PING sent. That must end its own connection only: an \
             error on one connection must not stop the server or its other clients. (If \
             client 1 is answered and the newcomer is not, the server may be serving one \
             client at a time: see the first check of this stage.)",
        )
    };
    staying.send(&ping())?;
    staying.expect(&pong()).map_err(explain)?;
    let mut newcomer = context.connect().map_err(explain)?;
    newcomer.send(&ping())?;
    newcomer.expect(&pong()).map_err(explain)?;
    staying.expect_nothing_more()
}

/// How many clients connect, one after another, while the server's output
/// is not read: each logs a line or two, and 5,000 of them are several
/// times what a pipe holds (64 KiB).
const CLIENTS_WHILE_UNREAD: usize = 5_000;

fn answers_while_nobody_reads_its_output(context: &mut Context) -> Result<(), Failure> {
    context.server.stop_reading_output();
    let result = connect_and_ping_many(context);
    // For the report: what it printed, and how it got on.
    context.server.read_output_again();
    result
}

fn connect_and_ping_many(context: &mut Context) -> Result<(), Failure> {
    for n in 1..=CLIENTS_WHILE_UNREAD {
        let explain = |failure: Failure| {
            failure.explain(format!(
                "Client {n} of {CLIENTS_WHILE_UNREAD}, each connecting, sending a PING and leaving, \
                 while the tester did not read your program's stdout and stderr (pipes it keeps \
                 open, as a paused terminal or `server | sleep 60` does). Once a pipe's buffer is \
                 full, a write to it waits: a server that logs with a plain print on the thread \
                 that serves its clients stops serving them. Write the log from a thread of its \
                 own, through a bounded queue that never waits: when it is full, drop the line \
                 and count it."
            ))
        };
        let mut client = context.connect().map_err(explain)?;
        client.send(&ping())?;
        client.expect(&pong()).map_err(explain)?;
    }
    Ok(())
}

/// How long a server may take to exit after the signal: its grace period
/// for the clients to finish, and a moment more.
const EXIT_WITHIN: Duration = Duration::from_secs(3);

fn stops_on_sigterm(context: &mut Context) -> Result<(), Failure> {
    stops_on_signal(context, "TERM")
}

fn stops_on_sigint(context: &mut Context) -> Result<(), Failure> {
    stops_on_signal(context, "INT")
}

/// Two clients connected, one of them with a PING just sent, then the
/// signal: the PING is answered, both see the connection closed, and the
/// server exits with status 0.
fn stops_on_signal(context: &mut Context, signal: &str) -> Result<(), Failure> {
    let mut busy = context.connect()?;
    let mut idle = context.connect()?;
    for client in [&mut busy, &mut idle] {
        client.send(&ping())?;
        client.expect(&pong())?;
    }
    // Only SIGTERM's check sends a PING just before: SIGINT's keeps a
    // client that is simply connected.
    if signal == "TERM" {
        busy.send(&ping())?;
    }
    context.server.signal(signal);
    let explain_unhandled = |failure: Failure| {
        failure.explain(format!(
            "The tester sent SIG{signal}. The server must stop accepting, let each client finish \
             what it was doing (write the replies to what it read), close every connection, and \
             exit with status 0, within a moment (a grace period of a second or two)."
        ))
    };
    if signal == "TERM" {
        busy.expect(&pong()).map_err(|failure| {
            failure.explain(
                "This PING was sent just before SIGTERM: the server must answer it before it \
                 closes the connection. Stop between batches (after writing the replies to what \
                 was read), not in the middle of one.",
            )
        })?;
    }
    busy.expect_closed().map_err(explain_unhandled)?;
    idle.expect_closed().map_err(explain_unhandled)?;
    expect_clean_exit(context, signal)
}

/// Expects the server to exit with status 0 within [`EXIT_WITHIN`] of
/// `signal` (`"TERM"`, `"INT"`), which the check has sent.
pub fn expect_clean_exit(context: &mut Context, signal: &str) -> Result<(), Failure> {
    match context.server.wait_for_exit(EXIT_WITHIN) {
        Some(status) if status.success() => Ok(()),
        Some(status) => {
            // By a shell's exit code (128 + the signal), or by the signal.
            let died = status.code() == Some(128 + signal_number(signal))
                || status.signal() == Some(signal_number(signal));
            let mut failure = Failure::new(format!(
                "on SIG{signal} your program exited with {}, not 0",
                describe_status(status)
            ));
            if died {
                failure = failure.explain(format!(
                    "128 + {} is how a shell reports a program killed by SIG{signal}: your \
                     program does not handle the signal, so it dies by it, in the middle of \
                     whatever it was doing. Catch it (in Rust, tokio::signal; in Python, the \
                     signal module; in Go, os/signal), then stop accepting, close the clients, \
                     and exit with status 0.",
                    signal_number(signal)
                ));
            }
            Err(failure)
        }
        None => Err(Failure::new(format!(
            "your program was still running {} s after SIG{signal}",
            EXIT_WITHIN.as_secs()
        ))
        .explain(
            "Its clients saw their connections closed, but it did not exit: after closing them \
             (or after a grace period of a second or two, whichever comes first), exit with \
             status 0. A task still running (a timer, a background loop) must not keep it alive.",
        )),
    }
}

/// SIGTERM is 15 and SIGINT 2, on every system the course runs on.
fn signal_number(signal: &str) -> i32 {
    if signal == "TERM" { 15 } else { 2 }
}
