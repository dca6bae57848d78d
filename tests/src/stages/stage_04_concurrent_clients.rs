//! Stage 4: concurrent clients. Every connected client is served at once,
//! independently: one that stays, sends slowly or leaves does not hold up
//! the others.

use super::{ping, pong};
use crate::check::{Check, Context, Failure, Stage};

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
