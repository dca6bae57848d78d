//! Stage 13: slow clients. A client that stops reading must not stall the
//! others, nor make the server's memory grow: the server disconnects it.
//! And a thousand clients at once are served.

use std::io::Read;
use std::net::TcpStream;

use super::chat::{expect_line, is_presence_notice, join, join_named, line, send_line};
use crate::check::{Check, Context, Failure, Stage};
use crate::client::REPLY_TIMEOUT;
use crate::lines::Line;

pub static STAGE: Stage = Stage {
    number: 13,
    name: "chat-slow-clients",
    summary: "slow clients: one that stops reading is disconnected, not waited for",
    builds_on: &[12],
    base: 12,
    checks: &[
        Check {
            title: "a client that never reads does not stop the others, and is disconnected",
            run: slow_consumer,
        },
        Check {
            title: "1,000 clients connected at once all receive a message",
            run: a_thousand_clients,
        },
    ],
};

/// Lines the talking client sends, and the text after each line's number:
/// about 8 MB, far more than the kernel's buffers hold for a client that
/// does not read.
const FLOOD_LINES: usize = 2_000;
const FILLER: usize = 3_900;

fn slow_consumer(context: &mut Context) -> Result<(), Failure> {
    let mut clients = join_named(context, 2)?;
    // A third client, which never reads from here on (not even its welcome).
    let mut slow = TcpStream::connect_timeout(&context.server.address(), REPLY_TIMEOUT)
        .map_err(|error| Failure::new(format!("a third client could not connect: {error}")))?;
    let nick = clients[0].1.clone();
    let before = context.server.memory_kib();
    let filler = "z".repeat(FILLER);
    // Sent 100 lines at a time, and read by the other client between.
    for batch in 0..FLOOD_LINES / 100 {
        let bytes: String = (0..100)
            .map(|i| format!("{:04} {filler}\n", batch * 100 + i))
            .collect();
        clients[0].0.send(bytes.as_bytes())?;
        for i in 0..100 {
            let expected = line(format!("{nick}> {:04} {filler}", batch * 100 + i));
            let received = batch * 100 + i;
            expect_line(&mut clients[1].0, &expected).map_err(|mut failure| {
                if failure.timed_out {
                    failure.problem = format!(
                        "{} stopped receiving after line {} of {}: nothing more arrived within \
                         {} s",
                        clients[1].0.name,
                        thousands(received),
                        thousands(FLOOD_LINES),
                        REPLY_TIMEOUT.as_secs()
                    );
                    return failure.cause(
                        "Delivery stopped once the client that does not read had its fill: a \
                         broadcast that writes to each client in turn and waits on every write \
                         waits forever on that one, and everyone else waits behind it. Put each \
                         client's lines in a queue of its own, written by its own task.",
                    );
                }
                failure.explain(
                    "Another client has stopped reading. Its lines must wait in its own queue, \
                     never hold up delivery to the others: and each line reaches each other \
                     client whole, once, in order.",
                )
            })?;
        }
    }
    // Now it reads: what the server had for it, and then the end of the
    // connection, well before all 2,000 lines.
    let expected_bytes = FLOOD_LINES * (nick.len() + 2 + 5 + FILLER + 1);
    let _ = slow.set_read_timeout(Some(REPLY_TIMEOUT));
    let mut received = 0;
    let mut chunk = vec![0u8; 64 * 1024];
    let closed = loop {
        match slow.read(&mut chunk) {
            Ok(0) => break true,
            Ok(read) => received += read,
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break false;
            }
            // Reset: closed as well.
            Err(_) => break true,
        }
    };
    if !closed || received >= expected_bytes {
        return Err(Failure::new(format!(
            "the client that did not read while {} MB were sent was not disconnected: once it \
             read, it received {} KB{}",
            expected_bytes / 1_000_000,
            received / 1000,
            if closed {
                ", all of it"
            } else {
                ", and the connection stayed open"
            }
        ))
        .hint(
            "Bound each client's queue of unsent lines (in bytes: 256 KiB is plenty), and \
             disconnect a client whose queue would pass the bound. Never wait for it.",
        ));
    }
    if let (Some(before), Some(after)) = (before, context.server.memory_kib()) {
        let grown = after.0.saturating_sub(before.0) / 1024;
        if grown > 64 {
            return Err(Failure::new(format!(
                "the server's memory grew by {grown} MB while a client did not read"
            ))
            .hint(
                "Bound each client's queue of unsent lines, and drop a client that overflows it.",
            ));
        }
    }
    // The client that read is still there, and heard only what it should.
    send_line(&mut clients[0].0, "done")?;
    expect_line(&mut clients[1].0, &line(format!("{nick}> done")))
}

/// 1,058 for 1058.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn a_thousand_clients(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let mut clients = Vec::with_capacity(1000);
    for _ in 0..1000 {
        clients.push(join(context)?);
    }
    let sender = clients[0].1.clone();
    let expected = line(format!("{sender}> hello all {word}"));
    send_line(&mut clients[0].0, &format!("hello all {word}"))?;
    for (client, _) in &mut clients[1..] {
        // On a server that tells who joins, first the notices of the
        // clients that came after this one.
        loop {
            let got = client
                .expect_matching("a line", |_: &Line| true)
                .map_err(|failure| {
                    failure.explain(
                        "With 1,000 clients connected, every one must still receive the message.",
                    )
                })?;
            if got == expected {
                break;
            }
            if !is_presence_notice(&got) {
                return Err(Failure::new(format!(
                    "expected {}; got {}",
                    crate::frame::Frame::describe(&expected),
                    crate::frame::Frame::describe(&got)
                )));
            }
        }
    }
    Ok(())
}
