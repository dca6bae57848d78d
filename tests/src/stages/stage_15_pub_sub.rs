//! Stage 15: publish/subscribe, byte for byte as redis-server 7.0 answers in
//! RESP2: subscribing, subscribed mode, PUBLISH to 0, 1 and many, order,
//! patterns, unsubscribing, PUBSUB, a subscriber that leaves, and one that
//! never reads.

use std::time::{Duration, Instant};

use crate::check::{Check, Context, Failure, Stage};
use crate::client::Client;
use crate::resp::{self, Reply};

pub static STAGE: Stage = Stage {
    number: 15,
    name: "pub-sub",
    summary: "publish/subscribe: SUBSCRIBE, PSUBSCRIBE, PUBLISH, PUBSUB",
    builds_on: &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    base: 10,
    checks: &[
        Check {
            title: "SUBSCRIBE confirms each channel with the client's count of subscriptions",
            run: subscribe_confirms_each_channel,
        },
        Check {
            title: "a subscribed client may only (un)subscribe, PING, QUIT and RESET: Redis's error for the rest",
            run: subscribed_mode_refuses_other_commands,
        },
        Check {
            title: "PING in subscribed mode answers [pong, its argument]",
            run: ping_in_subscribed_mode,
        },
        Check {
            title: "PUBLISH delivers to every subscriber of the channel and counts them: 0, 1, many",
            run: publish_to_none_one_and_many,
        },
        Check {
            title: "messages on a channel arrive in the order they were published, any bytes intact",
            run: messages_arrive_in_order,
        },
        Check {
            title: "PSUBSCRIBE: a matching pattern's subscribers get pmessage, a client of both gets both",
            run: patterns,
        },
        Check {
            title: "UNSUBSCRIBE and PUNSUBSCRIBE leave the names given or all; the last one ends subscribed mode",
            run: unsubscribe,
        },
        Check {
            title: "PUBSUB CHANNELS, NUMSUB and NUMPAT say who listens",
            run: pubsub_introspection,
        },
        Check {
            title: "a subscriber that disconnects leaves every channel and pattern",
            run: a_subscriber_that_leaves_is_gone,
        },
        Check {
            title: "a subscriber that never reads is cut off, while one that reads gets every message",
            run: a_subscriber_that_never_reads_is_cut_off,
        },
    ],
};

/// `*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n`; `None` for the null bulk
/// string of UNSUBSCRIBE when there was nothing to leave.
fn confirmation(word: &str, name: Option<&str>, count: i64) -> Reply {
    Reply::Array(vec![
        Reply::bulk(word),
        name.map_or(Reply::NullBulk, Reply::bulk),
        Reply::Integer(count),
    ])
}

fn message(channel: &str, payload: impl AsRef<[u8]>) -> Reply {
    Reply::Array(vec![
        Reply::bulk("message"),
        Reply::bulk(channel),
        Reply::bulk(payload),
    ])
}

fn pmessage(pattern: &str, channel: &str, payload: &str) -> Reply {
    Reply::Array(vec![
        Reply::bulk("pmessage"),
        Reply::bulk(pattern),
        Reply::bulk(channel),
        Reply::bulk(payload),
    ])
}

/// Redis's error for a command that subscribed mode does not allow.
fn refused(name: &str) -> Reply {
    Reply::error(&format!(
        "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / \
         RESET are allowed in this context"
    ))
}

/// `words` as arguments.
fn args<'a>(words: &'a [&'a str]) -> Vec<&'a [u8]> {
    words.iter().map(|word| word.as_bytes()).collect()
}

/// A new client subscribed to `channels`, each confirmation read.
fn subscriber(context: &mut Context, channels: &[&str]) -> Result<Client, Failure> {
    let mut client = context.connect()?;
    let mut command = vec!["SUBSCRIBE"];
    command.extend_from_slice(channels);
    client.send(&resp::command(&args(&command)))?;
    let confirmations: Vec<Reply> = (1..)
        .zip(channels)
        .map(|(count, channel)| confirmation("subscribe", Some(channel), count))
        .collect();
    client
        .expect_all(&confirmations)
        .map_err(explain_subscribe)?;
    Ok(client)
}

fn explain_subscribe(failure: Failure) -> Failure {
    failure.explain(
        "SUBSCRIBE answers each channel with an array of three: the bulk string \"subscribe\", \
         the channel, and how many channels and patterns this client is subscribed to now. A \
         channel named again is confirmed again, and not counted twice.",
    )
}

fn explain_publish(failure: Failure) -> Failure {
    failure.explain(
        "PUBLISH answers with an integer: how many subscribers the message was pushed to. Each \
         subscriber of the channel gets `*3\\r\\n$7\\r\\nmessage\\r\\n$<n>\\r\\n<channel>\\r\\n\
         $<n>\\r\\n<message>\\r\\n`, written to its connection without waiting for it to ask.",
    )
}

/// `<prefix>:<word>`, a name that reads well in a report.
fn name(context: &mut Context, prefix: &str) -> String {
    format!("{prefix}:{}", context.rng.word())
}

fn subscribe_confirms_each_channel(context: &mut Context) -> Result<(), Failure> {
    let [a, b, c] = [(); 3].map(|_| name(context, "ch"));
    let subscribe = context.rng.random_case("subscribe");
    let mut client = context.connect()?;
    client
        .command(
            &args(&[&subscribe, &a]),
            &confirmation("subscribe", Some(&a), 1),
        )
        .map_err(explain_subscribe)?;
    client.send(&resp::command(&args(&[&subscribe, &b, &c, &a])))?;
    client
        .expect_all(&[
            confirmation("subscribe", Some(&b), 2),
            confirmation("subscribe", Some(&c), 3),
            confirmation("subscribe", Some(&a), 3),
        ])
        .map_err(explain_subscribe)?;
    client.expect_nothing_more()
}

fn subscribed_mode_refuses_other_commands(context: &mut Context) -> Result<(), Failure> {
    let (channel, key) = (name(context, "ch"), context.rng.word());
    let mut client = subscriber(context, &[&channel])?;
    let explain = |failure: Failure| {
        failure.explain(
            "A client with a subscription is in subscribed mode: it may only SUBSCRIBE, \
             PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE, PING, QUIT and RESET. Any other command \
             gets `-ERR Can't execute '<name>': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / \
             QUIT / RESET are allowed in this context`, its name in lower case; but an unknown \
             command, or a wrong number of arguments, gets its usual error first.",
        )
    };
    let cases: [(&[&str], Reply); 5] = [
        (&["GET", &key], refused("get")),
        (&["set", &key, "v"], refused("set")),
        (&["ECHO", "hi"], refused("echo")),
        (
            &["GET"],
            Reply::error("ERR wrong number of arguments for 'get' command"),
        ),
        (
            &["nosuch", "x"],
            Reply::error("ERR unknown command 'nosuch', with args beginning with: 'x' "),
        ),
    ];
    for (words, expected) in cases {
        client.command(&args(words), &expected).map_err(explain)?;
    }
    client
        .command(
            &args(&["UNSUBSCRIBE"]),
            &confirmation("unsubscribe", Some(&channel), 0),
        )
        .map_err(|failure| {
            failure.explain(
                "UNSUBSCRIBE with no channel leaves them all, each confirmed with the count \
                 left: here none.",
            )
        })?;
    client
        .command(&args(&["GET", &key]), &Reply::NullBulk)
        .map_err(|failure| {
            failure.explain("With no subscription left, the client is back in normal mode.")
        })?;
    client.expect_nothing_more()
}

fn ping_in_subscribed_mode(context: &mut Context) -> Result<(), Failure> {
    let (channel, word) = (name(context, "ch"), context.rng.word());
    let mut client = subscriber(context, &[&channel])?;
    let explain = |failure: Failure| {
        failure.explain(
            "In subscribed mode PING answers an array, as a push is: the bulk string \"pong\" and \
             its argument, or an empty bulk string without one: `*2\\r\\n$4\\r\\npong\\r\\n\
             $0\\r\\n\\r\\n`.",
        )
    };
    let pong = |argument: &str| Reply::Array(vec![Reply::bulk("pong"), Reply::bulk(argument)]);
    client
        .command(&args(&["PING"]), &pong(""))
        .map_err(explain)?;
    client
        .command(&args(&["ping", &word]), &pong(&word))
        .map_err(explain)?;
    client.command(
        &args(&["UNSUBSCRIBE", &channel]),
        &confirmation("unsubscribe", Some(&channel), 0),
    )?;
    client
        .command(&args(&["PING"]), &Reply::simple("PONG"))
        .map_err(|failure| failure.explain("Out of subscribed mode, PING is +PONG again."))?;
    client.expect_nothing_more()
}

fn publish_to_none_one_and_many(context: &mut Context) -> Result<(), Failure> {
    let [nobody, one, many] = [(); 3].map(|_| name(context, "ch"));
    let count = context.rng.between(3, 8);
    context.title(format!(
        "PUBLISH delivers to every subscriber of the channel and counts them: 0, 1, {count}"
    ));
    let payloads = [(); 3].map(|_| context.rng.word());
    let mut alone = subscriber(context, &[&one])?;
    let mut crowd = Vec::new();
    for _ in 0..count {
        crowd.push(subscriber(context, &[&many])?);
    }
    let mut publisher = context.connect()?;
    publisher
        .command(
            &args(&["PUBLISH", &nobody, &payloads[0]]),
            &Reply::Integer(0),
        )
        .map_err(explain_publish)?;
    publisher
        .command(&args(&["publish", &one, &payloads[1]]), &Reply::Integer(1))
        .map_err(explain_publish)?;
    alone
        .expect(&message(&one, &payloads[1]))
        .map_err(explain_publish)?;
    publisher
        .command(
            &args(&["PUBLISH", &many, &payloads[2]]),
            &Reply::Integer(count as i64),
        )
        .map_err(explain_publish)?;
    for client in &mut crowd {
        client
            .expect(&message(&many, &payloads[2]))
            .map_err(explain_publish)?;
    }
    for client in crowd.iter_mut().chain([&mut alone, &mut publisher]) {
        client.expect_nothing_more()?;
    }
    Ok(())
}

fn messages_arrive_in_order(context: &mut Context) -> Result<(), Failure> {
    let channel = name(context, "ch");
    let count = context.rng.between(50, 200);
    context.title(format!(
        "{count} messages on a channel arrive in the order they were published, any bytes intact"
    ));
    let payloads: Vec<Vec<u8>> = (0..count)
        .map(|i| {
            // Numbered, then any bytes: \r\n and zeros included.
            let length = context.rng.between(0, 200);
            let mut payload = format!("{i:04} ").into_bytes();
            payload.extend(context.rng.bytes(length));
            payload
        })
        .collect();
    let mut first = subscriber(context, &[&channel])?;
    let mut second = subscriber(context, &[&channel])?;
    let mut publisher = context.connect()?;
    let bytes: Vec<u8> = payloads
        .iter()
        .flat_map(|payload| resp::command(&[b"PUBLISH", channel.as_bytes(), payload]))
        .collect();
    publisher.send(&bytes)?;
    publisher
        .expect_all(&vec![Reply::Integer(2); count])
        .map_err(explain_publish)?;
    let messages: Vec<Reply> = payloads
        .iter()
        .map(|payload| message(&channel, payload))
        .collect();
    for client in [&mut first, &mut second] {
        client.expect_all(&messages).map_err(|failure| {
            failure.explain(
                "Every subscriber gets every message, in the order they were published, each \
                 payload as it was sent: a bulk string carries any bytes, \\r\\n and zeros \
                 included.",
            )
        })?;
        client.expect_nothing_more()?;
    }
    publisher.expect_nothing_more()
}

fn patterns(context: &mut Context) -> Result<(), Failure> {
    let prefix = context.rng.word();
    let (any, two_letters) = (format!("{prefix}.*"), format!("{prefix}.[a-z][a-z]"));
    let (uk, fr, long) = (
        format!("{prefix}.uk"),
        format!("{prefix}.fr"),
        format!("{prefix}.world"),
    );
    let explain = |failure: Failure| {
        failure.explain(
            "PSUBSCRIBE subscribes to every channel whose name matches a glob pattern, with \
             KEYS's rules. PUBLISH pushes to the channel's subscribers first (`message`), then, \
             for each matching pattern, to its subscribers `*4\\r\\n$8\\r\\npmessage\\r\\n\
             <pattern><channel><message>`; a client of both gets both, and each push counts.",
        )
    };
    let mut wide = context.connect()?;
    wide.command(
        &args(&["PSUBSCRIBE", &any]),
        &confirmation("psubscribe", Some(&any), 1),
    )
    .map_err(explain)?;
    let mut both = subscriber(context, &[&uk])?;
    both.command(
        &args(&["psubscribe", &two_letters]),
        &confirmation("psubscribe", Some(&two_letters), 2),
    )
    .map_err(explain)?;
    let mut publisher = context.connect()?;
    publisher
        .command(&args(&["PUBLISH", &uk, "a"]), &Reply::Integer(3))
        .map_err(explain)?;
    wide.expect(&pmessage(&any, &uk, "a")).map_err(explain)?;
    both.expect_all(&[message(&uk, "a"), pmessage(&two_letters, &uk, "a")])
        .map_err(explain)?;
    publisher
        .command(&args(&["PUBLISH", &fr, "b"]), &Reply::Integer(2))
        .map_err(explain)?;
    wide.expect(&pmessage(&any, &fr, "b")).map_err(explain)?;
    both.expect(&pmessage(&two_letters, &fr, "b"))
        .map_err(explain)?;
    publisher
        .command(&args(&["PUBLISH", &long, "c"]), &Reply::Integer(1))
        .map_err(explain)?;
    wide.expect(&pmessage(&any, &long, "c")).map_err(explain)?;
    publisher
        .command(&args(&["PUBLISH", &prefix, "d"]), &Reply::Integer(0))
        .map_err(explain)?;
    for client in [&mut wide, &mut both, &mut publisher] {
        client.expect_nothing_more()?;
    }
    Ok(())
}

fn unsubscribe(context: &mut Context) -> Result<(), Failure> {
    let [a, b, c, missing] = [(); 4].map(|_| name(context, "ch"));
    let pattern = format!("{}*", name(context, "p"));
    let key = context.rng.word();
    let explain = |failure: Failure| {
        failure.explain(
            "UNSUBSCRIBE leaves each channel named (one not subscribed too), or every channel \
             when none is named, each confirmed with an array: \"unsubscribe\", the channel, \
             and the count of channels AND patterns left. With nothing to leave, the channel \
             is a null bulk string, `$-1\\r\\n`. PUNSUBSCRIBE does the same for patterns. The \
             client stays in subscribed mode until its count is 0.",
        )
    };
    let mut client = subscriber(context, &[&a, &b])?;
    client.command(
        &args(&["PSUBSCRIBE", &pattern]),
        &confirmation("psubscribe", Some(&pattern), 3),
    )?;
    client.send(&resp::command(&args(&["UNSUBSCRIBE", &a, &missing])))?;
    client
        .expect_all(&[
            confirmation("unsubscribe", Some(&a), 2),
            confirmation("unsubscribe", Some(&missing), 2),
        ])
        .map_err(explain)?;
    client
        .command(
            &args(&["unsubscribe"]),
            &confirmation("unsubscribe", Some(&b), 1),
        )
        .map_err(explain)?;
    client
        .command(
            &args(&["UNSUBSCRIBE"]),
            &confirmation("unsubscribe", None, 1),
        )
        .map_err(explain)?;
    client
        .command(&args(&["GET", &key]), &refused("get"))
        .map_err(explain)?;
    client
        .command(
            &args(&["PUNSUBSCRIBE"]),
            &confirmation("punsubscribe", Some(&pattern), 0),
        )
        .map_err(explain)?;
    client
        .command(&args(&["GET", &key]), &Reply::NullBulk)
        .map_err(explain)?;
    client
        .command(
            &args(&["UNSUBSCRIBE"]),
            &confirmation("unsubscribe", None, 0),
        )
        .map_err(explain)?;
    // RESET leaves everything at once, and says so.
    client.command(
        &args(&["SUBSCRIBE", &c]),
        &confirmation("subscribe", Some(&c), 1),
    )?;
    client
        .command(&args(&["RESET"]), &Reply::simple("RESET"))
        .map_err(|failure| {
            failure.explain("RESET answers +RESET, and leaves every channel and pattern.")
        })?;
    client.command(&args(&["GET", &key]), &Reply::NullBulk)?;
    let mut publisher = context.connect()?;
    publisher
        .command(&args(&["PUBLISH", &c, "x"]), &Reply::Integer(0))
        .map_err(|failure| failure.explain("After RESET the client is subscribed to nothing."))?;
    client.expect_nothing_more()
}

fn pubsub_introspection(context: &mut Context) -> Result<(), Failure> {
    let prefix = context.rng.word();
    let (a, b, missing) = (
        format!("{prefix}:a"),
        format!("{prefix}:b"),
        format!("{prefix}:zz"),
    );
    let (x, y) = (format!("{prefix}x*"), format!("{prefix}y*"));
    let explain = |failure: Failure| {
        failure.explain(
            "PUBSUB CHANNELS [pattern] lists the channels that have subscribers (matching the \
             pattern, with KEYS's rules), in any order; PUBSUB NUMSUB [channel ...] answers each \
             channel and its number of subscribers, in the order asked; PUBSUB NUMPAT the \
             number of patterns subscribed to. Pattern subscriptions are not channels.",
        )
    };
    let _one = subscriber(context, &[&a, &b])?;
    let _two = subscriber(context, &[&b])?;
    let mut three = context.connect()?;
    three.send(&resp::command(&args(&["PSUBSCRIBE", &x, &y])))?;
    three.expect_all(&[
        confirmation("psubscribe", Some(&x), 1),
        confirmation("psubscribe", Some(&y), 2),
    ])?;
    let mut client = context.connect()?;
    client.send(&resp::command(&args(&["PUBSUB", "CHANNELS"])))?;
    client
        .expect_unordered(&[Reply::bulk(&a), Reply::bulk(&b)])
        .map_err(explain)?;
    let only_a = format!("{prefix}:[a]");
    client.send(&resp::command(&args(&["pubsub", "channels", &only_a])))?;
    client
        .expect_unordered(&[Reply::bulk(&a)])
        .map_err(explain)?;
    let numsub = Reply::Array(vec![
        Reply::bulk(&a),
        Reply::Integer(1),
        Reply::bulk(&b),
        Reply::Integer(2),
        Reply::bulk(&missing),
        Reply::Integer(0),
    ]);
    client
        .command(&args(&["PUBSUB", "NUMSUB", &a, &b, &missing]), &numsub)
        .map_err(explain)?;
    client
        .command(&args(&["PUBSUB", "NUMSUB"]), &Reply::Array(Vec::new()))
        .map_err(explain)?;
    client
        .command(&args(&["PUBSUB", "NUMPAT"]), &Reply::Integer(2))
        .map_err(explain)?;
    let errors: [(&[&str], &str); 2] = [
        (
            &["PUBSUB"],
            "ERR wrong number of arguments for 'pubsub' command",
        ),
        (
            &["PUBSUB", "FOO"],
            "ERR unknown subcommand 'FOO'. Try PUBSUB HELP.",
        ),
    ];
    for (words, error) in errors {
        client.command(&args(words), &Reply::error(error))?;
    }
    client.expect_nothing_more()
}

/// Asks `PUBSUB NUMSUB channel` until it answers `expected`, for up to
/// two seconds: a server may notice a client has gone a moment later.
fn wait_for_numsub(client: &mut Client, channel: &str, expected: i64) -> Result<(), Failure> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        client.send(&resp::command(&args(&["PUBSUB", "NUMSUB", channel])))?;
        let reply =
            client.expect_matching("an array", |reply: &Reply| matches!(reply, Reply::Array(_)))?;
        let wanted = Reply::Array(vec![Reply::bulk(channel), Reply::Integer(expected)]);
        if reply == wanted {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Failure::new(format!(
                "PUBSUB NUMSUB {channel} still answered {} two seconds later, not {}",
                reply.describe(),
                wanted.describe()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn a_subscriber_that_leaves_is_gone(context: &mut Context) -> Result<(), Failure> {
    let count = context.rng.between(2, 6);
    let channels: Vec<String> = (0..count).map(|_| name(context, "ch")).collect();
    let names: Vec<&str> = channels.iter().map(String::as_str).collect();
    let pattern = format!("{}*", name(context, "p"));
    let leaves = {
        let mut client = subscriber(context, &names)?;
        client.command(
            &args(&["PSUBSCRIBE", &pattern]),
            &confirmation("psubscribe", Some(&pattern), count as i64 + 1),
        )?;
        client
    };
    let mut stays = subscriber(context, &names[..1])?;
    let mut publisher = context.connect()?;
    publisher.command(&args(&["PUBSUB", "NUMPAT"]), &Reply::Integer(1))?;
    drop(leaves);
    let explain = |failure: Failure| {
        failure.explain(
            "When a client disconnects (a read returns end of stream, or an error), remove it \
             from every channel and pattern it had, and remove a channel or pattern that has \
             no subscriber left: else a server that runs for months fills up with dead \
             subscriptions, and PUBLISH counts clients that are gone.",
        )
    };
    wait_for_numsub(&mut publisher, &channels[0], 1).map_err(explain)?;
    for channel in &channels[1..] {
        wait_for_numsub(&mut publisher, channel, 0).map_err(explain)?;
    }
    publisher
        .command(&args(&["PUBSUB", "NUMPAT"]), &Reply::Integer(0))
        .map_err(explain)?;
    publisher.send(&resp::command(&args(&["PUBSUB", "CHANNELS"])))?;
    publisher
        .expect_unordered(&[Reply::bulk(&channels[0])])
        .map_err(explain)?;
    for channel in &channels {
        let receivers = i64::from(channel == &channels[0]);
        publisher
            .command(
                &args(&["PUBLISH", channel, "x"]),
                &Reply::Integer(receivers),
            )
            .map_err(explain)?;
    }
    stays.expect(&message(&channels[0], "x"))?;
    stays.expect_nothing_more()
}

fn a_subscriber_that_never_reads_is_cut_off(context: &mut Context) -> Result<(), Failure> {
    let channel = name(context, "ch");
    /// Each message: 1 MiB. The most published before giving up: far more
    /// than Redis's 32 MB limit and the kernel's socket buffers together.
    const MESSAGE: usize = 1024 * 1024;
    const MOST: usize = 160;
    let body = context.rng.bytes(MESSAGE - 8);
    let memory_before = context.server.memory_kib();
    let stuck = subscriber(context, &[&channel])?;
    let mut reader = subscriber(context, &[&channel])?;
    let mut publisher = context.connect()?;
    let explain_stall = |failure: Failure| {
        failure.explain(
            "Another subscriber does not read: its socket's buffers are full. PUBLISH must not \
             wait for it: put messages in each subscriber's own queue, which its own writer \
             drains, and never let a publisher write to a socket that may block.",
        )
    };
    let mut published = 0;
    let mut counted_one = 0;
    while counted_one < 2 {
        if published == MOST {
            let mut failure = Failure::new(format!(
                "{MOST} MiB were published to a subscriber that never reads, and it was still \
                 subscribed (PUBLISH still counted 2)"
            ));
            if let (Some((before, _)), Some((after, _))) =
                (memory_before, context.server.memory_kib())
            {
                failure = failure.detail(
                    "memory",
                    format!(
                        "the server's resident memory grew from {} MiB to {} MiB",
                        before / 1024,
                        after / 1024
                    ),
                );
            }
            return Err(failure.hint(
                "A subscriber that does not read must not make the server hold what is \
                 published to it without end: cap the bytes waiting for it (Redis: 32 MB, or 8 \
                 MB for 60 seconds), and past the cap disconnect it, log it, and remove it from \
                 its channels. The others go on.",
            ));
        }
        let mut payload = format!("{published:07} ").into_bytes();
        payload.extend_from_slice(&body);
        publisher.send(&resp::command(&[b"PUBLISH", channel.as_bytes(), &payload]))?;
        let receivers = publisher
            .expect_integer_between(1, 2)
            .map_err(explain_stall)?;
        if receivers == 1 {
            counted_one += 1;
        }
        reader
            .expect(&message(&channel, &payload))
            .map_err(explain_stall)?;
        published += 1;
    }
    wait_for_numsub(&mut publisher, &channel, 1)?;
    drop(stuck);
    reader.expect_nothing_more()
}
