//! Stage 1: bind a port. The server listens on the port given with
//! `--port`, accepts connections, and keeps each open until the client
//! leaves. It does not have to answer anything.

use std::time::Duration;

use crate::check::{Check, Context, Failure, Stage};

pub static STAGE: Stage = Stage {
    number: 1,
    name: "bind-port",
    summary: "bind a port",
    builds_on: &[],
    base: 0,
    checks: &[
        Check {
            title: "accepts a TCP connection on the port given with --port",
            run: accepts_a_connection,
        },
        Check {
            title: "keeps a connection open while the client stays",
            run: keeps_the_connection_open,
        },
        Check {
            title: "accepts a new client after the previous one left",
            run: accepts_clients_one_after_another,
        },
    ],
};

fn accepts_a_connection(context: &mut Context) -> Result<(), Failure> {
    // The tester has already waited for the port to accept connections;
    // this is that promise, made as a check of its own.
    context.connect()?;
    Ok(())
}

fn keeps_the_connection_open(context: &mut Context) -> Result<(), Failure> {
    let mut client = context.connect()?;
    client.expect_open_and_quiet(Duration::from_millis(500))
}

fn accepts_clients_one_after_another(context: &mut Context) -> Result<(), Failure> {
    for _ in 0..3 {
        let mut client = context.connect()?;
        client.expect_open_and_quiet(Duration::from_millis(200))?;
        // Dropping the client closes the connection: the server sees the end
        // of the stream and must go back to accepting.
    }
    Ok(())
}
