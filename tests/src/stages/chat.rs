//! What the checks of the chat stages (12 to 14, and 19) share: joining, sending a
//! line, and reading past the notices of a later stage. Stage 14 tells
//! everyone who joins and who leaves, and the checks of stages 12 and 13
//! must pass against it too, so theirs skip `* NICK joined` and
//! `* NICK left` wherever those may come.

use crate::check::{Context, Failure};
use crate::client::Client;
use crate::lines::Line;

pub fn line(text: impl AsRef<[u8]>) -> Line {
    Line::new(text)
}

/// Sends a line (with its `\n`).
pub fn send_line(client: &mut Client, text: &str) -> Result<(), Failure> {
    client.send(format!("{text}\n").as_bytes())
}

/// The nick a welcome line names: `user7` in `Welcome, user7! ...`.
fn welcomed_nick(line: &Line) -> Option<String> {
    let text = line.text();
    let rest = text.strip_prefix("Welcome, user")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let after = &rest[digits.len()..];
    (!digits.is_empty() && after.starts_with('!')).then(|| format!("user{digits}"))
}

fn is_welcome(line: &Line) -> bool {
    welcomed_nick(line).is_some()
}

/// Connects a client and reads its welcome, `Welcome, user<N>!` and any
/// words after it: the client and its nick.
pub fn join(context: &mut Context) -> Result<(Client, String), Failure> {
    let client = context.connect()?;
    welcomed(client)
}

/// Reads a new client's welcome: the client and its nick.
pub fn welcomed(mut client: Client) -> Result<(Client, String), Failure> {
    let welcome = client
        .expect_matching("the welcome line, \"Welcome, user<N>! ...\"", is_welcome)
        .map_err(|failure| {
            failure.explain(
                "On connect, the server first sends a welcome line that starts with \
                 \"Welcome, \", the client's default nick (user and a number) and \"!\".",
            )
        })?;
    let nick = welcomed_nick(&welcome).unwrap_or_default();
    Ok((client, nick))
}

/// `* NICK joined` or `* NICK left`: stage 14's notices.
pub fn is_presence_notice(line: &Line) -> bool {
    let text = line.text();
    text.starts_with("* ") && (text.ends_with(" joined") || text.ends_with(" left"))
}

/// Expects `expected` as the next line but for presence notices.
pub fn expect_line(client: &mut Client, expected: &Line) -> Result<(), Failure> {
    while client
        .expect_matching("a notice of who joined or left", is_presence_notice)
        .is_ok()
    {}
    client.expect(expected)
}

/// Connects `count` clients and gives each, in turn, a new random nick:
/// then every client knows every nick, and has read everything sent to it
/// so far (on a server that tells who joins, the join notices too).
pub fn join_named(context: &mut Context, count: usize) -> Result<Vec<(Client, String)>, Failure> {
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        clients.push(join(context)?);
    }
    for i in 0..count {
        let new = format!("{}{i}", context.rng.word());
        let old = std::mem::replace(&mut clients[i].1, new.clone());
        send_line(&mut clients[i].0, &format!("/nick {new}"))?;
        expect_line(&mut clients[i].0, &line(format!("* you are now {new}"))).map_err(
            |failure| failure.explain(format!("`/nick {new}` answers: * you are now {new}")),
        )?;
        for (j, (client, _)) in clients.iter_mut().enumerate() {
            if j != i {
                expect_line(client, &line(format!("* {old} is now {new}"))).map_err(|failure| {
                    failure.explain("Everyone else is told: * OLD is now NEW")
                })?;
            }
        }
    }
    Ok(clients)
}
