//! Stage 14: who is here. Everyone is told who joins and leaves; a
//! newcomer receives the last 20 messages; /who, /msg, /me, /help, /quit.

use super::chat::{join, line, send_line};
use crate::check::{Check, Context, Failure, Stage};
use crate::client::Client;
use crate::lines::Line;

pub static STAGE: Stage = Stage {
    number: 14,
    name: "chat-presence",
    summary: "who is here: join and leave notices, history, /who, /msg, /me",
    builds_on: &[12, 13],
    base: 13,
    checks: &[
        Check {
            title: "others see \"* nick joined\" and \"* nick left\"; /quit says \"* bye\" and closes",
            run: joins_and_leaves,
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
            title: "/me as \"nick> *action*\", never a notice; /help (named in the welcome); unknown commands",
            run: me_help_unknown,
        },
        Check {
            title: "a newcomer receives the last 20 chat messages",
            run: history,
        },
    ],
};

/// The welcome line, word for word, now that there is a /help to name.
fn is_whole_welcome(line: &Line) -> bool {
    let text = line.text();
    text.starts_with("Welcome, user")
        && text.ends_with("! Set your name with /nick NAME; /help lists the commands.")
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

fn joins_and_leaves(context: &mut Context) -> Result<(), Failure> {
    let mut clients = join_all(context, 3)?;
    let (mut leaving, leaving_nick) = clients.pop().ok_or_else(|| Failure::new("no client"))?;
    send_line(&mut leaving, "/quit")?;
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

/// Renames each client to a random nick; everyone reads the notices.
fn rename_all(context: &mut Context, clients: &mut [(Client, String)]) -> Result<(), Failure> {
    for i in 0..clients.len() {
        let new = format!("{}{i}", context.rng.word());
        let old = std::mem::replace(&mut clients[i].1, new.clone());
        send_line(&mut clients[i].0, &format!("/nick {new}"))?;
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
    send_line(&mut clients[0].0, "/who")?;
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
    send_line(&mut clients[0].0, "/who")?;
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
    send_line(&mut clients[0].0, &format!("/msg {recipient} psst {word}"))?;
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
    send_line(&mut clients[0].0, "/msg nobody-here hi")?;
    clients[0]
        .0
        .expect(&line("! no one is called nobody-here"))?;
    send_line(&mut clients[0].0, &format!("/msg {recipient}"))?;
    clients[0].0.expect(&line("! usage: /msg NAME text"))?;
    clients[0].0.expect_nothing_more()
}

fn me_help_unknown(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let mut clients = join_all(context, 2)?;
    let nick = clients[0].1.clone();
    // "/me left" as "* NICK left" would be a leave notice, word for word.
    for action in [format!("waves {word}"), "left".to_string()] {
        send_line(&mut clients[0].0, &format!("/me {action}"))?;
        clients[1]
            .0
            .expect(&line(format!("{nick}> *{action}*")))
            .map_err(|failure| {
                failure.explain(
                    "An action is the user's words: NICK> *action*. Lines that start with \"* \" \
                     are the server's, and a user must not be able to write one.",
                )
            })?;
    }
    send_line(&mut clients[0].0, "/help")?;
    clients[0].0.expect_all(&[
        line("* commands:"),
        line("*   /nick NAME      change your name"),
        line("*   /who            who is online"),
        line("*   /msg NAME text  a private message"),
        line("*   /me action      an action: NICK> *wave*"),
        line("*   /help           this list"),
        line("*   /quit           leave"),
    ])?;
    for (command, word) in [("/dance", "dance"), ("/NICK x", "NICK")] {
        send_line(&mut clients[0].0, command)?;
        clients[0]
            .0
            .expect(&line(format!(
                "! unknown command /{word}: /help lists the commands"
            )))
            .map_err(|failure| {
                failure.explain("Commands are lower case; anything else is unknown.")
            })?;
    }
    // A newcomer's welcome names /help now.
    let mut newcomer = context.connect()?;
    let welcome = newcomer
        .expect_matching(
            "the welcome line \"Welcome, user<N>! Set your name with /nick NAME; /help lists \
             the commands.\"",
            is_whole_welcome,
        )
        .map_err(|failure| {
            failure.explain(
                "Now that there is a /help, the welcome says so: Welcome, user<N>! Set your name \
                 with /nick NAME; /help lists the commands.",
            )
        })?;
    drop(newcomer);
    let text = welcome.text();
    let newcomer_nick = &text["Welcome, ".len()..text.find('!').unwrap_or(text.len())];
    for (client, _) in &mut clients {
        client.expect_all(&[
            line(format!("* {newcomer_nick} joined")),
            line(format!("* {newcomer_nick} left")),
        ])?;
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
            send_line(&mut talker, &format!("/me leaves a note {word}"))?;
            expected.push(line(format!("{nick}> *leaves a note {word}*")));
        } else {
            send_line(&mut talker, &format!("m{i} {word}"))?;
            expected.push(line(format!("{nick}> m{i} {word}")));
        }
    }
    // A reply to /who means every earlier line was handled.
    send_line(&mut talker, "/who")?;
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
