//! Stage 7: expiry. SET's options (NX, XX, GET, EX, PX, EXAT, PXAT,
//! KEEPTTL) with Redis's errors in Redis's order; a key that has expired is
//! never seen again, read or not (lazy expiry on every access, active expiry
//! for the keys nobody reads); TTL, PTTL, and DBSIZE, which shows active
//! expiry from outside.
//!
//! Times are generous: a learner's server on a busy laptop must not fail
//! on a clock that is a few milliseconds late.

use std::time::{Duration, Instant};

use super::expect_errors;
use crate::check::{Check, Context, Failure, Stage};
use crate::resp::{self, Reply};

pub static STAGE: Stage = Stage {
    number: 7,
    name: "expiry",
    summary: "keys that expire: SET's options, TTL, DBSIZE",
    builds_on: &[1, 2, 3, 4, 5, 6],
    base: 6,
    checks: &[
        Check {
            title: "a key set with PX or EX lives its time, then GET finds nothing",
            run: a_key_expires,
        },
        Check {
            title: "SET without KEEPTTL clears a key's expiry, with KEEPTTL keeps it; EXAT and PXAT are Unix times",
            run: keepttl_exat_and_pxat,
        },
        Check {
            title: "SET NX only when absent, SET XX only when present, SET GET returns the old value",
            run: set_nx_xx_and_get,
        },
        Check {
            title: "a key that expired unread counts as absent: SET NX fails while it lives, then succeeds",
            run: an_unread_expired_key_is_absent,
        },
        Check {
            title: "TTL and PTTL: -2 for a missing or expired key, -1 without expiry, else the time left",
            run: ttl_and_pttl,
        },
        Check {
            title: "keys that expire while nobody reads them are deleted (DBSIZE drops)",
            run: unread_expired_keys_are_deleted,
        },
        Check {
            title: "SET's options, TTL, PTTL and DBSIZE get Redis's errors, in Redis's order",
            run: errors_as_redis,
        },
    ],
};

fn ok() -> Reply {
    Reply::simple("OK")
}

fn a_key_expires(context: &mut Context) -> Result<(), Failure> {
    let (key, value) = (context.rng.word(), context.rng.word());
    let lifetime = context.rng.between(300, 500);
    let seconds = format!("{key}-ex");
    let (key, value, seconds) = (key.as_bytes(), value.as_bytes(), seconds.as_bytes());
    let px = lifetime.to_string();
    context.title(format!(
        "a key set with PX {lifetime} or EX 2 lives its time, then GET finds nothing"
    ));
    let mut client = context.connect()?;
    client
        .command(&[b"SET", key, value, b"PX", px.as_bytes()], &ok())
        .map_err(|failure| failure.explain("SET key value PX <milliseconds> answers +OK."))?;
    // EX counts seconds: 2 s outlives the wait below; 2 ms would not.
    client.command(&[b"SET", seconds, value, b"ex", b"2"], &ok())?;
    client.command(&[b"GET", key], &Reply::bulk(value)).map_err(|failure| {
        failure.explain(format!(
            "The key was set to live {lifetime} ms, and this GET came at once: it must still be there."
        ))
    })?;
    std::thread::sleep(Duration::from_millis(lifetime as u64 + 400));
    client
        .command(&[b"GET", key], &Reply::NullBulk)
        .map_err(|failure| {
            failure.explain(format!(
                "The key was set with PX {lifetime} and read {} ms later: it has expired, and an \
                 expired key is never returned. Store when it expires, and check on every read.",
                lifetime + 400
            ))
        })?;
    client
        .command(&[b"GET", seconds], &Reply::bulk(value))
        .map_err(|failure| {
            failure.explain("EX counts seconds, PX milliseconds: EX 2 lives 2,000 ms.")
        })?;
    client.expect_nothing_more()
}

/// After a failure: does a key set with PX 1 outlive its millisecond? Then
/// the server ignores expiry altogether, whatever option the check tried.
fn keeps_no_expiry(context: &mut Context) -> bool {
    let probe: &[u8] = b"expiry-probe";
    let Ok(mut client) = context.connect() else {
        return false;
    };
    if client
        .command(&[b"SET", probe, b"v", b"PX", b"1"], &ok())
        .is_err()
    {
        return false;
    }
    std::thread::sleep(Duration::from_millis(50));
    client.command(&[b"GET", probe], &Reply::bulk("v")).is_ok()
}

fn keepttl_exat_and_pxat(context: &mut Context) -> Result<(), Failure> {
    let key = context.rng.word();
    let (cleared, kept, past, future) = (
        format!("{key}-cleared"),
        format!("{key}-keepttl"),
        format!("{key}-exat"),
        format!("{key}-pxat"),
    );
    let (cleared, kept, past, future) = (
        cleared.as_bytes(),
        kept.as_bytes(),
        past.as_bytes(),
        future.as_bytes(),
    );
    let mut client = context.connect()?;
    // A plain SET replaces the value and its expiry: this key lives on.
    client.command(&[b"SET", cleared, b"first", b"PX", b"400"], &ok())?;
    client.command(&[b"SET", cleared, b"second"], &ok())?;
    // KEEPTTL keeps the 400 ms of the first SET through the second.
    client.command(&[b"SET", kept, b"first", b"PX", b"400"], &ok())?;
    client.command(&[b"SET", kept, b"second", b"KEEPTTL"], &ok())?;
    // EXAT and PXAT are Unix times: one long past, one far ahead.
    client.command(&[b"SET", past, b"v", b"EXAT", b"1"], &ok())?;
    client.command(&[b"SET", future, b"v", b"PXAT", b"99999999999999"], &ok())?;
    if let Err(failure) = client.command(&[b"GET", past], &Reply::NullBulk) {
        return Err(if keeps_no_expiry(context) {
            failure.cause(
                "Your server keeps no expiry at all: a key set with PX 1 is still there 50 ms \
                 later. Make `SET k v PX 100` expire first (the first check of this stage); \
                 EXAT and PXAT are the same deadline, given as a Unix time.",
            )
        } else {
            failure.explain("EXAT 1 is a second after 1970: the key has expired already.")
        });
    }
    client.command(&[b"GET", kept], &Reply::bulk("second"))?;
    std::thread::sleep(Duration::from_millis(800));
    client
        .command(&[b"GET", cleared], &Reply::bulk("second"))
        .map_err(|failure| {
            failure.explain(
                "The key was set with PX 400, then SET again without options: a SET replaces \
                 the value and forgets the old expiry time, so the key lives on.",
            )
        })?;
    client
        .command(&[b"GET", kept], &Reply::NullBulk)
        .map_err(|failure| {
            failure.explain(
                "SET ... KEEPTTL replaces the value and keeps the key's expiry time: here the \
                 400 ms of the first SET, long gone.",
            )
        })?;
    client
        .command(&[b"GET", future], &Reply::bulk("v"))
        .map_err(|failure| {
            failure.explain("PXAT 99999999999999 is a Unix time in milliseconds, in the year 5138.")
        })?;
    client.expect_nothing_more()
}

fn set_nx_xx_and_get(context: &mut Context) -> Result<(), Failure> {
    let (key, first, second) = (context.rng.word(), context.rng.word(), context.rng.word());
    let (key, first, second) = (key.as_bytes(), first.as_bytes(), second.as_bytes());
    let mut client = context.connect()?;
    let hint = "SET ... NX sets only a missing key, XX only an existing one; when nothing is set, \
                the reply is the null bulk string $-1\\r\\n.";
    client
        .command(&[b"SET", key, first, b"XX"], &Reply::NullBulk)
        .map_err(|f| f.explain(hint))?;
    client.command(&[b"GET", key], &Reply::NullBulk)?;
    client
        .command(&[b"SET", key, first, b"NX"], &ok())
        .map_err(|f| f.explain(hint))?;
    client
        .command(&[b"SET", key, second, b"nx"], &Reply::NullBulk)
        .map_err(|f| f.explain(hint))?;
    client.command(&[b"GET", key], &Reply::bulk(first))?;
    client
        .command(&[b"SET", key, second, b"xx"], &ok())
        .map_err(|f| f.explain(hint))?;
    client.command(&[b"GET", key], &Reply::bulk(second))?;
    // SET ... GET replies with the value it replaced (or nil).
    let explain_get = |f: Failure| {
        f.explain("SET ... GET replies with the old value (nil if there was none) instead of OK.")
    };
    client
        .command(&[b"SET", key, first, b"GET"], &Reply::bulk(second))
        .map_err(explain_get)?;
    client.command(&[b"GET", key], &Reply::bulk(first))?;
    let missing = [key, b"-missing"].concat();
    client
        .command(&[b"SET", &missing, first, b"GET"], &Reply::NullBulk)
        .map_err(explain_get)?;
    client.command(&[b"GET", &missing], &Reply::bulk(first))?;
    client.expect_nothing_more()
}

fn an_unread_expired_key_is_absent(context: &mut Context) -> Result<(), Failure> {
    let (key, old, new) = (context.rng.word(), context.rng.word(), context.rng.word());
    let (key, old, new) = (key.as_bytes(), old.as_bytes(), new.as_bytes());
    let mut client = context.connect()?;
    client.command(&[b"SET", key, old, b"PX", b"300"], &ok())?;
    // While it lives, NX must refuse: a server that ignores NX (or PX)
    // cannot pass the rest by luck.
    client
        .command(&[b"SET", key, new, b"NX"], &Reply::NullBulk)
        .map_err(|failure| {
            failure.explain(
                "The key was set 300 ms to live, and is still there: SET ... NX must not \
                 replace it, and answers the null bulk string.",
            )
        })?;
    std::thread::sleep(Duration::from_millis(700));
    client
        .command(&[b"SET", key, new, b"NX"], &ok())
        .map_err(|failure| {
            failure.explain(
                "The key expired 400 ms ago and nobody read it since: it counts as absent, for \
                 SET NX as for GET. Check the expiry time wherever a key is looked up, writes \
                 included.",
            )
        })?;
    client.command(&[b"GET", key], &Reply::bulk(new))?;
    client.expect_nothing_more()
}

fn ttl_and_pttl(context: &mut Context) -> Result<(), Failure> {
    let (forever, timed, missing) = (context.rng.word(), context.rng.word(), context.rng.word());
    let seconds = context.rng.between(50, 500);
    let (forever, timed, short, missing) = (
        format!("f-{forever}"),
        format!("t-{timed}"),
        format!("s-{timed}"),
        format!("m-{missing}"),
    );
    context.title(format!(
        "TTL and PTTL: -2 for a missing or expired key, -1 without expiry, else the time left ({seconds} s)"
    ));
    let mut client = context.connect()?;
    let explain = |failure: Failure| {
        failure.explain(
            "TTL answers in seconds (rounded to the nearest), PTTL in milliseconds: -2 when the \
             key does not exist (or has expired), -1 when it exists without an expiry time.",
        )
    };
    for command in [&b"TTL"[..], b"PTTL"] {
        client
            .command(&[command, missing.as_bytes()], &Reply::Integer(-2))
            .map_err(explain)?;
    }
    client.command(&[b"SET", forever.as_bytes(), b"v"], &ok())?;
    for command in [&b"TTL"[..], b"pttl"] {
        client
            .command(&[command, forever.as_bytes()], &Reply::Integer(-1))
            .map_err(explain)?;
    }
    let ex = seconds.to_string();
    client.command(
        &[b"SET", timed.as_bytes(), b"v", b"EX", ex.as_bytes()],
        &ok(),
    )?;
    let seconds = seconds as i64;
    client.send(&resp::command(&[b"TTL", timed.as_bytes()]))?;
    client
        .expect_integer_between(seconds - 1, seconds)
        .map_err(explain)?;
    client.send(&resp::command(&[b"PTTL", timed.as_bytes()]))?;
    client
        .expect_integer_between(seconds * 1000 - 2_000, seconds * 1000)
        .map_err(explain)?;
    client.command(&[b"SET", short.as_bytes(), b"v", b"PX", b"200"], &ok())?;
    std::thread::sleep(Duration::from_millis(600));
    for command in [&b"TTL"[..], b"PTTL"] {
        client
            .command(&[command, short.as_bytes()], &Reply::Integer(-2))
            .map_err(explain)?;
    }
    client.expect_nothing_more()
}

fn unread_expired_keys_are_deleted(context: &mut Context) -> Result<(), Failure> {
    let prefix = context.rng.word();
    let (short, long) = (context.rng.between(150, 250), context.rng.between(10, 30));
    let total = short + long;
    context.title(format!(
        "keys that expire while nobody reads them are deleted (DBSIZE drops from {total} to {long})"
    ));
    let mut client = context.connect()?;
    client
        .command(&[b"DBSIZE"], &Reply::Integer(0))
        .map_err(|failure| failure.explain("DBSIZE answers the number of keys: 0 at first."))?;
    let mut bytes = Vec::new();
    for i in 0..short {
        let key = format!("{prefix}:short:{i}");
        bytes.extend(resp::command(&[
            b"SET",
            key.as_bytes(),
            b"v",
            b"PX",
            b"100",
        ]));
    }
    for i in 0..long {
        let key = format!("{prefix}:long:{i}");
        bytes.extend(resp::command(&[b"SET", key.as_bytes(), b"v"]));
    }
    client.send(&bytes)?;
    client.expect_all(&vec![ok(); total])?;
    // Nobody reads the short-lived keys. A server with active expiry deletes
    // them on its own within a few hundred milliseconds; allow three seconds.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut last = total as i64;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        client.send(&resp::command(&[b"DBSIZE"]))?;
        last = client
            .expect_integer_between(long as i64, total as i64)
            .map_err(|failure| {
                failure.explain(format!(
                    "DBSIZE counts the keys stored: {total} were set, {long} of them without \
                     expiry, and none deleted."
                ))
            })?;
        if last == long as i64 {
            return client.expect_nothing_more();
        }
    }
    Err(Failure::new(format!(
        "DBSIZE still counted {last} keys 3 s after {short} of the {total} expired unread \
         (expected {long})"
    ))
    .hint(
        "DBSIZE counts keys that have expired but were not deleted yet, as Redis does. A server \
         that deletes expired keys only when they are read keeps them forever if nobody reads \
         them: also delete them from a background task that wakes up when the next key is due.",
    ))
}

fn errors_as_redis(context: &mut Context) -> Result<(), Failure> {
    let cases: [(&[&[u8]], &str); 14] = [
        (&[b"SET", b"k", b"v", b"NOPE"], "ERR syntax error"),
        (&[b"SET", b"k", b"v", b"NX", b"XX"], "ERR syntax error"),
        (&[b"SET", b"k", b"v", b"EX"], "ERR syntax error"),
        (
            &[b"SET", b"k", b"v", b"EX", b"1", b"PX", b"5"],
            "ERR syntax error",
        ),
        (
            &[b"SET", b"k", b"v", b"PX", b"5", b"KEEPTTL"],
            "ERR syntax error",
        ),
        // Every option is read before any number: the syntax error wins.
        (
            &[b"SET", b"k", b"v", b"EX", b"soon", b"NX", b"XX"],
            "ERR syntax error",
        ),
        (
            &[b"SET", b"k", b"v", b"EX", b"soon"],
            "ERR value is not an integer or out of range",
        ),
        (
            &[b"SET", b"k", b"v", b"PX", b"1.5", b"GET"],
            "ERR value is not an integer or out of range",
        ),
        (
            &[b"SET", b"k", b"v", b"EX", b"0"],
            "ERR invalid expire time in 'set' command",
        ),
        (
            &[b"SET", b"k", b"v", b"PX", b"-5"],
            "ERR invalid expire time in 'set' command",
        ),
        (
            &[b"SET", b"k", b"v", b"EX", b"9223372036854775"],
            "ERR invalid expire time in 'set' command",
        ),
        (&[b"TTL"], "ERR wrong number of arguments for 'ttl' command"),
        (
            &[b"PTTL", b"a", b"b"],
            "ERR wrong number of arguments for 'pttl' command",
        ),
        (
            &[b"DBSIZE", b"x"],
            "ERR wrong number of arguments for 'dbsize' command",
        ),
    ];
    let mut client = context.connect()?;
    expect_errors(
        &mut client,
        cases.map(|(args, error)| (args, Reply::error(error))),
        "Redis reads all of SET's options first (a word it does not know, a repeated or \
         conflicting option, or an option missing its number is a syntax error), then the \
         number: not an integer, then not a time it can keep (0, negative, or past the end of \
         its clock: for `EX 9223372036854775`, now + 9223372036854775000 ms overflows a 64-bit \
         count of milliseconds since 1970).",
    )?;
    // None of the failed SETs stored anything.
    client
        .command(&[b"GET", b"k"], &Reply::NullBulk)
        .map_err(|failure| {
            failure.explain("A SET that answered an error must not store its value.")
        })?;
    client.expect_nothing_more()
}
