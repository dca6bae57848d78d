//! Stage 8: a chat server for nc and telnet, after antirez's smallchat,
//! done right. Plain text lines; the exact lines are the spec:
//! chat `NICK> text`, notices `* ...`, errors `! ...` (see the chapter).

use std::time::Duration;

use crate::check::{Check, Context, Failure, Stage};
use crate::client::Client;
use crate::lines::Line;

pub static STAGE: Stage = Stage {
    number: 12,
    name: "chat-server",
    summary: "a chat server with fanout, nicks, presence, private messages and history",
    // A chat server greets every client at once: stage 1's "quiet" check
    // does not apply, and the RESP stages' checks do not either.
    builds_on: &[],
    base: 11,
    checks: &[
        Check {
            title: "greets a new client with the welcome line and its default nick",
            run: welcomes,
        },
        Check {
            title: "a line reaches every other client as \"nick> text\", and not the sender",
            run: fans_out,
        },
        Check {
            title: "others see \"* nick joined\" and \"* nick left\"; /quit says \"* bye\" and closes",
            run: joins_and_leaves,
        },
        Check {
            title: "/nick: unique, 1-32 printable characters, no spaces; others see the change",
            run: nicks,
        },
        Check {
            title: "/who lists who is online, sorted, and forgets who left",
            run: who,
        },
        Check {
            title: "/msg reaches its recipient only",
            run: private_messages,
        },
        Check {
            title: "/me, /help, and an error line for an unknown command",
            run: me_help_unknown,
        },
        Check {
            title: "a newcomer receives the last 20 chat messages",
            run: history,
        },
        Check {
            title: "lines split byte by byte, several in one write, \\r\\n: each delivered whole",
            run: framing,
        },
        Check {
            title: "a line over 4096 bytes is refused with an error, not cut, and the connection lives",
            run: long_lines,
        },
        Check {
            title: "control characters and escape sequences are stripped from messages and nicks",
            run: strips_control_characters,
        },
        Check {
            title: "a client that never reads does not stop the others, and is dropped",
            run: slow_consumer,
        },
        Check {
            title: "1,000 clients connected at once all receive a message",
            run: a_thousand_clients,
        },
    ],
};

fn line(text: impl AsRef<[u8]>) -> Line {
    Line::new(text)
}

/// Whether a line is the welcome, as the spec words it.
fn is_welcome(line: &Line) -> bool {
    let text = line.text();
    text.starts_with("Welcome, user")
        && text.ends_with("! Set your name with /nick NAME; /help lists the commands.")
}

/// Connects a client and reads its welcome: the client and its nick.
fn join(context: &mut Context) -> Result<(Client, String), Failure> {
    let mut client = context.connect()?;
    let welcome = client
        .expect_such("the welcome line \"Welcome, user<N>! Set your name with /nick NAME; /help lists the commands.\"", is_welcome)
        .map_err(|failure| {
            failure.explain(
                "On connect, the server first sends exactly: Welcome, user<N>! Set your name with \
                 /nick NAME; /help lists the commands.",
            )
        })?;
    let text = welcome.text();
    let nick = text["Welcome, ".len()..text.find('!').unwrap_or(text.len())].to_string();
    Ok((client, nick))
}

/// Joins `count` clients; each earlier one reads the later ones' join
/// notices, so that every client starts with nothing unread.
fn join_all(context: &mut Context, count: usize) -> Result<Vec<(Client, String)>, Failure> {
    let mut joined: Vec<(Client, String)> = Vec::new();
    for _ in 0..count {
        let (client, nick) = join(context)?;
        for (earlier, _) in &mut joined {
            earlier
                .expect(&line(format!("* {nick} joined")))
                .map_err(|failure| {
                    failure.explain("Everyone already connected is told: * NICK joined")
                })?;
        }
        joined.push((client, nick));
    }
    Ok(joined)
}

/// Sends a line (with its `\n`).
fn say(client: &mut Client, text: &str) -> Result<(), Failure> {
    client.send(format!("{text}\n").as_bytes())
}

fn welcomes(context: &mut Context) -> Result<(), Failure> {
    let (mut client, nick) = join(context)?;
    context.title(format!(
        "greets a new client with the welcome line and its default nick ({nick})"
    ));
    client.expect_nothing_more()
}

fn fans_out(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let mut clients = join_all(context, 3)?;
    let sender = clients[0].1.clone();
    say(&mut clients[0].0, &format!("hello {word}"))?;
    for (client, _) in &mut clients[1..] {
        client
            .expect(&line(format!("{sender}> hello {word}")))
            .map_err(|failure| {
                failure.explain("Every other client receives the line as NICK> text.")
            })?;
    }
    clients[0]
        .0
        .expect_nothing_more()
        .map_err(|failure| failure.explain("The sender does not receive its own line back."))?;
    for (client, _) in &mut clients[1..] {
        client.expect_nothing_more()?;
    }
    Ok(())
}

fn joins_and_leaves(context: &mut Context) -> Result<(), Failure> {
    let mut clients = join_all(context, 3)?;
    let (mut leaving, leaving_nick) = clients.pop().ok_or_else(|| Failure::new("no client"))?;
    say(&mut leaving, "/quit")?;
    leaving.expect(&line("* bye"))?;
    leaving.expect_closed()?;
    for (client, _) in &mut clients {
        client.expect(&line(format!("* {leaving_nick} left")))?;
    }
    // Leaving without /quit: the connection just closes.
    let (dropped, dropped_nick) = clients.pop().ok_or_else(|| Failure::new("no client"))?;
    drop(dropped);
    clients[0]
        .0
        .expect(&line(format!("* {dropped_nick} left")))
        .map_err(|failure| {
            failure.explain("A client that closes its connection has left too: tell the others.")
        })?;
    clients[0].0.expect_nothing_more()
}

fn nicks(context: &mut Context) -> Result<(), Failure> {
    let new = context.rng.word();
    let mut clients = join_all(context, 2)?;
    let old = clients[0].1.clone();
    say(&mut clients[0].0, &format!("/nick {new}"))?;
    clients[0].0.expect(&line(format!("* you are now {new}")))?;
    clients[1]
        .0
        .expect(&line(format!("* {old} is now {new}")))?;
    let invalid = "! a nick is 1-32 printable characters, without spaces";
    let other = &mut clients[1].0;
    for (attempt, reply) in [
        (format!("/nick {new}"), format!("! the nick {new} is taken")),
        ("/nick two words".to_string(), invalid.to_string()),
        (format!("/nick {}", "n".repeat(33)), invalid.to_string()),
        ("/nick".to_string(), invalid.to_string()),
    ] {
        say(other, &attempt)?;
        other
            .expect(&line(&reply))
            .map_err(|failure| failure.explain(format!("`{attempt}` must be refused: {reply}")))?;
    }
    // 32 characters is allowed, and a message then carries the new nick.
    let longest = "n".repeat(32);
    let other_old = clients[1].1.clone();
    say(&mut clients[1].0, &format!("/nick {longest}"))?;
    clients[1]
        .0
        .expect(&line(format!("* you are now {longest}")))?;
    clients[0]
        .0
        .expect(&line(format!("* {other_old} is now {longest}")))?;
    say(&mut clients[1].0, "hi")?;
    clients[0].0.expect(&line(format!("{longest}> hi")))?;
    clients[0].0.expect_nothing_more()
}

/// Renames each client to a random nick; everyone reads the notices.
fn rename_all(context: &mut Context, clients: &mut [(Client, String)]) -> Result<(), Failure> {
    for i in 0..clients.len() {
        let new = format!("{}{i}", context.rng.word());
        let old = std::mem::replace(&mut clients[i].1, new.clone());
        say(&mut clients[i].0, &format!("/nick {new}"))?;
        clients[i].0.expect(&line(format!("* you are now {new}")))?;
        for (j, (client, _)) in clients.iter_mut().enumerate() {
            if j != i {
                client.expect(&line(format!("* {old} is now {new}")))?;
            }
        }
    }
    Ok(())
}

fn who(context: &mut Context) -> Result<(), Failure> {
    let mut clients = join_all(context, 3)?;
    rename_all(context, &mut clients)?;
    let mut names: Vec<String> = clients.iter().map(|(_, nick)| nick.clone()).collect();
    names.sort();
    say(&mut clients[0].0, "/who")?;
    clients[0]
        .0
        .expect(&line(format!("* online (3): {}", names.join(", "))))
        .map_err(|failure| {
            failure.explain("/who: * online (N): nicks sorted, separated by \", \"")
        })?;
    let (leaving, leaving_nick) = clients.pop().ok_or_else(|| Failure::new("no client"))?;
    drop(leaving);
    for (client, _) in &mut clients {
        client.expect(&line(format!("* {leaving_nick} left")))?;
    }
    names.retain(|name| *name != leaving_nick);
    say(&mut clients[0].0, "/who")?;
    clients[0]
        .0
        .expect(&line(format!("* online (2): {}", names.join(", "))))
        .map_err(|failure| {
            failure.explain(
                "A client that left must be gone from /who at once: clean up on disconnect.",
            )
        })
}

fn private_messages(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let mut clients = join_all(context, 3)?;
    let (sender, recipient) = (clients[0].1.clone(), clients[1].1.clone());
    say(&mut clients[0].0, &format!("/msg {recipient} psst {word}"))?;
    clients[1]
        .0
        .expect(&line(format!("{sender} (private)> psst {word}")))
        .map_err(|failure| {
            failure.explain("/msg NAME text: NAME alone receives SENDER (private)> text")
        })?;
    clients[2]
        .0
        .expect_nothing_more()
        .map_err(|failure| failure.explain("A private message must reach its recipient only."))?;
    say(&mut clients[0].0, "/msg nobody-here hi")?;
    clients[0]
        .0
        .expect(&line("! no one is called nobody-here"))?;
    say(&mut clients[0].0, &format!("/msg {recipient}"))?;
    clients[0].0.expect(&line("! usage: /msg NAME text"))?;
    clients[0].0.expect_nothing_more()
}

fn me_help_unknown(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let mut clients = join_all(context, 2)?;
    let nick = clients[0].1.clone();
    say(&mut clients[0].0, &format!("/me waves {word}"))?;
    clients[1]
        .0
        .expect(&line(format!("* {nick} waves {word}")))?;
    say(&mut clients[0].0, "/help")?;
    clients[0].0.expect_all(&[
        line("* commands:"),
        line("*   /nick NAME      change your name"),
        line("*   /who            who is online"),
        line("*   /msg NAME text  a private message"),
        line("*   /me action      an action: * you wave"),
        line("*   /help           this list"),
        line("*   /quit           leave"),
    ])?;
    for (command, word) in [("/dance", "dance"), ("/NICK x", "NICK")] {
        say(&mut clients[0].0, command)?;
        clients[0]
            .0
            .expect(&line(format!(
                "! unknown command /{word}: /help lists the commands"
            )))
            .map_err(|failure| {
                failure.explain("Commands are lower case; anything else is unknown.")
            })?;
    }
    clients[0].0.expect_nothing_more()?;
    clients[1].0.expect_nothing_more()
}

fn history(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let (mut talker, nick) = join(context)?;
    let mut expected = Vec::new();
    for i in 0..25 {
        if i == 24 {
            say(&mut talker, &format!("/me leaves a note {word}"))?;
            expected.push(line(format!("* {nick} leaves a note {word}")));
        } else {
            say(&mut talker, &format!("m{i} {word}"))?;
            expected.push(line(format!("{nick}> m{i} {word}")));
        }
    }
    // A reply to /who means every earlier line was handled.
    say(&mut talker, "/who")?;
    talker.expect(&line(format!("* online (1): {nick}")))?;
    let (mut newcomer, _) = join(context)?;
    newcomer.expect_all(&expected[5..]).map_err(|failure| {
        failure.explain(
            "After the welcome, a newcomer receives the last 20 chat messages (and /me actions), \
             oldest first, as they were delivered.",
        )
    })?;
    newcomer.expect_nothing_more()
}

fn framing(context: &mut Context) -> Result<(), Failure> {
    let mut clients = join_all(context, 2)?;
    let nick = clients[0].1.clone();
    let (sender, receiver) = clients.split_at_mut(1);
    let (sender, receiver) = (&mut sender[0].0, &mut receiver[0].0);
    let explain = |failure: Failure| {
        failure.explain(
            "Reads deliver bytes, not lines: keep a buffer, and cut lines at each \\n (dropping \
             a \\r before it).",
        )
    };
    sender.send_in_pieces(b"byte by byte\n", &[1; 13], Duration::from_millis(2))?;
    receiver
        .expect(&line(format!("{nick}> byte by byte")))
        .map_err(explain)?;
    sender.send(b"one\ntwo\r\n\nthree\n")?;
    receiver
        .expect_all(&[
            line(format!("{nick}> one")),
            line(format!("{nick}> two")),
            line(format!("{nick}> three")),
        ])
        .map_err(explain)?;
    sender.send("héllo wörld ✓\r\n".as_bytes())?;
    receiver
        .expect(&line(format!("{nick}> héllo wörld ✓")))
        .map_err(explain)?;
    receiver.expect_nothing_more()
}

fn long_lines(context: &mut Context) -> Result<(), Failure> {
    let mut clients = join_all(context, 2)?;
    let nick = clients[0].1.clone();
    let (sender, receiver) = clients.split_at_mut(1);
    let (sender, receiver) = (&mut sender[0].0, &mut receiver[0].0);
    let longest = "x".repeat(4096);
    say(sender, &longest)?;
    receiver
        .expect(&line(format!("{nick}> {longest}")))
        .map_err(|failure| {
            failure.explain("A line of exactly 4096 bytes (before its \\n) is allowed.")
        })?;
    // 10,000 bytes, arriving in pieces, then a good line.
    let too_long = format!("{}\n", "y".repeat(10_000));
    sender.send_in_pieces(
        too_long.as_bytes(),
        &[3000, 3000, 3000, 1001],
        Duration::from_millis(5),
    )?;
    sender
        .expect(&line("! line too long (over 4096 bytes): not sent"))
        .map_err(|failure| {
            failure.explain(
                "Refuse an over-long line with an error line; do not cut it and send a part.",
            )
        })?;
    say(sender, "after")?;
    receiver
        .expect(&line(format!("{nick}> after")))
        .map_err(|failure| {
            failure.explain(
                "Nothing of the long line may be delivered, and the next line must arrive whole: \
             discard up to the long line's own \\n.",
            )
        })?;
    sender.expect_nothing_more()?;
    receiver.expect_nothing_more()
}

fn strips_control_characters(context: &mut Context) -> Result<(), Failure> {
    let mut clients = join_all(context, 2)?;
    let old = clients[0].1.clone();
    let (sender, receiver) = clients.split_at_mut(1);
    let (sender, receiver) = (&mut sender[0].0, &mut receiver[0].0);
    let explain = |failure: Failure| {
        failure.explain(
            "Strip bytes below 0x20 and 0x7f, and whole escape sequences (ESC [ ... final byte, \
             ESC ] ... BEL): otherwise a client could clear or repaint everyone's terminal.",
        )
    };
    sender.send(b"/nick ev\x1b[2Jil\x07\n")?;
    sender
        .expect(&line("* you are now evil"))
        .map_err(explain)?;
    receiver
        .expect(&line(format!("* {old} is now evil")))
        .map_err(explain)?;
    sender.send(b"\x1b[31mred\x1b[0m \x1b]0;title\x07bell\x07 tab\there\x7f\n")?;
    receiver
        .expect(&line("evil> red bell tabhere"))
        .map_err(explain)?;
    receiver.expect_nothing_more()
}

fn slow_consumer(context: &mut Context) -> Result<(), Failure> {
    let mut clients = join_all(context, 3)?;
    // Client 3 never reads from here on.
    let (slow, slow_nick) = clients.pop().ok_or_else(|| Failure::new("no client"))?;
    let nick = clients[0].1.clone();
    let before = context.server.memory_kib();
    let filler = "z".repeat(3_900);
    let mut left_seen = false;
    // 2,000 lines of 3.9 KB: 8 MB, far more than the kernel's socket buffers
    // hold for the client that does not read. Sent 100 at a time, and read
    // by the other client between batches.
    for batch in 0..20 {
        let bytes: String = (0..100)
            .map(|i| format!("{:04} {filler}\n", batch * 100 + i))
            .collect();
        clients[0].0.send(bytes.as_bytes())?;
        for i in 0..100 {
            let expected = line(format!("{nick}> {:04} {filler}", batch * 100 + i));
            loop {
                let got = clients[1]
                    .0
                    .expect_such("the next chat line", |_: &Line| true)
                    .map_err(|failure| {
                        failure.explain(
                            "Another client has stopped reading. Its messages must wait in its \
                             own queue, never hold up delivery to the others.",
                        )
                    })?;
                if !left_seen && got == line(format!("* {slow_nick} left")) {
                    left_seen = true;
                    continue;
                }
                if got != expected {
                    return Err(Failure::new(format!(
                        "expected message {:04} in order, got {}",
                        batch * 100 + i,
                        crate::frame::Frame::describe(&got)
                    ))
                    .hint(
                        "One client's lines must reach each other client whole, once, and in the \
                         order they were sent, even while a third client is not reading.",
                    ));
                }
                break;
            }
        }
    }
    drop(slow);
    if !left_seen {
        // It may be dropped only now, or have been let go when it closed.
        clients[1]
            .0
            .expect(&line(format!("* {slow_nick} left")))
            .map_err(|failure| {
                failure.explain(
                    "A client that does not read while 8 MB pile up for it must be disconnected \
                     (its queue is bounded: 256 KiB), and the others told it left.",
                )
            })?;
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
    Ok(())
}

fn a_thousand_clients(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let mut clients = Vec::with_capacity(1000);
    for _ in 0..1000 {
        clients.push(join(context)?);
    }
    let sender = clients[0].1.clone();
    let expected = line(format!("{sender}> hello all {word}"));
    say(&mut clients[0].0, &format!("hello all {word}"))?;
    for (client, _) in &mut clients[1..] {
        // First the join notices of the clients that came after this one.
        loop {
            let got = client
                .expect_such("a line", |_: &Line| true)
                .map_err(|failure| {
                    failure.explain(
                        "With 1,000 clients connected, every one must still receive the message.",
                    )
                })?;
            if got == expected {
                break;
            }
            if !(got.0.starts_with(b"* ") && got.0.ends_with(b" joined")) {
                return Err(Failure::new(format!(
                    "expected join notices, then {}; got {}",
                    crate::frame::Frame::describe(&expected),
                    crate::frame::Frame::describe(&got)
                )));
            }
        }
    }
    Ok(())
}
