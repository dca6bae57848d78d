//! Stage 19: a chat on Redis. The tester starts a Redis (the course's own,
//! or redis-server with `COURSE_CHAT_STORE=redis-server`) and two or three
//! processes of the program, each with `--redis redis://127.0.0.1:R --port
//! N`; users on different processes must be in one chat. Then it stops a
//! process, and starts one with no Redis at all.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::chat::{is_presence_notice, line, send_line, welcomed};
use crate::check::{Check, Context, Failure, Stage};
use crate::client::Client;
use crate::lines::Line;
use crate::server::{Server, describe_status};

pub static STAGE: Stage = Stage {
    number: 19,
    name: "chat-on-redis",
    summary: "a chat on Redis: several processes serve one chat, its state in Redis",
    builds_on: &[12, 13, 14],
    base: 14,
    checks: &[
        Check {
            title: "default nicks are unique across processes; lines from two processes reach every client once, in one order",
            run: one_chat_one_order,
        },
        Check {
            title: "/who lists the users of every process, sorted; one who leaves is gone at once, and everyone is told",
            run: who_across_processes,
        },
        Check {
            title: "/msg reaches its recipient on another process, and no one else",
            run: private_across_processes,
        },
        Check {
            title: "a nick held on one process is refused on another, and free again once its user leaves",
            run: nicks_across_processes,
        },
        Check {
            title: "a newcomer on another process receives the last 20 chat messages",
            run: history_across_processes,
        },
        Check {
            title: "a process stopped with SIGTERM takes its users out of the chat at once, and exits",
            run: stopped_process,
        },
        Check {
            title: "a Redis that cannot be reached at start: an error and a non-zero exit, not a panic or a hang",
            run: no_redis_at_start,
        },
    ],
};

/// A client and its nick.
pub(super) type User = (Client, String);

/// Joins a client to the process at `address`; every user already joined
/// (on any process) must be told `* NICK joined`, so that afterwards
/// everyone has read everything sent to them.
pub(super) fn join_on(
    context: &mut Context,
    users: &mut Vec<User>,
    address: SocketAddr,
    process: &str,
) -> Result<usize, Failure> {
    let (client, nick) = welcomed(context.connect_to(address, process)?)?;
    if let Some((_, same)) = users.iter().find(|(_, other)| *other == nick) {
        return Err(Failure::new(format!(
            "two clients on different processes were both welcomed as {same}"
        ))
        .hint(
            "A default nick must be unique across every process of the chat: claim it in \
             Redis (SET chat:nick:user7 ... NX), and try the next number if the claim fails.",
        ));
    }
    for (earlier, _) in users.iter_mut() {
        earlier
            .expect(&line(format!("* {nick} joined")))
            .map_err(|failure| {
                failure.explain(
                    "Everyone already in the chat, on every process, is told: * NICK joined",
                )
            })?;
    }
    users.push((client, nick));
    Ok(users.len() - 1)
}

/// Gives each user a new random nick; everyone reads every notice.
pub(super) fn rename_all(context: &mut Context, users: &mut [User]) -> Result<(), Failure> {
    for i in 0..users.len() {
        let new = format!("{}{i}", context.rng.word());
        let old = std::mem::replace(&mut users[i].1, new.clone());
        send_line(&mut users[i].0, &format!("/nick {new}"))?;
        users[i].0.expect(&line(format!("* you are now {new}")))?;
        for (j, (client, _)) in users.iter_mut().enumerate() {
            if j != i {
                client
                    .expect(&line(format!("* {old} is now {new}")))
                    .map_err(|failure| {
                        failure.explain("Users on every process are told: * OLD is now NEW")
                    })?;
            }
        }
    }
    Ok(())
}

/// The next line that is not a notice of who joined or left.
fn next_line(client: &mut Client) -> Result<Line, Failure> {
    loop {
        let got = client.expect_matching("a line", |_: &Line| true)?;
        if !is_presence_notice(&got) {
            return Ok(got);
        }
    }
}

/// Reads lines until `expected`, for up to `within`; any other line but
/// `skipped` ones is a failure.
pub(super) fn wait_for(
    client: &mut Client,
    expected: &Line,
    within: Duration,
    skipped: fn(&Line) -> bool,
) -> Result<(), Failure> {
    let deadline = Instant::now() + within;
    loop {
        match client.expect_matching("a line", |_: &Line| true) {
            Ok(got) if got == *expected => return Ok(()),
            Ok(got) if skipped(&got) => {}
            Ok(got) => {
                return Err(Failure::new(format!(
                    "{} expected {}; got {}",
                    client.name,
                    crate::frame::Frame::describe(expected),
                    crate::frame::Frame::describe(&got)
                )));
            }
            Err(failure) if failure.timed_out && Instant::now() < deadline => {}
            Err(mut failure) => {
                if failure.timed_out {
                    failure.problem = format!(
                        "{} waited {} s for {}: nothing came",
                        client.name,
                        within.as_secs(),
                        crate::frame::Frame::describe(expected)
                    );
                }
                return Err(failure);
            }
        }
    }
}

/// `failure`, with what another process printed.
pub(super) fn with_output(failure: Failure, process: &Server, name: &str) -> Failure {
    failure.detail(
        name,
        format!(
            "`{}`, its last lines:\n{}",
            process.command_line,
            process.output_tail(12)
        ),
    )
}

fn one_chat_one_order(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let (b, c) = (context.start_another()?, context.start_another()?);
    let a = context.server.address();
    let mut users = Vec::new();
    join_on(context, &mut users, a, "A")?;
    join_on(context, &mut users, b.address(), "B")?;
    join_on(context, &mut users, c.address(), "C")?;
    join_on(context, &mut users, a, "A")?;
    // A reply to /who: each one's joining is over (its history sent).
    let mut nicks: Vec<String> = users.iter().map(|(_, nick)| nick.clone()).collect();
    nicks.sort();
    let online = line(format!("* online (4): {}", nicks.join(", ")));
    for (client, _) in &mut users {
        send_line(client, "/who")?;
        client.expect(&online).map_err(|f| {
            f.explain("/who lists everyone online on every process, sorted, separated by \", \"")
        })?;
    }
    // Two senders on two processes at once, ten lines each in one write.
    let (nick_a, nick_b) = (users[0].1.clone(), users[1].1.clone());
    let lines = |tag: &str| -> String { (0..10).map(|i| format!("{tag}{i} {word}\n")).collect() };
    users[0].0.send(lines("a").as_bytes())?;
    users[1].0.send(lines("b").as_bytes())?;
    let from_a: Vec<Line> = (0..10)
        .map(|i| line(format!("{nick_a}> a{i} {word}")))
        .collect();
    let from_b: Vec<Line> = (0..10)
        .map(|i| line(format!("{nick_b}> b{i} {word}")))
        .collect();
    // The senders hear each other; the two others hear both, in one order.
    users[0].0.expect_all(&from_b).map_err(|f| {
        f.explain("A line from process B reaches the users of process A, in order, once.")
    })?;
    users[1].0.expect_all(&from_a).map_err(|f| {
        f.explain("A line from process A reaches the users of process B, in order, once.")
    })?;
    let mut orders = Vec::new();
    for (client, _) in &mut users[2..] {
        let mut seen = Vec::new();
        for _ in 0..20 {
            seen.push(next_line(client).map_err(|f| {
                f.explain("Every line from any process reaches every other user, once.")
            })?);
        }
        let only = |from: &[Line]| -> Vec<Line> {
            seen.iter().filter(|l| from.contains(l)).cloned().collect()
        };
        if only(&from_a) != from_a || only(&from_b) != from_b {
            return Err(Failure::new(format!(
                "{} received the lines of each sender, but not each sender's in order",
                client.name
            ))
            .detail(
                "got",
                seen.iter().map(Line::text).collect::<Vec<_>>().join("\n"),
            ));
        }
        orders.push(seen);
    }
    if orders[0] != orders[1] {
        return Err(Failure::new(
            "two users received the same lines in different orders".to_string(),
        )
        .detail(
            &users[2].0.name.clone(),
            orders[0]
                .iter()
                .map(Line::text)
                .collect::<Vec<_>>()
                .join("\n"),
        )
        .detail(
            &users[3].0.name.clone(),
            orders[1]
                .iter()
                .map(Line::text)
                .collect::<Vec<_>>()
                .join("\n"),
        )
        .hint(
            "Send every line through Redis, your own process's users' too: then every process \
             hears the messages in the one order Redis published them.",
        ));
    }
    for (client, _) in &mut users {
        client
            .expect_nothing_more()
            .map_err(|f| f.explain("Each line reaches each user once; its sender, never."))?;
    }
    drop((b, c));
    Ok(())
}

fn who_across_processes(context: &mut Context) -> Result<(), Failure> {
    let b = context.start_another()?;
    let a = context.server.address();
    let mut users = Vec::new();
    join_on(context, &mut users, a, "A")?;
    join_on(context, &mut users, b.address(), "B")?;
    join_on(context, &mut users, a, "A")?;
    rename_all(context, &mut users)?;
    let mut names: Vec<String> = users.iter().map(|(_, nick)| nick.clone()).collect();
    names.sort();
    send_line(&mut users[1].0, "/who")?;
    users[1]
        .0
        .expect(&line(format!("* online (3): {}", names.join(", "))))
        .map_err(|f| {
            f.explain(
                "/who lists everyone online on every process: the members in Redis (a set), \
                 sorted, separated by \", \".",
            )
        })?;
    let (leaving, leaving_nick) = users.pop().ok_or_else(|| Failure::new("no client"))?;
    drop(leaving);
    for (client, _) in &mut users {
        client
            .expect(&line(format!("* {leaving_nick} left")))
            .map_err(|f| f.explain("Users on every process are told: * NICK left"))?;
    }
    names.retain(|name| *name != leaving_nick);
    send_line(&mut users[1].0, "/who")?;
    users[1]
        .0
        .expect(&line(format!("* online (2): {}", names.join(", "))))
        .map_err(|f| f.explain("A user who left is out of the members at once: SREM it."))
}

fn private_across_processes(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let b = context.start_another()?;
    let a = context.server.address();
    let mut users = Vec::new();
    join_on(context, &mut users, a, "A")?;
    join_on(context, &mut users, b.address(), "B")?;
    join_on(context, &mut users, b.address(), "B")?;
    rename_all(context, &mut users)?;
    let (sender, recipient) = (users[0].1.clone(), users[1].1.clone());
    send_line(&mut users[0].0, &format!("/msg {recipient} psst {word}"))?;
    users[1]
        .0
        .expect(&line(format!("{sender} (private)> psst {word}")))
        .map_err(|f| {
            f.explain(
                "/msg to a user on another process: publish on that user's own channel, which \
                 the process that holds the nick listens to.",
            )
        })?;
    send_line(&mut users[1].0, &format!("/msg {sender} back {word}"))?;
    users[0]
        .0
        .expect(&line(format!("{recipient} (private)> back {word}")))?;
    send_line(&mut users[0].0, "/msg nobody-here hi")?;
    users[0]
        .0
        .expect(&line("! no one is called nobody-here"))
        .map_err(|f| {
            f.explain("PUBLISH answers how many received it: 0 means no one is called so.")
        })?;
    for (client, _) in &mut users {
        client
            .expect_nothing_more()
            .map_err(|f| f.explain("A private message reaches its recipient only."))?;
    }
    Ok(())
}

fn nicks_across_processes(context: &mut Context) -> Result<(), Failure> {
    let wanted = format!("{}x", context.rng.word());
    let b = context.start_another()?;
    let a = context.server.address();
    let mut users = Vec::new();
    join_on(context, &mut users, a, "A")?;
    join_on(context, &mut users, b.address(), "B")?;
    let old = users[0].1.clone();
    send_line(&mut users[0].0, &format!("/nick {wanted}"))?;
    users[0]
        .0
        .expect(&line(format!("* you are now {wanted}")))?;
    users[1]
        .0
        .expect(&line(format!("* {old} is now {wanted}")))?;
    send_line(&mut users[1].0, &format!("/nick {wanted}"))?;
    users[1]
        .0
        .expect(&line(format!("! the nick {wanted} is taken")))
        .map_err(|f| {
            f.explain(
                "A nick is unique across every process: claim it in Redis with SET ... NX, which \
                 only one process can win.",
            )
        })?;
    // The old nick is free: its claim was given up.
    send_line(&mut users[1].0, &format!("/nick {old}"))?;
    users[1]
        .0
        .expect(&line(format!("* you are now {old}")))
        .map_err(|f| f.explain("A nick given up by /nick is free again: delete its claim."))?;
    let renamed = format!("* {} is now {old}", users[1].1);
    users[0].0.expect(&line(renamed))?;
    send_line(&mut users[0].0, "/quit")?;
    users[0].0.expect(&line("* bye"))?;
    users[1].0.expect(&line(format!("* {wanted} left")))?;
    send_line(&mut users[1].0, &format!("/nick {wanted}"))?;
    users[1]
        .0
        .expect(&line(format!("* you are now {wanted}")))
        .map_err(|f| f.explain("The nick of a user who left is free at once: delete its claim."))?;
    users[1].0.expect_nothing_more()
}

fn history_across_processes(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let b = context.start_another()?;
    let mut users = Vec::new();
    join_on(context, &mut users, context.server.address(), "A")?;
    let nick = users[0].1.clone();
    let mut expected = Vec::new();
    for i in 0..25 {
        if i == 24 {
            send_line(&mut users[0].0, &format!("/me leaves a note {word}"))?;
            expected.push(line(format!("{nick}> *leaves a note {word}*")));
        } else {
            send_line(&mut users[0].0, &format!("m{i} {word}"))?;
            expected.push(line(format!("{nick}> m{i} {word}")));
        }
    }
    // A reply to /who means every earlier line was handled.
    send_line(&mut users[0].0, "/who")?;
    users[0].0.expect(&line(format!("* online (1): {nick}")))?;
    let (mut newcomer, newcomer_nick) = welcomed(context.connect_to(b.address(), "B")?)?;
    newcomer.expect_all(&expected[5..]).map_err(|f| {
        f.explain(
            "A newcomer on any process receives, after the welcome, the last 20 chat messages \
             from the history in Redis (a sorted set scored by time), oldest first.",
        )
    })?;
    users[0]
        .0
        .expect(&line(format!("* {newcomer_nick} joined")))?;
    newcomer.expect_nothing_more()
}

fn stopped_process(context: &mut Context) -> Result<(), Failure> {
    let b = context.start_another()?;
    let mut users = Vec::new();
    join_on(context, &mut users, context.server.address(), "A")?;
    join_on(context, &mut users, b.address(), "B")?;
    rename_all(context, &mut users)?;
    let gone_nick = users[1].1.clone();
    b.signal("TERM");
    let (client, nick) = &mut users[0];
    wait_for(
        client,
        &line(format!("* {gone_nick} left")),
        Duration::from_secs(3),
        |_| false,
    )
    .map_err(|f| {
        with_output(f, &b, "B").explain(
            "On SIGTERM (and Ctrl-C, SIGINT), a process takes its users out of Redis before \
                 it exits: they leave /who at once, and everyone is told.",
        )
    })?;
    send_line(client, "/who")?;
    client.expect(&line(format!("* online (1): {nick}")))?;
    // And it exits: its port takes no more connections.
    let deadline = Instant::now() + Duration::from_secs(3);
    while TcpStream::connect_timeout(&b.address(), Duration::from_millis(200)).is_ok() {
        if Instant::now() > deadline {
            return Err(with_output(
                Failure::new("process B still accepted connections 3 s after SIGTERM"),
                &b,
                "B",
            )
            .hint("Catch SIGTERM and SIGINT: take your users out of Redis, then exit 0."));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn no_redis_at_start(context: &mut Context) -> Result<(), Failure> {
    // A port that was free a moment ago: nothing listens there.
    let closed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| Failure::new(format!("the tester could not find a free port: {error}")))?;
    let url = format!("redis://127.0.0.1:{closed}");
    // It may listen for a moment before it finds Redis missing, or not.
    let mut process = match context.start_process_with(&format!(" --redis {url}")) {
        Ok(process) => process,
        Err(failure) if failure.problem.contains("exit code 101") => {
            return Err(failure
                .explain("Your program panicked: print a clear error instead, and exit with 1."));
        }
        Err(failure)
            if failure
                .problem
                .starts_with("your program exited (exit code") =>
        {
            return Ok(());
        }
        Err(failure) => {
            return Err(failure.explain(
                "Without a Redis to reach, your program must say so and exit with a non-zero \
                 code, within a few seconds: connect with a timeout.",
            ));
        }
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while process.exit_status().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let problem = match process.exit_status() {
        Some(status) if status.code().is_some_and(|code| code != 0 && code != 101) => return Ok(()),
        Some(status) => format!("your program exited ({})", describe_status(status)),
        None => {
            format!("your program still ran 5 s after it started, though no Redis runs at {url}")
        }
    };
    Err(
        with_output(Failure::new(problem), &process, "started").hint(
            "A chat on Redis has nothing to serve without it: connect to Redis before you accept \
         anyone, and if that fails, print why and exit with 1 (not 0, not a panic).",
        ),
    )
}
