//! Stage 8: the details that make a server Redis to its clients. Errors
//! byte for byte as Redis words them (the unknown command's text cut at 128
//! bytes); protocol errors in Redis's words, then a close; Redis's limits
//! (64 KiB before a line end, 512 MB in a bulk string, 1M arguments);
//! inline commands, as typed into telnet; what client libraries send when
//! they connect, and the name a client gives itself; QUIT.

use std::time::Duration;

use super::expect_errors;
use crate::check::{Check, Context, Failure, Stage};
use crate::client::Client;
use crate::escape::escape;
use crate::resp::{self, Reply};

pub static STAGE: Stage = Stage {
    number: 8,
    name: "errors-and-limits",
    summary: "errors and limits as Redis has them; inline commands; client handshakes",
    builds_on: &[1, 2, 3, 4, 5, 6, 7],
    base: 7,
    checks: &[
        Check {
            title: "errors are worded as Redis words them: unknown commands (cut at 128 bytes), subcommands, arity, syntax",
            run: errors_as_redis,
        },
        Check {
            title: "a protocol error is answered in Redis's words, then the connection closes, and the server goes on",
            run: protocol_errors_in_redis_words,
        },
        Check {
            title: "more than 64 KiB without a line end is refused: an inline command, an array's header, a bulk string's header, a line whose end a zero byte hides",
            run: a_line_without_end_is_refused,
        },
        Check {
            title: "a bulk string longer than 512 MB is refused before its bytes arrive; 512 MB is not",
            run: a_bulk_over_512_mb_is_refused,
        },
        Check {
            title: "a command of more than 1,048,576 arguments is refused",
            run: more_than_a_million_arguments_are_refused,
        },
        Check {
            title: "answers inline commands, as typed into telnet: spaces, quotes, escapes",
            run: answers_inline_commands,
        },
        Check {
            title: "answers what client libraries send when they connect, and keeps the name a client gives itself",
            run: answers_client_handshakes,
        },
        Check {
            title: "answers CLIENT SETINFO, which client libraries send since Redis 7.2",
            run: answers_client_setinfo,
        },
        Check {
            title: "QUIT replies +OK and closes the connection",
            run: quit_closes,
        },
    ],
};

fn ok() -> Reply {
    Reply::simple("OK")
}

fn pong() -> Reply {
    Reply::simple("PONG")
}

/// Redis's error for an unknown command, built as Redis builds it: the name
/// cut at 128 bytes, then quoted arguments until the list reaches 128
/// bytes, each cut to what is left; a `\0` ends a string (C's `%s`), and
/// `\r` and `\n` become spaces.
pub fn unknown_command_error(name: &[u8], args: &[&[u8]]) -> Reply {
    fn c_string(bytes: &[u8], max: usize) -> &[u8] {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        &bytes[..end.min(max)]
    }
    let mut listed = Vec::new();
    for arg in args {
        if listed.len() >= 128 {
            break;
        }
        let budget = 128 - listed.len();
        listed.push(b'\'');
        listed.extend_from_slice(c_string(arg, budget));
        listed.extend_from_slice(b"' ");
    }
    let mut message = b"ERR unknown command '".to_vec();
    message.extend_from_slice(c_string(name, 128));
    message.extend_from_slice(b"', with args beginning with: ");
    message.extend_from_slice(&listed);
    for byte in &mut message {
        if *byte == b'\r' || *byte == b'\n' {
            *byte = b' ';
        }
    }
    Reply::Error(message)
}

fn errors_as_redis(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let long_name = format!("no{}", "x".repeat(context.rng.between(130, 200)));
    let long_arg = context.rng.word().repeat(30);
    let middle = "m".repeat(context.rng.between(20, 60));
    let nul = format!("{word}\0after");
    // Past a C `int`, which Redis reads a database index as.
    let huge_index = (2_147_483_648 + context.rng.between(0, 1 << 40)).to_string();
    let crlf = format!("line\r\n{word}");
    let unknown: [(&[u8], Vec<&[u8]>); 4] = [
        (
            long_name.as_bytes(),
            vec![middle.as_bytes(), long_arg.as_bytes(), b"never shown"],
        ),
        (b"nope", vec![nul.as_bytes(), crlf.as_bytes(), b"q'q"]),
        (b"no\0pe", vec![long_arg.as_bytes(), b"b"]),
        (b"no\r\npe", vec![]),
    ];
    let mut cases: Vec<(Vec<&[u8]>, Reply)> = unknown
        .iter()
        .map(|(name, args)| {
            let mut command = vec![*name];
            command.extend(args.iter().copied());
            (command, unknown_command_error(name, args))
        })
        .collect();
    for (args, error) in [
        (
            vec![&b"GET"[..]],
            "ERR wrong number of arguments for 'get' command",
        ),
        (
            vec![b"Set", word.as_bytes()],
            "ERR wrong number of arguments for 'set' command",
        ),
        (
            vec![b"ECHO"],
            "ERR wrong number of arguments for 'echo' command",
        ),
        (
            vec![b"ping", b"a", b"b"],
            "ERR wrong number of arguments for 'ping' command",
        ),
        (vec![b"SET", b"k", b"v", b"NOPE"], "ERR syntax error"),
        (
            vec![b"CLIENT", b"nope"],
            "ERR unknown subcommand 'nope'. Try CLIENT HELP.",
        ),
        (
            vec![b"CONFIG", b"nope"],
            "ERR unknown subcommand 'nope'. Try CONFIG HELP.",
        ),
        (
            vec![b"CLIENT", b"SETNAME"],
            "ERR wrong number of arguments for 'client|setname' command",
        ),
        (
            vec![b"client", b"getname", word.as_bytes()],
            "ERR wrong number of arguments for 'client|getname' command",
        ),
        (
            vec![b"COMMAND", b"count", word.as_bytes()],
            "ERR wrong number of arguments for 'command|count' command",
        ),
        (
            vec![b"SELECT", huge_index.as_bytes()],
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ),
    ] {
        cases.push((args, Reply::error(error)));
    }
    let mut client = context.connect()?;
    expect_errors(
        &mut client,
        cases,
        "Errors are matched byte for byte with Redis 7's. An unknown command's text has the name \
         cut at 128 bytes, then each argument quoted and followed by a space until the list \
         reaches 128 bytes, the last one cut to fit; a \\0 ends a name or an argument there \
         (Redis formats them as C strings), and \\r or \\n become spaces, so the error stays \
         one line. A subcommand's arity error names it in lower case, `client|setname`; a \
         database index that does not fit a C int (Redis reads one as an int) gets Redis's own \
         error, grammar and all.",
    )?;
    client.expect_nothing_more()
}

/// Sends `bytes` on a new connection and expects `error`, then a close.
fn expect_protocol_error(
    context: &mut Context,
    bytes: &[u8],
    error: impl AsRef<[u8]>,
    why: &str,
) -> Result<(), Failure> {
    let mut client = context.connect()?;
    client.send(bytes)?;
    let explain = |failure: Failure| {
        failure.explain(format!(
            "{why} Redis answers with the protocol error shown, then closes the connection: \
             it cannot know where the next command would start."
        ))
    };
    client
        .expect(&Reply::Error(error.as_ref().to_vec()))
        .map_err(explain)?;
    client.expect_closed().map_err(explain)
}

/// After the connections that broke, a new client is served.
fn server_goes_on(context: &mut Context) -> Result<(), Failure> {
    let mut client = context.connect()?;
    client.command(&[b"PING"], &pong()).map_err(|failure| {
        failure.explain("A protocol error ends that client's connection only, never the server.")
    })
}

fn protocol_errors_in_redis_words(context: &mut Context) -> Result<(), Failure> {
    let cases: [(&[u8], &str, &str); 6] = [
        (
            b"*1\r\n$abc\r\n",
            "ERR Protocol error: invalid bulk length",
            "A bulk string's length is not a number.",
        ),
        (
            b"*1\r\n$-1\r\n",
            "ERR Protocol error: invalid bulk length",
            "A null bulk string is a reply, never an argument.",
        ),
        (
            b"*2\r\n$3\r\nGET\r\n+foo\r\n",
            "ERR Protocol error: expected '$', got '+'",
            "An argument is not a bulk string.",
        ),
        (
            b"*x\r\n",
            "ERR Protocol error: invalid multibulk length",
            "An array's length is not a number.",
        ),
        (
            b"SET k \"abc\r\n",
            "ERR Protocol error: unbalanced quotes in request",
            "An inline command opens a quote and never closes it.",
        ),
        (
            b"SET k \"a\"b\r\n",
            "ERR Protocol error: unbalanced quotes in request",
            "In an inline command, a closing quote must be followed by a space or the end.",
        ),
    ];
    for (bytes, error, why) in cases {
        expect_protocol_error(context, bytes, error, why)?;
    }
    let byte = context.rng.between(0x80, 0xff) as u8;
    expect_protocol_error(
        context,
        &[&b"*2\r\n$3\r\nGET\r\n"[..], &[byte], b"foo\r\n"].concat(),
        [
            &b"ERR Protocol error: expected '$', got '"[..],
            &[byte],
            b"'",
        ]
        .concat(),
        "An argument is not a bulk string. The error quotes the byte that came as that one \
         byte, even one of 0x80 or more, which is not UTF-8 on its own: Redis prints it with C's \
         %c, a byte, not a character.",
    )?;
    server_goes_on(context)
}

fn a_line_without_end_is_refused(context: &mut Context) -> Result<(), Failure> {
    let length = context.rng.between(65_537, 80_000);
    context.title(format!(
        "more than 64 KiB without a line end is refused: an inline command, an array's header, \
         a bulk string's header, a line whose end a zero byte hides ({length} bytes each)"
    ));
    let inline = vec![b'A'; length];
    let mut header = b"*".to_vec();
    header.extend(vec![b'1'; length - 1]);
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(vec![b'1'; length - 5]);
    let why = format!(
        "{length} bytes arrived without a line end. Redis gives up on a line after 64 KiB \
         (65,536 bytes), so a client that never sends one cannot fill the server's memory."
    );
    let cases: [(&[u8], &str); 3] = [
        (&inline, "ERR Protocol error: too big inline request"),
        (&header, "ERR Protocol error: too big mbulk count string"),
        (&bulk, "ERR Protocol error: too big bulk count string"),
    ];
    for (bytes, error) in cases {
        expect_protocol_error(context, bytes, error, &why)?;
    }
    // Redis looks for a line end with C's `strchr`, which stops at a zero
    // byte: a line with one before its end has not ended, however many
    // lines follow.
    let word = context.rng.word();
    let mut client = context.connect()?;
    let explain = |failure: Failure| {
        failure.explain(
            "An inline command holds a zero byte before its line end. Redis looks for the line \
             end with C's strchr, which stops at a zero byte: to Redis the line has not ended, \
             so nothing is answered, and once more than 64 KiB wait without a line end it \
             answers `too big inline request` and closes.",
        )
    };
    client.send(format!("ECHO {word}\0{word}\r\nPING\r\n").as_bytes())?;
    client
        .expect_open_and_quiet(Duration::from_millis(300))
        .map_err(explain)?;
    client.send(&vec![b'A'; length])?;
    client
        .expect(&Reply::error("ERR Protocol error: too big inline request"))
        .map_err(explain)?;
    client.expect_closed().map_err(explain)?;
    server_goes_on(context)
}

fn a_bulk_over_512_mb_is_refused(context: &mut Context) -> Result<(), Failure> {
    expect_protocol_error(
        context,
        b"*2\r\n$4\r\nECHO\r\n$536870913\r\n",
        "ERR Protocol error: invalid bulk length",
        "The bulk string declares 536,870,913 bytes, one more than Redis's limit of 512 MB \
         (`proto-max-bulk-len`): refuse it as soon as its length is read.",
    )?;
    // 512 MB exactly is allowed: the server waits for the bytes.
    let mut client = context.connect()?;
    client.send(b"*2\r\n$4\r\nECHO\r\n$536870912\r\nsome of it")?;
    client
        .expect_open_and_quiet(Duration::from_millis(300))
        .map_err(|failure| {
            failure.explain(
                "536,870,912 bytes (512 MB) is within the limit: wait for them (without \
                 reserving room for them).",
            )
        })?;
    server_goes_on(context)
}

fn more_than_a_million_arguments_are_refused(context: &mut Context) -> Result<(), Failure> {
    expect_protocol_error(
        context,
        b"*1048577\r\n$4\r\nECHO\r\n",
        "ERR Protocol error: invalid multibulk length",
        "The array declares 1,048,577 arguments, one more than the limit of 1,048,576 (Redis \
         6's): refuse it as soon as its length is read.",
    )?;
    server_goes_on(context)
}

fn answers_inline_commands(context: &mut Context) -> Result<(), Failure> {
    let (key, word) = (context.rng.word(), context.rng.word());
    let mut client = context.connect()?;
    let explain = |failure: Failure| {
        failure.explain(
            "A line that does not start with '*' is an inline command: words separated by \
             spaces, ending in \\r\\n or \\n. \"Double quotes\" hold spaces and escapes (\\n, \
             \\x41); 'single quotes' hold spaces and \\'. An empty line is skipped.",
        )
    };
    let cases: Vec<(Vec<u8>, Reply)> = vec![
        (b"PING\r\n".to_vec(), pong()),
        (b"\r\n\nping\n".to_vec(), pong()),
        (format!("SET {key} \"hello {word}\"\r\n").into_bytes(), ok()),
        (
            format!("GET {key}\n").into_bytes(),
            Reply::bulk(format!("hello {word}")),
        ),
        (
            format!("echo   {word}  \r\n").into_bytes(),
            Reply::bulk(&word),
        ),
        (
            format!("ECHO \"a\\x41\\n{word}\"\r\n").into_bytes(),
            Reply::bulk(format!("aA\n{word}")),
        ),
        (
            format!("ECHO 'it\\'s {word}'\r\n").into_bytes(),
            Reply::bulk(format!("it's {word}")),
        ),
        (b"ECHO \"\"\r\n".to_vec(), Reply::bulk("")),
    ];
    for (line, expected) in cases {
        client.send(&line)?;
        client.expect(&expected).map_err(explain)?;
    }
    // Inline and RESP commands mix on one connection.
    client
        .command(&[b"ECHO", word.as_bytes()], &Reply::bulk(&word))
        .map_err(explain)?;
    client.expect_nothing_more()
}

fn answers_client_handshakes(context: &mut Context) -> Result<(), Failure> {
    let mut client = context.connect()?;
    let explain = |failure: Failure| {
        failure.explain(
            "redis-cli, redis-benchmark, redis-py and the `redis` crate send these when they \
             connect. Answer as Redis does: CLIENT SETNAME and SELECT 0 with +OK, CLIENT GETNAME \
             with the name this connection was given (nil before, or after an empty name), \
             COMMAND DOCS with an array, COMMAND COUNT with an integer, CONFIG GET with each \
             name it knows once, spelled as asked, and its value.",
        )
    };
    let name = context.rng.word();
    client
        .command(&[b"CLIENT", b"GETNAME"], &Reply::NullBulk)
        .map_err(explain)?;
    for (args, expected) in [
        (vec![&b"CLIENT"[..], b"SETNAME", name.as_bytes()], ok()),
        (vec![b"client", b"getname"], Reply::bulk(&name)),
        (vec![b"SELECT", b"0"], ok()),
        (
            vec![b"CONFIG", b"GET", b"appendonly"],
            Reply::Array(vec![Reply::bulk("appendonly"), Reply::bulk("no")]),
        ),
        (
            vec![b"CONFIG", b"GET", b"save"],
            Reply::Array(vec![Reply::bulk("save"), Reply::bulk("")]),
        ),
    ] {
        client.command(&args, &expected).map_err(explain)?;
    }
    // Each name once, spelled as first asked; in any order, as Redis's is
    // its hash table's, which changes from run to run.
    let (save, appendonly) = (
        context.rng.random_case("save"),
        context.rng.random_case("appendonly"),
    );
    let (save_pair, appendonly_pair) = (
        [Reply::bulk(&save), Reply::bulk("")],
        [Reply::bulk(&appendonly), Reply::bulk("no")],
    );
    let either_order = [
        Reply::Array([save_pair.clone(), appendonly_pair.clone()].concat()),
        Reply::Array([appendonly_pair, save_pair].concat()),
    ];
    let asked: [&[u8]; 6] = [
        b"CONFIG",
        b"GET",
        save.as_bytes(),
        appendonly.as_bytes(),
        b"SAVE",
        b"nope",
    ];
    client.send(&resp::command(&asked))?;
    let reply = client
        .expect_matching("an array", |reply: &Reply| matches!(reply, Reply::Array(_)))
        .map_err(explain)?;
    if !either_order.contains(&reply) {
        let sent: Vec<String> = asked.iter().map(|arg| escape(arg)).collect();
        return Err(Failure::new(format!(
            "wrong reply: expected {} (or its two pairs the other way round), got {}",
            either_order[0].describe(),
            reply.describe()
        ))
        .detail("sent", sent.join(" "))
        .explain(
            "CONFIG GET answers each parameter it knows once, named as it was first asked \
             (`SAVE` gets `SAVE`), followed by its value; one it does not know is left out.",
        ));
    }
    client.send(&resp::command(&[b"COMMAND", b"DOCS"]))?;
    client
        .expect_matching("an array", |reply: &Reply| matches!(reply, Reply::Array(_)))
        .map_err(explain)?;
    client.send(&resp::command(&[b"COMMAND", b"COUNT"]))?;
    client
        .expect_matching(
            "an integer",
            |reply: &Reply| matches!(reply, Reply::Integer(n) if *n >= 0),
        )
        .map_err(explain)?;
    // The name is this connection's, not the server's.
    let mut other = context.connect()?;
    other
        .command(&[b"CLIENT", b"GETNAME"], &Reply::NullBulk)
        .map_err(|failure| {
            failure.explain(
                "A new connection has no name: the name CLIENT SETNAME gives belongs to the \
                 connection that sent it.",
            )
        })?;
    // A name with a space, or any byte outside `!` to `~`, is refused and
    // leaves the name as it was; an empty one clears it.
    let refused = format!("{name} {}", context.rng.word());
    client
        .command(
            &[b"CLIENT", b"SETNAME", refused.as_bytes()],
            &Reply::error(
                "ERR Client names cannot contain spaces, newlines or special characters.",
            ),
        )
        .map_err(|failure| {
            failure.explain(
                "A client's name is one word of printable ASCII (bytes `!` to `~`), as Redis \
                 wants it: it shows in CLIENT LIST, one client a line, fields split at spaces.",
            )
        })?;
    for (args, expected) in [
        (vec![&b"CLIENT"[..], b"GETNAME"], Reply::bulk(&name)),
        (vec![b"CLIENT", b"SETNAME", b""], ok()),
        (vec![b"CLIENT", b"GETNAME"], Reply::NullBulk),
    ] {
        client.command(&args, &expected).map_err(|failure| {
            failure.explain(
                "A refused name leaves the name as it was; an empty name clears it, and \
                 CLIENT GETNAME answers nil again.",
            )
        })?;
    }
    client.command(&[b"PING"], &pong())?;
    client.expect_nothing_more()?;
    other.expect_nothing_more()
}

fn answers_client_setinfo(context: &mut Context) -> Result<(), Failure> {
    let mut client = context.connect()?;
    for args in [
        vec![&b"CLIENT"[..], b"SETINFO", b"LIB-NAME", b"course-tester"],
        vec![b"client", b"setinfo", b"LIB-VER", b"1.0.0"],
    ] {
        client.command(&args, &ok()).map_err(|failure| {
            failure.explain(
                "redis-py, the `redis` crate and other client libraries name themselves with \
                 CLIENT SETINFO when they connect. Answer +OK, as Redis 7.2 does (the command \
                 is newer than Redis 7.0).",
            )
        })?;
    }
    client.command(&[b"PING"], &pong())?;
    client.expect_nothing_more()
}

fn quit_closes(context: &mut Context) -> Result<(), Failure> {
    let mut client: Client = context.connect()?;
    client.send(&[resp::command(&[b"QUIT"]), resp::command(&[b"PING"])].concat())?;
    client.expect(&ok())?;
    client.expect_closed().map_err(|failure| {
        failure
            .explain("QUIT: reply +OK, then close the connection; commands after it are not run.")
    })?;
    // Inline too, as typed into telnet.
    let mut client = context.connect()?;
    client.send(b"quit\r\n")?;
    client.expect(&ok())?;
    client.expect_closed()
}
