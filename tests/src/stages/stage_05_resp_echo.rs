//! Stage 5: RESP. Commands are arrays of bulk strings, read by a parser
//! that resumes on partial input; every whole command in a read is run, in
//! order; PING [message] and ECHO answer; an unknown command or a wrong
//! number of arguments gets Redis's error and the connection lives on;
//! bytes that are not RESP get an error and a close; and nothing a client
//! merely declares is allocated.

use std::time::Duration;

use super::{expect_errors, ping, pong};
use crate::check::{Check, Context, Failure, Stage};
use crate::resp::{self, Reply};

pub static STAGE: Stage = Stage {
    number: 5,
    name: "resp-echo",
    summary: "RESP: PING and ECHO, pipelined",
    builds_on: &[1, 2, 3, 4],
    base: 4,
    checks: &[
        Check {
            title: "answers PING, and PING with a message as a bulk string",
            run: answers_ping_with_and_without_a_message,
        },
        Check {
            title: "answers ECHO with the same bytes, as a bulk string",
            run: answers_echo,
        },
        Check {
            title: "takes command names in any letter case",
            run: takes_any_case,
        },
        Check {
            title: "reads an ECHO that arrives one byte at a time",
            run: reads_a_command_byte_by_byte,
        },
        Check {
            title: "answers 100 PINGs and ECHOs pipelined in one write, in order",
            run: answers_pipelined_commands,
        },
        Check {
            title: "echoes a 1 MB argument",
            run: echoes_a_large_argument,
        },
        Check {
            title: "keeps binary arguments intact: every byte value, \\0 and \\r\\n inside",
            run: keeps_binary_arguments,
        },
        Check {
            title: "an unknown command or a wrong number of arguments gets Redis's error, and the connection lives on",
            run: command_errors_as_redis,
        },
        Check {
            title: "bytes that are not RESP get a protocol error, then the connection is closed",
            run: protocol_errors_close_the_connection,
        },
        Check {
            title: "serves other clients while one declares a 500 MB argument it never sends, without allocating it",
            run: a_declared_length_is_not_allocated,
        },
    ],
};

fn answers_ping_with_and_without_a_message(context: &mut Context) -> Result<(), Failure> {
    let message = context.rng.word();
    let mut client = context.connect()?;
    client.command(&[b"PING"], &pong())?;
    client
        .command(&[b"PING", message.as_bytes()], &Reply::bulk(&message))
        .map_err(|failure| {
            failure.explain(
                "PING with an argument answers with the argument, as a bulk string \
                 `$<length>\\r\\n<bytes>\\r\\n`, as ECHO does.",
            )
        })?;
    client.expect_nothing_more()
}

fn answers_echo(context: &mut Context) -> Result<(), Failure> {
    let mut words: Vec<String> = (0..3).map(|_| context.rng.word()).collect();
    // A space and the empty string are bytes like any other.
    words.push(format!("{} {}", context.rng.word(), context.rng.word()));
    words.push(String::new());
    let mut client = context.connect()?;
    for word in &words {
        client
            .command(&[b"ECHO", word.as_bytes()], &Reply::bulk(word))
            .map_err(|failure| {
                failure.explain(
                    "ECHO replies with its argument as a bulk string: `$<length>\\r\\n<bytes>\\r\\n` \
                     (`$0\\r\\n\\r\\n` for the empty string).",
                )
            })?;
    }
    client.expect_nothing_more()
}

fn takes_any_case(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let ping = context.rng.random_case("ping");
    let echo = context.rng.random_case("echo");
    context.title(format!(
        "takes command names in any letter case ({ping}, {echo})"
    ));
    let mut client = context.connect()?;
    let explain = |failure: Failure| {
        failure.explain(
            "Command names are case-insensitive: compare them with `eq_ignore_ascii_case`, \
             or upper-case a copy. The arguments keep their case.",
        )
    };
    client
        .command(&[ping.as_bytes()], &pong())
        .map_err(explain)?;
    client
        .command(&[echo.as_bytes(), word.as_bytes()], &Reply::bulk(&word))
        .map_err(explain)?;
    let shouted = word.to_uppercase();
    client
        .command(&[b"ECHO", shouted.as_bytes()], &Reply::bulk(&shouted))
        .map_err(explain)?;
    client.expect_nothing_more()
}

fn reads_a_command_byte_by_byte(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let mut client = context.connect()?;
    let echo = resp::command(&[b"ECHO", word.as_bytes()]);
    client.send_in_pieces(&echo, &vec![1; echo.len()], Duration::from_millis(2))?;
    client.expect(&Reply::bulk(&word)).map_err(|failure| {
        failure.explain(
            "The command arrived one byte per read. A parser must tell \"not all here yet\" \
             from \"wrong\", keep the bytes, and try again after the next read.",
        )
    })?;
    client.send(&ping())?;
    client.expect(&pong())?;
    client.expect_nothing_more()
}

fn answers_pipelined_commands(context: &mut Context) -> Result<(), Failure> {
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for _ in 0..100 {
        let word = context.rng.word();
        match context.rng.between(0, 2) {
            0 => {
                bytes.extend(resp::command(&[b"ECHO", word.as_bytes()]));
                expected.push(Reply::bulk(&word));
            }
            1 => {
                bytes.extend(resp::command(&[b"PING", word.as_bytes()]));
                expected.push(Reply::bulk(&word));
            }
            _ => {
                bytes.extend(ping());
                expected.push(pong());
            }
        }
    }
    let mut client = context.connect()?;
    client.send(&bytes)?;
    client.expect_all(&expected).map_err(|failure| {
        failure.explain(
            "100 commands arrived in one write. Run every whole command in what you read, in \
             order, before reading again; the replies may go out together.",
        )
    })?;
    client.expect_nothing_more()
}

fn echoes_a_large_argument(context: &mut Context) -> Result<(), Failure> {
    let value = context.rng.bytes(1024 * 1024);
    let mut client = context.connect()?;
    client
        .command(&[b"ECHO", &value], &Reply::bulk(&value))
        .map_err(|failure| {
            failure.explain(
                "A 1 MB argument arrives over many reads: keep reading until the bulk string's \
                 declared length has arrived, then answer once.",
            )
        })?;
    client.send(&ping())?;
    client.expect(&pong())?;
    client.expect_nothing_more()
}

fn keeps_binary_arguments(context: &mut Context) -> Result<(), Failure> {
    let mut value: Vec<u8> = (0..=255).collect();
    context.rng.shuffle(&mut value);
    value.extend_from_slice(b"\r\n\0$3\r\n*1\r\n");
    let mut client = context.connect()?;
    let explain = |failure: Failure| {
        failure.explain(
            "A bulk string is binary-safe: its length says where it ends, so \\r\\n and \\0 \
             inside it are data. Read exactly <length> bytes; do not search for \\r\\n, and \
             keep bytes as bytes (not a UTF-8 String).",
        )
    };
    client
        .command(&[b"ECHO", &value], &Reply::bulk(&value))
        .map_err(explain)?;
    client
        .command(&[b"PING", &value], &Reply::bulk(&value))
        .map_err(explain)?;
    client.expect_nothing_more()
}

fn command_errors_as_redis(context: &mut Context) -> Result<(), Failure> {
    let (word, arg) = (context.rng.word(), context.rng.word());
    let unknown = context.rng.random_case(&format!("no{word}"));
    let cases: Vec<(Vec<&[u8]>, String)> = vec![
        (
            vec![unknown.as_bytes(), arg.as_bytes(), b"two"],
            format!("ERR unknown command '{unknown}', with args beginning with: '{arg}' 'two' "),
        ),
        (
            vec![unknown.as_bytes()],
            format!("ERR unknown command '{unknown}', with args beginning with: "),
        ),
        (
            vec![b"ECHO"],
            "ERR wrong number of arguments for 'echo' command".into(),
        ),
        (
            vec![b"eChO", arg.as_bytes(), b"two"],
            "ERR wrong number of arguments for 'echo' command".into(),
        ),
        (
            vec![b"PING", arg.as_bytes(), b"two"],
            "ERR wrong number of arguments for 'ping' command".into(),
        ),
    ];
    let mut client = context.connect()?;
    expect_errors(
        &mut client,
        cases
            .iter()
            .map(|(args, error)| (args, Reply::error(error))),
        "Errors are matched byte for byte with Redis's: `-<message>\\r\\n`. The unknown \
         command keeps the case it was sent in, each argument is quoted and followed by a space; \
         the command in the arity error is in lower case.",
    )?;
    client.expect_nothing_more()
}

/// An error reply that says it is a protocol error, in any words after that
/// (stage 8 checks Redis's exact words).
fn is_protocol_error(reply: &Reply) -> bool {
    matches!(reply, Reply::Error(message) if message.starts_with(b"ERR Protocol error"))
}

fn protocol_errors_close_the_connection(context: &mut Context) -> Result<(), Failure> {
    let cases: [(&[u8], &str); 3] = [
        (
            b"*1\r\n$abc\r\n",
            "the length of a bulk string is not a number",
        ),
        (
            b"*2\r\n$4\r\nECHO\r\n+foo\r\n",
            "an argument is not a bulk string ('+' where '$' is due)",
        ),
        (b"*x\r\n", "the length of the array is not a number"),
    ];
    for (bytes, what) in cases {
        let mut client = context.connect()?;
        client.send(bytes)?;
        let explain = |failure: Failure| {
            failure.explain(format!(
                "Here {what}. After bytes that are not RESP the server cannot know where the \
                 next command starts: reply `-ERR Protocol error: <why>\\r\\n`, then close the \
                 connection."
            ))
        };
        client
            .expect_matching(
                "an error reply starting with ERR Protocol error",
                is_protocol_error,
            )
            .map_err(explain)?;
        client.expect_closed().map_err(explain)?;
    }
    // The server itself goes on.
    let mut client = context.connect()?;
    client.command(&[b"PING"], &pong()).map_err(|failure| {
        failure.explain("A protocol error ends that client's connection only, never the server.")
    })
}

fn a_declared_length_is_not_allocated(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let before = context.server.memory_kib();
    let mut claimer = context.connect()?;
    // A 500 MB argument is declared, and 16 KB of it sent.
    let mut bytes = b"*2\r\n$4\r\nECHO\r\n$524288000\r\n".to_vec();
    bytes.extend(vec![b'x'; 16 * 1024]);
    claimer.send(&bytes)?;
    // And a million arguments, from another client.
    let mut counter = context.connect()?;
    counter.send(b"*1048576\r\n$4\r\nECHO\r\n")?;
    std::thread::sleep(Duration::from_millis(300));
    let mut other = context.connect()?;
    other
        .command(&[b"ECHO", word.as_bytes()], &Reply::bulk(&word))
        .map_err(|failure| {
            failure.explain(
                "Another client is in the middle of sending a huge argument. Waiting for its \
                 bytes must not stop the server from serving anyone else.",
            )
        })?;
    if let (Some(before), Some(after)) = (before, context.server.memory_kib()) {
        // Resident memory: what was touched. Virtual memory: also what was
        // only reserved. New threads (a thread per client) reserve stacks and
        // allocator arenas, a few tens of MB each: the limits leave room.
        let resident_mib = after.0.saturating_sub(before.0) / 1024;
        let virtual_mib = after.1.saturating_sub(before.1) / 1024;
        if resident_mib > 64 || virtual_mib > 400 {
            return Err(Failure::new(format!(
                "the server's memory grew by {resident_mib} MB resident and {virtual_mib} MB \
                 reserved after a client declared a 500 MB argument and another a million \
                 arguments, and they sent 16 KB"
            ))
            .detail(
                "memory",
                format!(
                    "resident {} MB before, {} MB after; reserved {} MB before, {} MB after",
                    before.0 / 1024,
                    after.0 / 1024,
                    before.1 / 1024,
                    after.1 / 1024
                ),
            )
            .hint(
                "Allocate only for bytes that have arrived, never for a length a client merely \
                 declares: a client can declare anything. Don't create or reserve a buffer of \
                 the declared size before the bytes arrive (Rust's `Vec::with_capacity(n)`, \
                 Go's `make([]byte, n)` and Python's `bytearray(n)` all do); let it grow with \
                 what is read.",
            ));
        }
    }
    // The claimer's connection is still open: it may yet send its argument.
    claimer.expect_open_and_quiet(Duration::from_millis(50))
}
