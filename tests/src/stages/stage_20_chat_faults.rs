//! Stage 20: a chat on Redis that survives its faults. As for stage 19, the
//! tester starts a Redis and two processes of the program; then it kills
//! one process with SIGKILL (its users must leave /who within 12 s), and
//! restarts Redis (every process must reconnect, and the chat go on).

use std::time::{Duration, Instant};

use super::chat::{line, send_line};
use super::stage_19_chat_on_redis::{join_on, rename_all, wait_for, with_output};
use crate::check::{Check, Context, Failure, Stage};
use crate::lines::Line;

pub static STAGE: Stage = Stage {
    number: 20,
    name: "chat-faults",
    summary: "the chat on Redis survives its faults: presence that expires, reconnecting to a restarted Redis",
    builds_on: &[12, 13, 14, 19],
    base: 19,
    checks: &[
        Check {
            title: "a process killed with SIGKILL: its users leave /who within 12 s, and everyone is told",
            run: killed_process,
        },
        Check {
            title: "Redis restarts: every user is told, the processes reconnect, and the chat goes on",
            run: redis_restarts,
        },
    ],
};

/// How long a process that died may leave its users in /who: its claims'
/// 10 s, and room for a loaded machine.
const EXPIRY_DEADLINE: Duration = Duration::from_secs(12);

/// How long the processes may take to see Redis gone, and to be back.
const RECONNECT_DEADLINE: Duration = Duration::from_secs(15);

fn killed_process(context: &mut Context) -> Result<(), Failure> {
    let mut b = context.start_another()?;
    let mut users = Vec::new();
    join_on(context, &mut users, context.server.address(), "A")?;
    join_on(context, &mut users, b.address(), "B")?;
    rename_all(context, &mut users)?;
    let (gone, gone_nick) = users.pop().ok_or_else(|| Failure::new("no client"))?;
    b.signal("KILL");
    b.wait_for_exit(Duration::from_secs(3));
    drop(gone);
    let started = Instant::now();
    let (client, nick) = &mut users[0];
    let (left, alone) = (
        line(format!("* {gone_nick} left")),
        line(format!("* online (1): {nick}")),
    );
    let mut names = [nick.clone(), gone_nick.clone()];
    names.sort();
    let both = line(format!("* online (2): {}", names.join(", ")));
    // /who every half second until it no longer lists the user of B.
    let mut told = false;
    loop {
        send_line(client, "/who")?;
        let reply = loop {
            let got = client.expect_matching("a line", |_: &Line| true)?;
            if got != left {
                break got;
            }
            told = true;
        };
        if reply == alone {
            break;
        }
        if reply != both {
            return Err(Failure::new(format!(
                "/who answered {}",
                crate::frame::Frame::describe(&reply)
            )));
        }
        if started.elapsed() > EXPIRY_DEADLINE {
            return Err(Failure::new(format!(
                "{gone_nick}, on process B killed with SIGKILL {} s ago, is still in /who",
                EXPIRY_DEADLINE.as_secs()
            ))
            .hint(
                "Process B could not say goodbye. Its users must still leave: a claim on a nick \
                 expires (SET ... EX 10) unless its process refreshes it, and /who lists only \
                 the members whose claim is alive.",
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let took = started.elapsed();
    if !told {
        wait_for(client, &left, Duration::from_secs(3), |_| false).map_err(|f| {
            f.explain(
                "A member whose claim is gone is removed (SREM), and the one process whose SREM \
                 removed it tells everyone: * NICK left",
            )
        })?;
    }
    context.title(format!(
        "a process killed with SIGKILL: its users leave /who within 12 s, and everyone is told \
         (here in {:.1} s)",
        took.as_secs_f64()
    ));
    Ok(())
}

fn redis_restarts(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let b = context.start_another()?;
    let mut users = Vec::new();
    join_on(context, &mut users, context.server.address(), "A")?;
    join_on(context, &mut users, b.address(), "B")?;
    rename_all(context, &mut users)?;
    context.restart_store()?;
    for (client, _) in &mut users {
        for notice in ["* lost the chat store, reconnecting", "* reconnected"] {
            wait_for(client, &line(notice), RECONNECT_DEADLINE, |_| false).map_err(|f| {
                with_output(f, &b, "B").explain(
                    "When the connection to Redis breaks, tell your users \"* lost the chat \
                     store, reconnecting\", try again (waiting longer after each failure), and \
                     once connected and subscribed again, tell them \"* reconnected\".",
                )
            })?;
        }
    }
    let (nick_a, nick_b) = (users[0].1.clone(), users[1].1.clone());
    send_line(&mut users[0].0, &format!("still here {word}"))?;
    users[1]
        .0
        .expect(&line(format!("{nick_a}> still here {word}")))
        .map_err(|f| f.explain("After a reconnect, subscribe to the chat's channels again."))?;
    let mut names = [nick_a, nick_b];
    names.sort();
    send_line(&mut users[1].0, "/who")?;
    users[1]
        .0
        .expect(&line(format!("* online (2): {}", names.join(", "))))
        .map_err(|f| {
            f.explain(
                "A restarted Redis is empty: each process claims its users' nicks again, and \
                 puts them back in the members.",
            )
        })?;
    let private = format!("/msg {} psst {word}", users[0].1);
    send_line(&mut users[1].0, &private)?;
    let received = line(format!("{} (private)> psst {word}", users[1].1));
    users[0]
        .0
        .expect(&received)
        .map_err(|f| f.explain("After a reconnect, subscribe to your users' own channels again."))
}
