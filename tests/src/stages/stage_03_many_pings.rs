//! Stage 3: many PINGs on one connection. Every PING gets its PONG, in
//! order, however the bytes arrive: one after another, many in one write,
//! one split over many writes.

use std::time::Duration;

use super::{ping, pong};
use crate::check::{Check, Context, Failure, Stage};
use crate::resp;

pub static STAGE: Stage = Stage {
    number: 3,
    name: "many-pings",
    summary: "answer many PINGs on one connection",
    builds_on: &[1, 2],
    base: 2,
    checks: &[
        Check {
            title: "answers several PINGs sent one after another on one connection",
            run: answers_pings_one_after_another,
        },
        Check {
            title: "answers several PINGs sent in one write, in order",
            run: answers_pings_sent_in_one_write,
        },
        Check {
            title: "answers a PING that arrives one byte at a time",
            run: answers_a_ping_sent_byte_by_byte,
        },
        Check {
            title: "answers PING in any letter case",
            run: answers_ping_in_any_case,
        },
        Check {
            title: "answers several PINGs whose bytes arrive in random pieces",
            run: answers_pings_in_random_pieces,
        },
    ],
};

/// Pause between the pieces of a split command, so that each arrives on its
/// own (the client sends with Nagle's algorithm off).
const PIECE_PAUSE: Duration = Duration::from_millis(10);

fn answers_pings_one_after_another(context: &mut Context) -> Result<(), Failure> {
    let count = context.rng.between(3, 12);
    context.title(format!(
        "answers {count} PINGs sent one after another on one connection"
    ));
    let mut client = context.connect()?;
    for number in 1..=count {
        client.send(&ping())?;
        client.expect(&pong()).map_err(|failure| {
            if number == 1 {
                failure
            } else {
                failure.explain(format!(
                    "PING 1 was answered but PING {number} was not: after a reply, does your \
                     server go back to reading from the same connection?"
                ))
            }
        })?;
    }
    client.expect_nothing_more()
}

fn answers_pings_sent_in_one_write(context: &mut Context) -> Result<(), Failure> {
    let count = context.rng.between(2, 10);
    context.title(format!(
        "answers {count} PINGs sent in one write with {count} PONGs, in order"
    ));
    let mut client = context.connect()?;
    client.send(&ping().repeat(count))?;
    client.expect_all(&vec![pong(); count]).map_err(|failure| {
        failure.explain(format!(
            "All {count} PINGs were sent in one write, so they most likely arrived in one \
                 read. A server that answers once per read answers only one of them: look for \
                 every whole command in what you read, and answer each."
        ))
    })?;
    client.expect_nothing_more()
}

fn answers_a_ping_sent_byte_by_byte(context: &mut Context) -> Result<(), Failure> {
    let mut client = context.connect()?;
    let ping = ping();
    client.send_in_pieces(&ping, &vec![1; ping.len()], PIECE_PAUSE)?;
    client.expect(&pong()).map_err(|failure| {
        failure.explain(
            "The PING arrived one byte per read. Keep what you have read in a buffer, and \
             answer only when a whole command is there.",
        )
    })?;
    client.expect_nothing_more().map_err(|failure| {
        failure.explain(
            "The PING arrived in pieces: a server that answers once per read sends a PONG \
             for every piece. Answer whole commands, not reads.",
        )
    })
}

fn answers_ping_in_any_case(context: &mut Context) -> Result<(), Failure> {
    let words: Vec<String> = (0..3).map(|_| context.rng.random_case("ping")).collect();
    context.title(format!(
        "answers PING in any letter case ({})",
        words.join(", ")
    ));
    let mut client = context.connect()?;
    for word in &words {
        client.send(&resp::command(&[word.as_bytes()]))?;
        client.expect(&pong()).map_err(|failure| {
            failure.explain(format!(
                "Command names are case-insensitive in Redis: `{word}` is PING. `redis-cli ping` \
                 sends it in lower case."
            ))
        })?;
    }
    client.expect_nothing_more()
}

fn answers_pings_in_random_pieces(context: &mut Context) -> Result<(), Failure> {
    let count = context.rng.between(3, 8);
    let bytes = ping().repeat(count);
    // Pieces that fall only on the PINGs' boundaries, or as many pieces
    // as PINGs, would pass a server that answers once per read: draw again.
    let pieces = loop {
        let pieces = context.rng.chunk_sizes(bytes.len(), 20);
        let mut cut = 0;
        let splits_a_ping = pieces[..pieces.len() - 1].iter().any(|size| {
            cut += size;
            cut % ping().len() != 0
        });
        if splits_a_ping && pieces.len() != count {
            break pieces;
        }
    };
    context.title(format!(
        "answers {count} PINGs whose {} bytes arrive in {} random pieces",
        bytes.len(),
        pieces.len()
    ));
    let mut client = context.connect()?;
    client.send_in_pieces(&bytes, &pieces, PIECE_PAUSE)?;
    client.expect_all(&vec![pong(); count]).map_err(|failure| {
        failure.explain(
            "Pieces may hold the end of one PING and the start of the next. After answering \
             every whole PING in the buffer, keep the leftover bytes for the next read.",
        )
    })?;
    client.expect_nothing_more()
}
