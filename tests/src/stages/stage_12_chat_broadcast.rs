//! Stage 12: a chat server for nc and telnet, after antirez's smallchat,
//! done right. Plain text lines; the exact lines are the spec: chat
//! `NICK> text`, notices `* ...`, errors `! ...` (see the chapter).

use std::time::{Duration, Instant};

use super::chat::{expect_line, is_presence_notice, join, join_named, line, send_line};
use super::stage_04_concurrent_clients::expect_clean_exit;
use crate::check::{Check, Context, Failure, Stage};
use crate::lines::Line;

pub static STAGE: Stage = Stage {
    number: 12,
    name: "chat-broadcast",
    summary: "a chat server: every line to every other client, with nicks",
    // A chat server greets every client at once, so stage 1's check of a
    // connection kept open quietly does not apply, and it speaks neither
    // RESP nor stage 11's protocol: it builds on no earlier checks.
    builds_on: &[],
    base: 4,
    checks: &[
        Check {
            title: "greets each new client with \"Welcome, userN!\": a default nick of its own",
            run: welcomes,
        },
        Check {
            title: "a line reaches every other client as \"nick> text\", and not the sender",
            run: fans_out,
        },
        Check {
            title: "/nick: unique, 1-32 printable characters, no spaces; others see the change",
            run: nicks,
        },
        Check {
            title: "a client that leaves is forgotten: its nick is free, and the others go on",
            run: leaving,
        },
        Check {
            title: "lines split byte by byte, several in one write, \\r\\n: each delivered whole",
            run: framing,
        },
        Check {
            title: "a line over 4096 bytes (even 10 MB) is refused with an error, not cut, and the connection lives",
            run: long_lines,
        },
        Check {
            title: "control characters and escape sequences are stripped, invalid UTF-8 replaced",
            run: strips_control_characters,
        },
        Check {
            title: "on SIGTERM: every client gets what was sent to it, then \"* server shutting down\", then the close; exit status 0",
            run: shuts_down_on_sigterm,
        },
        Check {
            title: "/nick refuses characters that draw nothing (Unicode's format and ignorable classes)",
            run: invisible_nicks,
        },
    ],
};

fn welcomes(context: &mut Context) -> Result<(), Failure> {
    let (first, first_nick) = join(context)?;
    let (mut second, second_nick) = join(context)?;
    context.title(format!(
        "greets each new client with \"Welcome, userN!\": a default nick of its own \
         ({first_nick}, {second_nick})"
    ));
    if first_nick == second_nick {
        return Err(Failure::new(format!(
            "two clients connected at the same time were both welcomed as {first_nick}"
        ))
        .hint("Number the connections (user1, user2, ...) and never reuse a number."));
    }
    // The first stays: on a server that tells who leaves, the second
    // would hear it. (The first may hear that the second joined.)
    second.expect_nothing_more()?;
    drop(first);
    Ok(())
}

fn fans_out(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let mut clients = join_named(context, 3)?;
    let sender = clients[0].1.clone();
    send_line(&mut clients[0].0, &format!("hello {word}"))?;
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

fn nicks(context: &mut Context) -> Result<(), Failure> {
    let mut clients = join_named(context, 2)?;
    let new = format!("{}x", context.rng.word());
    let old = clients[0].1.clone();
    send_line(&mut clients[0].0, &format!("/nick {new}"))?;
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
        send_line(other, &attempt)?;
        other
            .expect(&line(&reply))
            .map_err(|failure| failure.explain(format!("`{attempt}` must be refused: {reply}")))?;
    }
    // 32 characters is allowed, and a message then carries the new nick.
    let longest = "n".repeat(32);
    let other_old = clients[1].1.clone();
    send_line(&mut clients[1].0, &format!("/nick {longest}"))?;
    clients[1]
        .0
        .expect(&line(format!("* you are now {longest}")))?;
    clients[0]
        .0
        .expect(&line(format!("* {other_old} is now {longest}")))?;
    send_line(&mut clients[1].0, "hi")?;
    clients[0].0.expect(&line(format!("{longest}> hi")))?;
    clients[0].0.expect_nothing_more()?;
    clients[1].0.expect_nothing_more()
}

fn leaving(context: &mut Context) -> Result<(), Failure> {
    let mut clients = join_named(context, 3)?;
    let (gone, gone_nick) = clients.pop().ok_or_else(|| Failure::new("no client"))?;
    drop(gone);
    // The server learns of it when it reads the end of the connection:
    // ask for the nick until it is free, for 2 s at most.
    let renamed = clients[1].1.clone();
    let deadline = Instant::now() + Duration::from_secs(2);
    let taken = line(format!("! the nick {gone_nick} is taken"));
    loop {
        send_line(&mut clients[1].0, &format!("/nick {gone_nick}"))?;
        let reply = loop {
            let got = clients[1]
                .0
                .expect_matching("the reply to /nick", |_: &Line| true)?;
            if !is_presence_notice(&got) {
                break got;
            }
        };
        if reply == line(format!("* you are now {gone_nick}")) {
            break;
        }
        if reply != taken || Instant::now() > deadline {
            return Err(Failure::new(format!(
                "after {gone_nick} closed its connection, `/nick {gone_nick}` got {}",
                crate::frame::Frame::describe(&reply)
            ))
            .hint(
                "A client that closes its connection has left: remove it from the chat, and \
                 its nick is free.",
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    expect_line(
        &mut clients[0].0,
        &line(format!("* {renamed} is now {gone_nick}")),
    )?;
    // And the chat goes on for the others.
    let sender = clients[0].1.clone();
    send_line(&mut clients[0].0, "still here")?;
    clients[1]
        .0
        .expect(&line(format!("{sender}> still here")))
        .map_err(|failure| {
            failure.explain("A client that left must not stop the chat for the others.")
        })?;
    clients[0].0.expect_nothing_more()?;
    clients[1].0.expect_nothing_more()
}

fn framing(context: &mut Context) -> Result<(), Failure> {
    let mut clients = join_named(context, 2)?;
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
    let mut clients = join_named(context, 2)?;
    let nick = clients[0].1.clone();
    let (sender, receiver) = clients.split_at_mut(1);
    let (sender, receiver) = (&mut sender[0].0, &mut receiver[0].0);
    let longest = "x".repeat(4096);
    send_line(sender, &longest)?;
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
    send_line(sender, "after")?;
    receiver
        .expect(&line(format!("{nick}> after")))
        .map_err(|failure| {
            failure.explain(
                "Nothing of the long line may be delivered, and the next line must arrive whole: \
                 discard up to the long line's own \\n.",
            )
        })?;
    // Far longer lines: 100 KB, and 10 MB in pieces of 1 MB. A reader with
    // a limit of its own (Python's readline() raises past 64 KiB) must not
    // die on them: one error each, and the sender chats on.
    for (size, said) in [(100_000, "100 KB"), (10_000_000, "10 MB")] {
        let huge = format!("{}\n", "z".repeat(size));
        let pieces = vec![1_000_000; size / 1_000_000];
        sender.send_in_pieces(huge.as_bytes(), &pieces, Duration::from_millis(1))?;
        sender
            .expect(&line("! line too long (over 4096 bytes): not sent"))
            .map_err(|failure| {
                failure.explain(format!(
                    "The client sent a line of {said}: one error line, and the connection lives. \
                     A line reader with a limit of its own (Python's StreamReader.readline() \
                     raises past 64 KiB) must not be what ends it: discard past 4096 bytes \
                     yourself, up to the \\n."
                ))
            })?;
        send_line(sender, &format!("after {said}"))?;
        receiver
            .expect(&line(format!("{nick}> after {said}")))
            .map_err(|failure| {
                failure.explain(format!(
                    "After refusing a line of {said}, the server must go on reading its sender's \
                     lines."
                ))
            })?;
    }
    sender.expect_nothing_more()?;
    receiver.expect_nothing_more()
}

fn strips_control_characters(context: &mut Context) -> Result<(), Failure> {
    let mut clients = join_named(context, 2)?;
    let old = clients[0].1.clone();
    let (sender, receiver) = clients.split_at_mut(1);
    let (sender, receiver) = (&mut sender[0].0, &mut receiver[0].0);
    let explain = |failure: Failure| {
        failure.explain(
            "Strip bytes below 0x20 and 0x7f, the C1 controls U+0080 to U+009F, and whole escape \
             sequences (ESC [ or U+009B ... final byte, ESC ] ... BEL): otherwise a client could \
             clear or repaint everyone's terminal. Bytes that are not UTF-8 become U+FFFD.",
        )
    };
    sender.send(b"/nick ev\x1b[2Jil\x07\n")?;
    sender
        .expect(&line("* you are now evil"))
        .map_err(explain)?;
    receiver
        .expect(&line(format!("* {old} is now evil")))
        .map_err(explain)?;
    sender.send(b"\x1b[31mred\x1b[0m \x1b]0;title\x07bell\x07 tab\there\x7f caf\xe9\n")?;
    receiver
        .expect(&line("evil> red bell tabhere caf\u{fffd}"))
        .map_err(explain)?;
    // U+009B, in UTF-8, is a one-character ESC [: "31m" goes with it.
    sender.send("\u{9b}31mc1\u{9b}0m csi\n".as_bytes())?;
    receiver.expect(&line("evil> c1 csi")).map_err(explain)?;
    receiver.expect_nothing_more()
}

fn invisible_nicks(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let mut clients = join_named(context, 2)?;
    let old = clients[0].1.clone();
    let (sender, receiver) = clients.split_at_mut(1);
    let (sender, receiver) = (&mut sender[0].0, &mut receiver[0].0);
    // A blank Braille cell (a symbol), an annotation anchor (Cf), a tag, a
    // Khmer vowel, a Mongolian variation selector (ignorable), a musical
    // format control (Cf): each would make a nick that looks like WORD.
    for code in ["2800", "FFF9", "E0062", "17B4", "180B", "1D173"] {
        let invisible = u32::from_str_radix(code, 16)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{200b}');
        send_line(sender, &format!("/nick {word}{invisible}"))?;
        sender
            .expect(&line(
                "! a nick is 1-32 printable characters, without spaces",
            ))
            .map_err(|failure| {
                failure.explain(format!(
                    "`/nick {word}` and U+{code} must be refused: that character draws nothing, \
                     so the nick would look like {word} on screen. Refuse Unicode's classes of \
                     such characters (Default_Ignorable_Code_Point, the format and control \
                     categories, spaces and separators), not a list."
                ))
            })?;
    }
    // Visible characters beyond ASCII are fine.
    let accented = format!("{word}\u{e9}\u{2801}");
    send_line(sender, &format!("/nick {accented}"))?;
    sender.expect(&line(format!("* you are now {accented}")))?;
    receiver.expect(&line(format!("* {old} is now {accented}")))?;
    sender.expect_nothing_more()?;
    receiver.expect_nothing_more()
}

/// The line every client reads last when the server shuts down.
const SHUTTING_DOWN: &str = "* server shutting down";

fn shuts_down_on_sigterm(context: &mut Context) -> Result<(), Failure> {
    let count = context.rng.between(5, 30);
    let word = context.rng.word();
    let mut clients = join_named(context, 2)?;
    let sender = clients[0].1.clone();
    // Lines for client 2, which it does not read yet; then a /nick, whose
    // answer says the server has handled every line before it: they are
    // all on their way to client 2 (in its outbox, or its socket) before
    // the signal.
    let lines: String = (1..=count).map(|n| format!("{word} {n}\n")).collect();
    clients[0].0.send(lines.as_bytes())?;
    let renamed = format!("{word}x");
    send_line(&mut clients[0].0, &format!("/nick {renamed}"))?;
    expect_line(&mut clients[0].0, &line(format!("* you are now {renamed}")))?;
    context.server.signal("TERM");
    let explain = |failure: Failure| {
        failure.explain(format!(
            "The tester sent SIGTERM. The server must stop accepting, queue \"{SHUTTING_DOWN}\" \
             for every client after what is already queued for it, write it all, close every \
             connection, and exit with status 0, within a moment (a grace period of a second \
             or two)."
        ))
    };
    let receiver = &mut clients[1].0;
    for n in 1..=count {
        expect_line(receiver, &line(format!("{sender}> {word} {n}"))).map_err(|failure| {
            failure.explain(format!(
                "These {count} lines were sent to the server, and handled (its answer to a \
                 /nick after them came back), before the signal: a shutdown must not lose them."
            ))
        })?;
    }
    expect_line(receiver, &line(format!("* {sender} is now {renamed}"))).map_err(explain)?;
    for (client, _) in &mut clients {
        expect_line(client, &line(SHUTTING_DOWN)).map_err(explain)?;
        client.expect_closed().map_err(explain)?;
    }
    expect_clean_exit(context, "TERM")
}
