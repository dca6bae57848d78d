//! Stage 9: our own hash table, seen from outside through `DEBUG HTSTATS 0`
//! as Redis 7.0 prints it. Its size is a power of two that doubles when a
//! key is added to a full table; the keys then move to the new table a
//! bucket at a time, with the commands that follow and when the server is
//! idle, and every key stays in reach meanwhile.
//!
//! A server without a table of its own cannot answer DEBUG HTSTATS, and
//! made-up figures do not survive these checks: they must add up, follow
//! the keys added, spread as a hash function spreads keys, and show a
//! rehash that starts, moves with each command, and ends.

use std::time::{Duration, Instant};

use crate::check::{Check, Context, Failure, Stage};
use crate::client::Client;
use crate::escape::caret_diff;
use crate::htstats::{self, Dictionary, HtStats};
use crate::random::Rng;
use crate::resp::{self, Reply};

pub static STAGE: Stage = Stage {
    number: 9,
    name: "hash-table",
    summary: "our own hash table, with progressive rehashing",
    builds_on: &[1, 2, 3, 4, 5, 6, 7, 8],
    base: 8,
    checks: &[
        Check {
            title: "DEBUG HTSTATS 0 prints the tables as Redis 7.0 does: no keys, one key, a key with an expiry",
            run: prints_the_tables_as_redis,
        },
        Check {
            title: "as keys are added, the table's size is a power of two that doubles when it is full, and its figures add up to DBSIZE",
            run: grows_in_powers_of_two,
        },
        Check {
            title: "1,000 keys spread over the slots as a hash function spreads them",
            run: keys_spread_over_the_slots,
        },
        Check {
            title: "adding a key to a full table starts a rehash into a table twice as big",
            run: a_full_table_starts_a_rehash,
        },
        Check {
            title: "the rehash moves keys a few at a time: after each of the next commands both tables hold keys",
            run: the_rehash_is_gradual,
        },
        Check {
            title: "a rehash ends within as many commands as the old table has slots",
            run: the_rehash_ends_within_a_bound,
        },
        Check {
            title: "a rehash also ends while no client sends anything",
            run: the_rehash_ends_when_idle,
        },
        Check {
            title: "every key is found, and SET replaces in place, while the table is being rehashed",
            run: keys_are_found_during_a_rehash,
        },
    ],
};

fn ok() -> Reply {
    Reply::simple("OK")
}

/// Where a learner whose server has no table of its own reads what to do.
const ASKS_FOR_A_TABLE: &str = "this stage asks for your own hash table, visible through DEBUG \
     HTSTATS: the tester reads the table's size, its keys and its chains from outside";

fn htstats_command() -> Vec<u8> {
    resp::command(&[b"DEBUG", b"HTSTATS", b"0"])
}

/// `DEBUG HTSTATS 0`'s text, as a report shows it: each line after a `|`,
/// so that its leading spaces show.
fn htstats_block(text: &[u8]) -> String {
    let mut block = "htstats:  DEBUG HTSTATS 0 answered:".to_string();
    for line in String::from_utf8_lossy(text)
        .trim_end_matches('\n')
        .split('\n')
    {
        block.push_str("\n          | ");
        block.push_str(line);
    }
    block
}

/// Reads the reply to a `DEBUG HTSTATS 0` already sent: the figures, and
/// the text they were read from.
pub fn read_stats(client: &mut Client) -> Result<(HtStats, Vec<u8>), Failure> {
    let reply = client.expect_matching("the bulk string of DEBUG HTSTATS 0", |_: &Reply| true)?;
    let text = match reply {
        Reply::Bulk(text) => text,
        other => {
            return Err(Failure::new(format!(
                "{ASKS_FOR_A_TABLE}; DEBUG HTSTATS 0 answered {}",
                other.describe()
            ))
            .hint(format!(
                "Answer `DEBUG HTSTATS 0` with a bulk string holding the statistics of your \
                 table, line for line as Redis 7.0 prints them; for an empty key space:\n{}",
                htstats::EMPTY_DATABASE.trim_end()
            )));
        }
    };
    let stats = htstats::parse(&text).map_err(|error| {
        Failure::new(format!(
            "{ASKS_FOR_A_TABLE}; its text is not as Redis 7.0 prints it: line {}: expected {}, \
             found {}",
            error.line, error.expected, error.found
        ))
        .block(htstats_block(&text))
        .hint(
            "Each table's block is `Hash table <n> stats (<role>):` then ` table size: `, \
             ` number of elements: `, ` different slots: `, ` max chain length: `, the two \
             ` avg chain length` lines with two decimals, ` Chain length distribution:` and a \
             line `   <length>: <slots> (<percent>%)` for each length that occurs; every line \
             ends with \\n. `redis-cli DEBUG HTSTATS 0` against a real Redis (started with \
             --enable-debug-command yes) shows it.",
        )
    })?;
    for (name, dictionary) in [
        ("[Dictionary HT]", &stats.keys),
        ("[Expires HT]", &stats.expires),
    ] {
        for table in [&dictionary.main, &dictionary.target].into_iter().flatten() {
            if let Some(why) = table.inconsistency() {
                return Err(Failure::new(format!(
                    "DEBUG HTSTATS 0's figures for {name} do not add up: {why}"
                ))
                .block(htstats_block(&text))
                .hint(format!(
                    "The figures are counted from the table itself: walk its buckets, count \
                     each chain's length, and print what you counted. Figures made up to look \
                     right do not add up for long ({ASKS_FOR_A_TABLE})."
                )));
            }
        }
    }
    Ok((stats, text))
}

/// Sends `DEBUG HTSTATS 0` and reads its reply.
pub fn ask_htstats(client: &mut Client) -> Result<(HtStats, Vec<u8>), Failure> {
    client.send(&htstats_command())?;
    read_stats(client)
}

/// The size Redis's table has for `keys` keys when no rehash is going on:
/// 4 slots at first, doubled each time a key is added to a full table.
pub fn size_for(keys: u64) -> u64 {
    keys.next_power_of_two().max(4)
}

/// Checks a dictionary's size against its keys: `size_for` at rest, or
/// while rehashing a target twice the size of a table that was full.
fn check_growth(name: &str, dictionary: &Dictionary, text: &[u8]) -> Result<(), Failure> {
    let keys = dictionary.elements();
    let failure = |problem: String| {
        Failure::new(problem).block(htstats_block(text)).hint(
            "Redis's table starts with 4 slots. When a key is added to a full table (as many \
             keys as slots), a table twice as big is made and the keys start moving to it; \
             while they move, no other table is made.",
        )
    };
    match (&dictionary.main, &dictionary.target) {
        (None, _) => Ok(()),
        (Some(main), None) if main.size != size_for(keys) => Err(failure(format!(
            "{name}: {keys} keys in a table of {} slots, where Redis's table has {}",
            main.size,
            size_for(keys)
        ))),
        (Some(main), Some(target)) if target.size != 2 * main.size || main.size >= keys => {
            Err(failure(format!(
                "{name}: a rehash from {} slots into {} with {keys} keys: a table grows to twice \
                 its size, when a key is added to it full",
                main.size, target.size
            )))
        }
        _ => Ok(()),
    }
}

/// Keys `<prefix>:0`, `<prefix>:1`, ... set in order, each with its own
/// value, so that every GET can be checked.
pub(super) struct Keys {
    pub(super) prefix: String,
    tag: String,
    pub(super) count: u64,
}

impl Keys {
    pub(super) fn new(rng: &mut Rng) -> Keys {
        Keys {
            prefix: rng.word(),
            tag: rng.word(),
            count: 0,
        }
    }

    pub(super) fn key(&self, i: u64) -> String {
        format!("{}:{i}", self.prefix)
    }

    pub(super) fn value(&self, i: u64) -> String {
        format!("{i}-{}", self.tag)
    }

    pub(super) fn set(&self, i: u64) -> Vec<u8> {
        resp::command(&[b"SET", self.key(i).as_bytes(), self.value(i).as_bytes()])
    }

    pub(super) fn get(&self, i: u64) -> Vec<u8> {
        resp::command(&[b"GET", self.key(i).as_bytes()])
    }

    /// Sets keys up to `target`, 1,000 to a write.
    fn fill_to(&mut self, client: &mut Client, target: u64) -> Result<(), Failure> {
        while self.count < target {
            let end = target.min(self.count + 1_000);
            let bytes: Vec<u8> = (self.count..end).flat_map(|i| self.set(i)).collect();
            client.send(&bytes)?;
            client.expect_all(&vec![ok(); (end - self.count) as usize])?;
            self.count = end;
        }
        Ok(())
    }

    /// GETs `count` keys picked at random, in one write, and checks each value.
    fn get_some(&self, client: &mut Client, rng: &mut Rng, count: u64) -> Result<(), Failure> {
        let picked: Vec<u64> = (0..count)
            .map(|_| rng.between(0, self.count as usize - 1) as u64)
            .collect();
        let bytes: Vec<u8> = picked.iter().flat_map(|&i| self.get(i)).collect();
        client.send(&bytes)?;
        let expected: Vec<Reply> = picked.iter().map(|&i| Reply::bulk(self.value(i))).collect();
        client.expect_all(&expected).map_err(|failure| {
            failure.explain(
                "A key must be found wherever it is: while a rehash is on, look in both \
                 tables (the old one first, then the new one).",
            )
        })
    }
}

/// Drives a rehash in progress to its end with GETs, 64 to a write, and
/// returns the table at rest.
pub(super) fn finish_rehash(
    client: &mut Client,
    keys: &Keys,
    rng: &mut Rng,
) -> Result<HtStats, Failure> {
    let mut sent = 0;
    loop {
        let (stats, text) = ask_htstats(client)?;
        if !stats.keys.rehashing() {
            return Ok(stats);
        }
        let old_size = stats.keys.size();
        if sent > old_size + 64 {
            return Err(Failure::new(format!(
                "a rehash from {old_size} slots was still going after {sent} GETs"
            ))
            .block(htstats_block(&text))
            .hint(REHASH_STEP));
        }
        keys.get_some(client, rng, 64)?;
        sent += 64;
    }
}

const REHASH_STEP: &str = "While a rehash is on, every command that looks up, adds or deletes a \
     key first moves one bucket of the old table (its whole chain) to the new one, skipping up \
     to 10 empty buckets, as Redis's `_dictRehashStep` does. A table of N slots is then moved \
     within N commands.";

/// Fills the table to `size` keys (a full table), lets it come to rest,
/// then adds one key with `DEBUG HTSTATS 0` in the same write: what the
/// table looks like right after.
fn add_to_full_table(
    client: &mut Client,
    keys: &mut Keys,
    rng: &mut Rng,
    size: u64,
) -> Result<(HtStats, Vec<u8>), Failure> {
    keys.fill_to(client, size)?;
    let at_rest = finish_rehash(client, keys, rng)?;
    if at_rest.keys.size() != size || at_rest.keys.elements() != size {
        return Err(Failure::new(format!(
            "{size} keys (DBSIZE {size}) in a table of {} slots holding {} elements, where \
             Redis's table has {size} slots",
            at_rest.keys.size(),
            at_rest.keys.elements()
        ))
        .hint(
            "Redis's table starts with 4 slots and doubles when a key is added to a full table \
             (as many keys as slots): 5 keys make 8 slots, 8 keys stay in 8.",
        ));
    }
    let bytes = [keys.set(size), htstats_command()].concat();
    client.send(&bytes)?;
    client.expect(&ok())?;
    keys.count = size + 1;
    let (after, text) = read_stats(client)?;
    if after.keys.elements() != size + 1 {
        return Err(Failure::new(format!(
            "after the key number {} was added, the tables hold {} elements",
            size + 1,
            after.keys.elements()
        ))
        .block(htstats_block(&text))
        .hint("Every key is in exactly one of the two tables: count them in both."));
    }
    Ok((after, text))
}

/// A size of `2^low` to `2^high` slots, at random.
fn random_size(rng: &mut Rng, low: u32, high: u32) -> u64 {
    1 << rng.between(low as usize, high as usize)
}

fn prints_the_tables_as_redis(context: &mut Context) -> Result<(), Failure> {
    let (key, timed) = (context.rng.word(), context.rng.word());
    let timed = format!("{key}-{timed}");
    let mut client = context.connect()?;
    let compare = |expected: &str, text: &[u8], after: &str| {
        if text == expected.as_bytes() {
            return Ok(());
        }
        Err(Failure::new(format!(
            "DEBUG HTSTATS 0 {after} is not what Redis 7.0 prints"
        ))
        .block(caret_diff(expected.as_bytes(), text))
        .hint(
            "Redis's table starts with 4 slots (when the first key arrives), and a key with \
             an expiry is also in the second dictionary, [Expires HT]. An empty one prints \
             \"No stats available for empty dictionaries\".",
        ))
    };
    let (_, text) = ask_htstats(&mut client)?;
    compare(htstats::EMPTY_DATABASE, &text, "with no keys")?;
    client.command(&[b"SET", key.as_bytes(), b"v"], &ok())?;
    let (_, text) = ask_htstats(&mut client)?;
    let one_key = htstats::render_table(0, &htstats::one_key(4));
    let no_expires = "[Expires HT]\nHash table 0 stats (main hash table):\n\
                      No stats available for empty dictionaries\n";
    compare(
        &format!("[Dictionary HT]\n{one_key}{no_expires}"),
        &text,
        "after one SET",
    )?;
    client.command(&[b"SET", timed.as_bytes(), b"v", b"EX", b"1000"], &ok())?;
    let (stats, text) = ask_htstats(&mut client)?;
    if stats.keys.elements() != 2 || stats.keys.size() != 4 || stats.keys.rehashing() {
        return Err(Failure::new(
            "after a second SET, DEBUG HTSTATS 0 does not show 2 elements in a table of 4 slots"
                .to_string(),
        )
        .block(htstats_block(&text)));
    }
    let expires_start = text
        .windows(b"[Expires HT]".len())
        .position(|window| window == b"[Expires HT]")
        .unwrap_or(0);
    compare(
        &format!("[Expires HT]\n{one_key}"),
        &text[expires_start..],
        "after a SET with EX, in its [Expires HT] part,",
    )
    .map_err(|failure| {
        failure.explain(
            "[Expires HT] describes the table of keys that have an expiry time: here one key, \
             in a table of 4 slots.",
        )
    })?;
    client.expect_nothing_more()
}

fn grows_in_powers_of_two(context: &mut Context) -> Result<(), Failure> {
    let total = context.rng.between(200, 600) as u64;
    context.title(format!(
        "as {total} keys are added, the table's size is a power of two that doubles when it is full, and its figures add up to DBSIZE"
    ));
    let prefix = context.rng.word();
    let mut client = context.connect()?;
    let (mut added, mut timed) = (0u64, 0u64);
    while added < total {
        let batch = (context.rng.between(1, 40) as u64).min(total - added);
        let mut bytes = Vec::new();
        for i in added..added + batch {
            let key = format!("{prefix}:{i}");
            if context.rng.between(0, 3) == 0 {
                bytes.extend(resp::command(&[
                    b"SET",
                    key.as_bytes(),
                    b"v",
                    b"EX",
                    b"1000",
                ]));
                timed += 1;
            } else {
                bytes.extend(resp::command(&[b"SET", key.as_bytes(), b"v"]));
            }
        }
        bytes.extend(htstats_command());
        bytes.extend(resp::command(&[b"DBSIZE"]));
        client.send(&bytes)?;
        client.expect_all(&vec![ok(); batch as usize])?;
        added += batch;
        let (stats, text) = read_stats(&mut client)?;
        client.expect(&Reply::Integer(added as i64))?;
        let explain = |problem: String| {
            Failure::new(problem).block(htstats_block(&text)).hint(
                "number of elements is the keys in that table: the two tables of a rehash hold \
                 every key once between them, and [Expires HT] holds the keys that have an \
                 expiry time.",
            )
        };
        if stats.keys.elements() != added {
            return Err(explain(format!(
                "after {added} SETs of new keys (DBSIZE {added}), [Dictionary HT] counts {} \
                 elements",
                stats.keys.elements()
            )));
        }
        if stats.expires.elements() != timed {
            return Err(explain(format!(
                "{timed} of the {added} keys have an expiry time, but [Expires HT] counts {} \
                 elements",
                stats.expires.elements()
            )));
        }
        check_growth("[Dictionary HT]", &stats.keys, &text)?;
        check_growth("[Expires HT]", &stats.expires, &text)?;
    }
    client.expect_nothing_more()
}

fn keys_spread_over_the_slots(context: &mut Context) -> Result<(), Failure> {
    let count = context.rng.between(700, 1_000) as u64;
    context.title(format!(
        "{count} keys spread over 1,024 slots as a hash function spreads them"
    ));
    let mut keys = Keys::new(&mut context.rng);
    let mut client = context.connect()?;
    keys.fill_to(&mut client, count)?;
    keys.get_some(&mut client, &mut context.rng, 64)?;
    finish_rehash(&mut client, &keys, &mut context.rng)?;
    // Nothing changes between two looks: the same text twice.
    let (stats, text) = ask_htstats(&mut client)?;
    let (_, again) = ask_htstats(&mut client)?;
    if again != text {
        return Err(Failure::new(
            "DEBUG HTSTATS 0 answered differently twice in a row, with no command between"
                .to_string(),
        )
        .block(caret_diff(&text, &again))
        .hint(format!(
            "The figures describe the table as it is; nothing changed it between the two \
             looks ({ASKS_FOR_A_TABLE})."
        )));
    }
    let Some(table) = stats
        .keys
        .main
        .as_ref()
        .filter(|_| stats.keys.size() == 1024)
    else {
        return Err(Failure::new(format!(
            "{count} keys at rest in a table of {} slots, where Redis's table has 1024",
            stats.keys.size()
        ))
        .block(htstats_block(&text)));
    };
    // With n keys hashed at random into m slots, the slots in use are
    // m (1 - (1 - 1/m)^n) on average, give or take a few tens: far fewer
    // than n (keys share slots), far more than a bad hash fills.
    let (n, m) = (count as f64, table.size as f64);
    let expected = m * (1.0 - (1.0 - 1.0 / m).powf(n));
    let spread = 0.1 * expected;
    if (table.slots as f64 - expected).abs() > spread || table.max_chain > 12 {
        return Err(Failure::new(format!(
            "{count} keys in {} slots occupy {} different slots, the longest chain {}: a hash \
             function that spreads keys at random fills {:.0} to {:.0} of them, with chains of 3 to 8",
            table.size,
            table.slots,
            table.max_chain,
            expected - spread,
            expected + spread
        ))
        .block(htstats_block(&text))
        .hint(if table.slots as f64 > expected {
            format!(
                "Fewer keys share a slot than chance allows: the figures are not counted from \
                 a table ({ASKS_FOR_A_TABLE})."
            )
        } else {
            format!(
                "Too few slots, long chains: the hash function sends similar keys (here \
                 `{0}:0`, `{0}:1`, ...) to the same few slots. Use a real one (SipHash, as \
                 Redis and std's `DefaultHasher` do, or FNV-1a) and take its low bits.",
                keys.prefix
            )
        }));
    }
    client.expect_nothing_more()
}

/// Adds a key to full tables of `size`, then twice and four times that,
/// until the table right after shows a rehash: the stats then, or the last
/// stats seen (no rehash ever shown).
pub(super) fn try_to_see_a_rehash(
    client: &mut Client,
    keys: &mut Keys,
    rng: &mut Rng,
    size: u64,
) -> Result<(u64, HtStats, Vec<u8>), Failure> {
    let mut last = None;
    for attempt in 0..3 {
        let size = size << attempt;
        let (after, text) = add_to_full_table(client, keys, rng, size)?;
        if after.keys.rehashing() {
            return Ok((size, after, text));
        }
        last = Some((size, after, text));
    }
    Ok(last.expect("three attempts"))
}

fn a_full_table_starts_a_rehash(context: &mut Context) -> Result<(), Failure> {
    let size = random_size(&mut context.rng, 6, 8);
    let mut keys = Keys::new(&mut context.rng);
    let mut client = context.connect()?;
    let (size, after, text) = try_to_see_a_rehash(&mut client, &mut keys, &mut context.rng, size)?;
    let problem = match (&after.keys.main, &after.keys.target) {
        (Some(main), Some(target)) if main.size == size && target.size == 2 * size => {
            return client.expect_nothing_more();
        }
        (Some(main), Some(target)) => format!(
            "a key added to a full table of {size} slots started a rehash from {} into {} slots",
            main.size, target.size
        ),
        (Some(main), None) if main.size == 2 * size => format!(
            "three times, a key added to a full table ({size} slots the last time) left one \
             table of {} slots, its keys all moved before the next command: no rehash in \
             progress to be seen",
            main.size
        ),
        (main, _) => format!(
            "a key added to a full table of {size} slots left one table of {} slots and no \
             rehash",
            main.as_ref().map_or(0, |table| table.size)
        ),
    };
    Err(Failure::new(problem).block(htstats_block(&text)).hint(
        "When a key is added to a full table, make a second table twice the size and start \
         moving keys into it: DEBUG HTSTATS 0 then shows `Hash table 1 stats (rehashing \
         target):`. Moving every key at once would stall every client for as long as that \
         takes, which grows with the table.",
    ))
}

fn the_rehash_is_gradual(context: &mut Context) -> Result<(), Failure> {
    let size = random_size(&mut context.rng, 6, 8);
    let mut keys = Keys::new(&mut context.rng);
    let mut client = context.connect()?;
    let mut rng = context.rng.clone();
    let mut size = size;
    for attempt in 1..=3 {
        let (after, text) = add_to_full_table(&mut client, &mut keys, &mut rng, size)?;
        let problem = match follow_the_next_commands(&mut client, &keys, &mut rng, size, after)? {
            RehashSeen::Gradual => return client.expect_nothing_more(),
            RehashSeen::NoRehash => format!(
                "three times (the last with a full table of {size} slots), a key added to a \
                 full table left no rehash in progress to be seen"
            ),
            RehashSeen::EndedEarly => format!(
                "three times (the last with a table of {size} slots), the rehash had ended \
                 within 3 commands after it began: it moves too much at once"
            ),
        };
        if attempt == 3 {
            return Err(Failure::new(problem)
                .block(htstats_block(&text))
                .hint(REHASH_STEP));
        }
        size *= 2;
    }
    unreachable!("the loop returns on its third attempt")
}

/// What the commands after a key was added to a full table saw.
enum RehashSeen {
    /// A rehash, both tables holding keys each time, the old one emptying.
    Gradual,
    /// No rehash right after the key was added.
    NoRehash,
    /// A rehash that had ended before the third command.
    EndedEarly,
}

/// Right after a rehash began: 3 SETs that replace values, each followed by
/// `DEBUG HTSTATS 0`, in one write.
fn follow_the_next_commands(
    client: &mut Client,
    keys: &Keys,
    rng: &mut Rng,
    size: u64,
    after: HtStats,
) -> Result<RehashSeen, Failure> {
    if !after.keys.rehashing() {
        return Ok(RehashSeen::NoRehash);
    }
    let mut bytes = Vec::new();
    for _ in 0..3 {
        let i = rng.between(0, size as usize - 1) as u64;
        bytes.extend(keys.set(i));
        bytes.extend(htstats_command());
    }
    client.send(&bytes)?;
    let mut looks = vec![(after, Vec::new())];
    for _ in 0..3 {
        client.expect(&ok())?;
        looks.push(read_stats(client)?);
    }
    let elements = |stats: &HtStats| {
        (
            stats.keys.main.as_ref().map_or(0, |t| t.elements),
            stats.keys.target.as_ref().map_or(0, |t| t.elements),
        )
    };
    for pair in looks.windows(2) {
        let ((before, _), (now, now_text)) = (&pair[0], &pair[1]);
        if !now.keys.rehashing() {
            return Ok(RehashSeen::EndedEarly);
        }
        let (old_before, new_before) = elements(before);
        let (old_now, new_now) = elements(now);
        if old_now > old_before || new_now < new_before || old_now + new_now != size + 1 {
            return Err(Failure::new(format!(
                "during a rehash, a SET that replaced a value took the tables from {old_before} \
                 + {new_before} elements to {old_now} + {new_now} (the old table + the new one, \
                 {} keys in all)",
                size + 1
            ))
            .block(htstats_block(now_text))
            .hint(
                "Keys move one way only, from the old table to the new one, and a SET that \
                 replaces a value changes no count.",
            ));
        }
    }
    let (first_old, _) = elements(&looks[0].0);
    let (last_old, _) = elements(&looks[3].0);
    if last_old >= first_old {
        return Err(Failure::new(format!(
            "3 commands after the rehash began, the old table still held all of its \
             {first_old} keys"
        ))
        .block(htstats_block(&looks[3].1))
        .hint(REHASH_STEP));
    }
    Ok(RehashSeen::Gradual)
}

fn the_rehash_ends_within_a_bound(context: &mut Context) -> Result<(), Failure> {
    let size = random_size(&mut context.rng, 7, 10);
    context.title(format!(
        "a rehash from {size} slots ends within {size} commands"
    ));
    let mut keys = Keys::new(&mut context.rng);
    let mut client = context.connect()?;
    add_to_full_table(&mut client, &mut keys, &mut context.rng, size)?;
    let mut sent = 0;
    while sent < size {
        let batch = (size - sent).min(256);
        keys.get_some(&mut client, &mut context.rng, batch)?;
        sent += batch;
    }
    let (stats, text) = ask_htstats(&mut client)?;
    if stats.keys.rehashing() || stats.keys.size() != 2 * size {
        return Err(Failure::new(format!(
            "{size} GETs after a key was added to a full table of {size} slots, {}",
            if stats.keys.rehashing() {
                format!(
                    "the rehash was still going: {} keys left in the old table",
                    stats.keys.main.as_ref().map_or(0, |t| t.elements)
                )
            } else {
                format!(
                    "the table has {} slots, not {}",
                    stats.keys.size(),
                    2 * size
                )
            }
        ))
        .block(htstats_block(&text))
        .hint(REHASH_STEP));
    }
    client.expect_nothing_more()
}

fn the_rehash_ends_when_idle(context: &mut Context) -> Result<(), Failure> {
    let size = random_size(&mut context.rng, 9, 11);
    context.title(format!(
        "a rehash from {size} slots also ends while no client sends anything"
    ));
    let mut keys = Keys::new(&mut context.rng);
    let mut client = context.connect()?;
    add_to_full_table(&mut client, &mut keys, &mut context.rng, size)?;
    // Only DEBUG HTSTATS from now on: a few looks cannot move the table.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let (stats, text) = ask_htstats(&mut client)?;
        if !stats.keys.rehashing() {
            if stats.keys.size() != 2 * size || stats.keys.elements() != size + 1 {
                return Err(Failure::new(format!(
                    "after the rehash from {size} slots, the table has {} slots and {} elements \
                     (expected {} and {})",
                    stats.keys.size(),
                    stats.keys.elements(),
                    2 * size,
                    size + 1
                ))
                .block(htstats_block(&text)));
            }
            return client.expect_nothing_more();
        }
        if Instant::now() > deadline {
            return Err(Failure::new(format!(
                "3 s after a key was added to a full table of {size} slots, with no command \
                 since but DEBUG HTSTATS, the rehash was still going: {} keys left in the old \
                 table",
                stats.keys.main.as_ref().map_or(0, |t| t.elements)
            ))
            .block(htstats_block(&text))
            .hint(
                "A rehash that moves only with commands never ends on an idle server, which \
                 then holds two tables' memory. Redis also moves buckets from a timer (1 ms \
                 of rehashing every 100 ms): a background task that takes the lock now and \
                 then and moves a batch of buckets.",
            ));
        }
    }
}

fn keys_are_found_during_a_rehash(context: &mut Context) -> Result<(), Failure> {
    let size = random_size(&mut context.rng, 7, 9);
    let mut keys = Keys::new(&mut context.rng);
    let mut client = context.connect()?;
    let mut rng = context.rng.clone();
    let (size, _, _) = try_to_see_a_rehash(&mut client, &mut keys, &mut rng, size)?;
    // In one write: every key, 10 values replaced, 5 keys added, DBSIZE.
    let total = keys.count;
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for i in 0..total {
        bytes.extend(keys.get(i));
        expected.push(Reply::bulk(keys.value(i)));
    }
    let new_value = rng.word();
    let replaced: Vec<u64> = (0..10)
        .map(|_| rng.between(0, size as usize - 1) as u64)
        .collect();
    for &i in &replaced {
        bytes.extend(resp::command(&[
            b"SET",
            keys.key(i).as_bytes(),
            new_value.as_bytes(),
        ]));
        expected.push(ok());
    }
    for i in total..total + 5 {
        bytes.extend(keys.set(i));
        expected.push(ok());
    }
    bytes.extend(resp::command(&[b"DBSIZE"]));
    expected.push(Reply::Integer(total as i64 + 5));
    for &i in &replaced {
        bytes.extend(keys.get(i));
        expected.push(Reply::bulk(&new_value));
    }
    client.send(&bytes)?;
    client.expect_all(&expected).map_err(|failure| {
        failure.explain(
            "These commands ran while a rehash was moving keys from the old table to the new \
             one. Look a key up in both tables; replace a value where the key is; add a new \
             key to the new table only, and count each key once.",
        )
    })?;
    keys.count = total + 5;
    let at_rest = finish_rehash(&mut client, &keys, &mut rng)?;
    if at_rest.keys.elements() != keys.count {
        return Err(Failure::new(format!(
            "after the rehash, the table holds {} elements; {} keys were set",
            at_rest.keys.elements(),
            keys.count
        )));
    }
    client.command(&[b"DBSIZE"], &Reply::Integer(keys.count as i64))?;
    client.expect_nothing_more()
}
