//! The tester is tested: each deliberately broken server (see
//! `src/bin/broken-server.rs`) must fail the right check, with a report that
//! names the mistake, and pass the checks its mistake does not touch.

use std::time::Duration;

use harness::check::{CheckResult, Outcome, RunSettings, StageResult, run_stage};
use harness::server::ServerSpec;
use harness::stages;

/// Runs stage `stage`'s checks against `broken-server --mode MODE`.
fn run_against(mode: &str, stage: u8) -> (StageResult, String) {
    run_with_seed(mode, stage, 42)
}

/// The same with the random values of `seed`.
fn run_with_seed(mode: &str, stage: u8, seed: u64) -> (StageResult, String) {
    let command = format!("{} --mode {mode}", env!("CARGO_BIN_EXE_broken-server"));
    let mut settings = RunSettings::new(
        ServerSpec::Command(command),
        seed,
        "cargo test -p tests --test harness",
    );
    settings.startup_timeout = Duration::from_secs(3);
    let mut out = Vec::new();
    let result = run_stage(stages::find(stage).unwrap(), &settings, &mut out);
    let printed = String::from_utf8(out).unwrap();
    println!("{printed}");
    (result, printed)
}

/// The report of the check whose title starts with `title`, which must
/// have failed.
#[track_caller]
fn failure_of<'a>(result: &'a StageResult, title: &str) -> &'a str {
    match &find(result, title).outcome {
        Outcome::Failed(report) => &report.text,
        Outcome::Passed => panic!("the check {title:?} passed, but this server must fail it"),
        Outcome::NotRun(why) => panic!("the check {title:?} was not run ({why})"),
    }
}

#[track_caller]
fn assert_passed(result: &StageResult, title: &str) {
    match &find(result, title).outcome {
        Outcome::Passed => {}
        Outcome::Failed(report) => panic!(
            "the check {title:?} must pass for this server:\n{}",
            report.text
        ),
        Outcome::NotRun(why) => panic!("the check {title:?} must pass, but was not run ({why})"),
    }
}

#[track_caller]
fn find<'a>(result: &'a StageResult, title: &str) -> &'a CheckResult {
    result
        .checks
        .iter()
        .find(|check| check.check.starts_with(title))
        .unwrap_or_else(|| panic!("no check titled {title:?}"))
}

/// Checks that each piece is in the report. Prose in a report is wrapped at
/// 100 columns, so a piece may also match across a wrapped line.
#[track_caller]
fn assert_contains(report: &str, pieces: &[&str]) {
    let unwrapped = report.replace(&format!("\n{}", " ".repeat(10)), " ");
    for piece in pieces {
        assert!(
            report.contains(piece) || unwrapped.contains(piece),
            "the report lacks {piece:?}:\n{report}"
        );
    }
}

#[test]
fn a_server_that_closes_at_once_fails_stage_1_keeping_connections_open() {
    let (result, _) = run_against("close-at-once", 1);
    assert_passed(&result, "accepts a TCP connection");
    let report = failure_of(&result, "keeps a connection open");
    assert_contains(
        report,
        &[
            "problem:  the connection of client 1 was closed by the server while the client was",
            "read from it in a loop until",
        ],
    );
}

/// The tester's first connection is the program's first client: a program
/// that exits after it is told so, not that it dropped a connection.
#[test]
fn a_server_that_exits_after_its_first_client_is_told_to_accept_in_a_loop() {
    let (result, _) = run_against("exits-after-first-client", 1);
    let report = failure_of(&result, "keeps a connection open");
    assert_contains(
        report,
        &[
            "problem:  your program exited (exit code 0) after its first client left: accept \
             connections in a loop",
            "hint:     The tester's first connection",
        ],
    );
    assert!(
        !report.contains("problem:  the connection of client 1"),
        "{report}"
    );
}

#[test]
fn a_silent_server_passes_stage_1_and_fails_stage_2_with_no_reply() {
    let (result, _) = run_against("silent", 1);
    assert!(result.passed(), "a silent server is a fine stage 1");
    let (result, _) = run_against("silent", 2);
    let report = failure_of(&result, "answers PING");
    assert_contains(
        report,
        &[
            "problem:  no reply within 2 s after sending PING\n",
            "sent:     *1\\r\\n$4\\r\\nPING\\r\\n (client 1, in one write)",
            "as redis-cli: PING",
            "expected: simple string \"PONG\" (+PONG\\r\\n)",
            "got:      nothing",
            "still running",
        ],
    );
}

#[test]
fn a_missing_carriage_return_is_pointed_at() {
    let (result, _) = run_against("no-crlf", 2);
    let report = failure_of(&result, "answers PING");
    assert_contains(
        report,
        &[
            "the reply is not valid RESP: a line ends with \\n alone: RESP lines end with \\r\\n",
            "wanted:   simple string \"PONG\"",
            "expected: +PONG\\r\\n\n",
            "got:      +PONG\\n\n",
            "               ^ first difference: byte 5, expected \\r, got \\n",
        ],
    );
}

#[test]
fn a_bulk_string_where_a_simple_string_is_due_is_named() {
    let (result, _) = run_against("bulk-pong", 2);
    let report = failure_of(&result, "answers PING");
    assert_contains(
        report,
        &[
            "problem:  expected simple string \"PONG\", got bulk string \"PONG\"",
            "got:      $4\\r\\nPONG\\r\\n\n          ^ first difference: byte 0, expected +, got $",
            "A simple string is one line",
        ],
    );
}

#[test]
fn two_replies_to_one_ping_are_extra_data() {
    let (result, _) = run_against("double-pong", 2);
    let report = failure_of(&result, "answers PING");
    assert_contains(
        report,
        &[
            "problem:  found extra data after the expected reply",
            "extra:    +PONG\\r\\n",
            "(1 whole reply: simple string \"PONG\")",
        ],
    );
}

#[test]
fn closing_after_the_first_reply_fails_stage_2() {
    let (result, _) = run_against("close-after-reply", 2);
    assert_passed(&result, "answers PING");
    let report = failure_of(&result, "keeps the connection open after replying");
    assert_contains(
        report,
        &[
            "was closed by the server while the client was still there",
            "go back to reading",
        ],
    );
}

#[test]
fn one_reply_per_read_passes_stage_2_and_fails_stage_3() {
    let (result, _) = run_against("one-reply-per-read", 2);
    assert!(
        result.passed(),
        "one reply per read is stage 2's own shortcut"
    );
    let (result, _) = run_against("one-reply-per-read", 3);
    // PINGs sent one at a time, each after the last reply, work.
    assert_passed(&result, "answers several PINGs sent one after another");
    let report = failure_of(&result, "answers several PINGs sent in one write");
    assert_contains(
        report,
        &[
            "problem:  reply 2 of",
            "no reply within 2 s after sending PING (x",
            "A server that answers once per read answers only one of them",
        ],
    );
    let report = failure_of(&result, "answers a PING that arrives one byte at a time");
    assert_contains(
        report,
        &["found extra data", "Answer whole commands, not reads"],
    );
}

/// Random pieces never fall on the PINGs' boundaries alone: seed 976092
/// once drew 7 pieces of one PING each, which a server that answers once
/// per read passes.
#[test]
fn random_pieces_always_split_a_ping() {
    for seed in [976_092, 1, 2] {
        let (result, _) = run_with_seed("one-reply-per-read", 3, seed);
        failure_of(
            &result,
            "answers several PINGs whose bytes arrive in random pieces",
        );
    }
}

#[test]
fn serving_one_client_at_a_time_passes_stage_3_and_fails_stage_4() {
    let (result, _) = run_against("one-at-a-time", 3);
    assert!(result.passed(), "a one-at-a-time server is a fine stage 3");
    let (result, _) = run_against("one-at-a-time", 4);
    let report = failure_of(
        &result,
        "answers a second client while the first stays connected",
    );
    assert_contains(
        report,
        &[
            "problem:  no reply within 2 s after sending PING",
            "(client 2, in one write)",
            "serves one client at a",
        ],
    );
}

/// A server that prints a line per client on its accept loop serves
/// everyone, until nobody reads its output: then the print waits, and so
/// does every client after it. Nor does it handle SIGTERM or SIGINT.
#[test]
fn a_blocking_log_and_unhandled_signals_fail_stage_4_with_the_reason() {
    let (result, _) = run_against("logs-each-client", 4);
    assert_passed(
        &result,
        "answers a second client while the first stays connected",
    );
    let report = failure_of(&result, "answers 5,000 clients in a row while nobody reads");
    assert_contains(
        report,
        &[
            "problem:  no reply within 2 s after sending PING",
            "while the tester did not read your program's stdout and stderr",
            "Write the log from a thread of its own, through a bounded queue",
        ],
    );
    let report = failure_of(&result, "on SIGTERM");
    assert_contains(
        report,
        &[
            "problem:  on SIGTERM your program exited with exit code 143, not 0",
            "128 + 15 is how a shell reports a program killed by SIGTERM",
        ],
    );
    let report = failure_of(&result, "on SIGINT");
    assert_contains(report, &["exit code 130, not 0"]);
}

#[test]
fn a_panic_shows_as_a_closed_connection_with_the_panic_in_the_output() {
    let (result, _) = run_against("panic-on-read", 2);
    let report = failure_of(&result, "answers PING");
    assert_contains(
        report,
        &[
            "problem:  the connection was closed by the server before any reply arrived",
            "or crashed (see its output below)",
            "panicked at",
            "attempt to subtract with overflow (on purpose)",
        ],
    );
}

/// A 1 MB value in a failure is shown cut, not in full: the report stays a
/// screenful or two, and says the command's name rather than its size alone.
#[test]
fn a_failure_with_a_1_mb_value_stays_short() {
    let (result, printed) = run_against("silent", 5);
    let report = failure_of(&result, "echoes a 1 MB argument");
    assert_contains(
        report,
        &[
            "problem:  no reply within 2 s after sending ECHO (1048602 bytes)",
            "... (1048576 bytes in all) ...",
        ],
    );
    assert!(report.len() < 8_000, "{} bytes in the report", report.len());
    assert!(printed.len() < 40_000, "{} bytes printed", printed.len());
}

/// A reader that splits the stream into lines answers a value's every line:
/// the replies too many are blamed on the command that got them, not on
/// the next one.
#[test]
fn more_than_one_reply_to_a_command_is_found_before_the_next_is_sent() {
    let (result, _) = run_against("line-reader", 6);
    assert_passed(&result, "GET and SET with the wrong arguments");
    let report = failure_of(&result, "stores and returns a 1 MB value");
    assert_contains(
        report,
        &[
            "problem:  your server sent more than one reply to SET (10486",
            "before the next command was sent",
            "extra:    -ERR unknown command",
            "whole replies: error \"ERR unknown command",
            "read a bulk string's declared number of bytes",
        ],
    );
}

/// Go prints the cause of a crash at the top of a long dump: the report
/// shows it, not only the dump's last lines.
#[test]
fn the_cause_of_a_crash_is_shown_above_the_last_lines() {
    let (result, _) = run_against("go-crash", 2);
    let report = failure_of(&result, "answers PING");
    assert_contains(
        report,
        &[
            "exited (exit code 2)",
            "| fatal error: concurrent map iteration and map write (on purpose)",
            "| goroutine 7 [running]:",
            "lines not shown)",
            "| \t/home/learner/server.go:144 +0x68",
        ],
    );
}

/// A race that leaves the replies right is still reported, once.
#[test]
fn a_race_warning_is_reported_even_when_the_checks_pass() {
    let (result, printed) = run_against("warns-of-race", 2);
    assert!(result.passed(), "the replies are right");
    assert_contains(
        &printed,
        &[
            "✓ answers PING (*1\\r\\n$4\\r\\nPING\\r\\n) with +PONG\\r\\n and nothing more  (passed, but its \
             output names a crash or a race: see below)",
            "--- stage 2 (answer-ping) passed, but your program's output names a crash or a race:",
            "| WARNING: DATA RACE (on purpose)",
            "with the same crash or race in its output as check 1",
        ],
    );
    assert_eq!(printed.matches("| WARNING: DATA RACE").count(), 1);
}

/// The hint that leads is chosen from the kind of problem (a line ending,
/// a crash, an option ignored), not from the check that happened to see it.
#[test]
fn the_first_hint_names_the_kind_of_problem() {
    let first_hint = |report: &str| {
        let at = report.find("\nhint:     ").expect("a hint") + 1;
        report[at..].lines().next().unwrap().to_string()
    };
    // A missing \r, seen by the check about one client after another.
    let (result, _) = run_against("no-crlf", 2);
    let report = failure_of(&result, "answers a PING from each of 3 clients");
    assert!(
        first_hint(report).contains("Every line of a RESP reply ends with \\r\\n"),
        "{report}"
    );
    // A crash on a binary value, seen by the check of a 1 MB argument.
    let (result, _) = run_against("decodes-utf8", 5);
    let report = failure_of(&result, "echoes a 1 MB argument");
    assert!(
        first_hint(report).contains("Your program crashed"),
        "{report}"
    );
    assert_contains(
        report,
        &["`UnicodeDecodeError: 'utf-8' codec can't decode byte in position"],
    );
    // No expiry at all, seen by the check of EXAT.
    let (result, _) = run_against("forgets-expiry", 7);
    let report = failure_of(&result, "SET without KEEPTTL clears");
    assert!(
        first_hint(report).contains("Your server keeps no expiry at all"),
        "{report}"
    );
}

/// A chat whose broadcast waits on every write stalls behind a client that
/// does not read: the report says where delivery stopped, and why.
#[test]
fn a_broadcast_that_waits_on_a_slow_reader_is_told_where_it_stopped() {
    let (result, _) = run_against("blocking-broadcast", 13);
    let report = failure_of(&result, "a client that never reads");
    assert_contains(
        report,
        &[
            "problem:  client 2 stopped receiving after line ",
            " of 2,000: nothing more arrived within 2 s",
            "hint:     Delivery stopped once the client that does not read had its fill: a \
             broadcast that writes to each client in turn and waits on every write",
        ],
    );
    assert!(!report.contains("of connecting"), "{report}");
}

/// The hint for memory reserved on a client's word says it in words any
/// language's learner can follow, not in Rust alone.
#[test]
fn reserving_a_declared_length_is_explained_in_words() {
    let (result, _) = run_against("reserves-declared", 5);
    let report = failure_of(&result, "serves other clients while one declares a 500 MB");
    assert_contains(
        report,
        &[
            "MB reserved after a client declared a 500 MB argument",
            "Don't create or reserve a buffer of the declared size before the bytes arrive",
            "Go's `make([]byte, n)` and Python's `bytearray(n)`",
        ],
    );
}

/// A chat that reads lines with a limit of its own (Python's readline()
/// raises past 64 KiB) passes the 10,000-byte line and dies on 100 KB.
#[test]
fn a_line_past_a_readers_own_limit_is_sent_and_refused() {
    let (result, _) = run_against("readline-limit", 12);
    let report = failure_of(&result, "a line over 4096 bytes");
    assert_contains(
        report,
        &[
            "The client sent a line of 100 KB: one error line, and the connection lives",
            "Python's StreamReader.readline()",
            "LimitOverrunError",
        ],
    );
}

#[test]
fn a_program_that_exits_at_once_is_reported_with_its_output() {
    let (result, printed) = run_against("exit-at-once", 1);
    let report = failure_of(&result, "accepts a TCP connection");
    assert_contains(
        report,
        &[
            "problem:  your program exited (exit code 3) before it listened on port",
            "| error: could not read the configuration (on purpose)",
            "--mode exit-at-once --port ",
        ],
    );
    assert!(printed.contains("✗ accepts a TCP connection"));
}

#[test]
fn a_program_that_ignores_the_port_times_out_with_a_hint() {
    let (result, _) = run_against("wrong-port", 1);
    let report = failure_of(&result, "accepts a TCP connection");
    assert_contains(
        report,
        &[
            "did not accept connections on 127.0.0.1:",
            "within 3 s",
            "Does it read `--port",
            "| broken-server (wrong-port) listening on",
        ],
    );
}

#[test]
fn the_report_of_a_failure_says_how_to_rerun_it() {
    let (result, printed) = run_against("silent", 2);
    assert!(!result.passed());
    assert_contains(
        &printed,
        &[
            "Stage 2: answer PING\n  ✗ answers PING",
            "--- stage 2 (answer-ping) failed: answers PING",
            "rerun:    COURSE_SEED=42 cargo test -p tests --test harness",
        ],
    );
}

#[test]
fn a_set_that_ignores_its_options_passes_stage_6_and_fails_stage_7() {
    let (result, _) = run_against("forgets-expiry", 6);
    assert!(result.passed(), "GET and SET are right: a fine stage 6");
    let (result, _) = run_against("forgets-expiry", 7);
    let report = failure_of(&result, "a key set with PX or EX lives its time");
    assert_contains(
        report,
        &[
            "expected null bulk string ($-1), got bulk string",
            "it has expired, and an expired key is never returned",
        ],
    );
    // NX on the live key comes first: ignoring PX and NX together cannot
    // pass by luck.
    let report = failure_of(&result, "a key that expired unread counts as absent");
    assert_contains(
        report,
        &[
            "expected null bulk string ($-1), got simple string \"OK\"",
            "SET ... NX must not replace it",
        ],
    );
}

#[test]
fn a_server_without_debug_htstats_is_told_what_stage_9_asks_for() {
    let (result, printed) = run_against("forgets-expiry", 9);
    assert!(
        result.checks.iter().all(|check| !check.outcome.passed()),
        "every check of stage 9 needs the table"
    );
    let report = failure_of(&result, "DEBUG HTSTATS 0 prints the tables");
    assert_contains(
        report,
        &[
            "problem:  this stage asks for your own hash table, visible through DEBUG HTSTATS",
            "DEBUG HTSTATS 0 answered error \"ERR unknown command 'DEBUG'",
            "No stats available for empty dictionaries",
        ],
    );
    // The same problem in every check: in full once, then a line each.
    assert_eq!(printed.matches("DEBUG HTSTATS 0 answered error").count(), 1);
    assert_contains(&printed, &["the same problem as check 1, above"]);
}

#[test]
fn figures_made_up_from_the_key_count_fail_where_a_real_table_shows() {
    let (result, _) = run_against("made-up-htstats", 9);
    // The format and the sizes can be faked...
    assert_passed(
        &result,
        "DEBUG HTSTATS 0 prints the tables as Redis 7.0 does",
    );
    assert_passed(
        &result,
        "as keys are added, the table's size is a power of two",
    );
    // ...not how keys share slots, nor a rehash.
    assert_contains(
        failure_of(&result, "1,000 keys spread over the slots"),
        &[
            "different slots, the longest chain 1: a hash function that spreads keys at random",
            "Fewer keys share a slot than chance allows: the figures are not counted from a table",
        ],
    );
    assert_contains(
        failure_of(&result, "adding a key to a full table starts a rehash"),
        &[
            "three times, a key added to a full table",
            "Hash table 1 stats (rehashing target):",
        ],
    );
    assert_contains(
        failure_of(&result, "the rehash moves keys a few at a time"),
        &["three times", "left no rehash in progress to be seen"],
    );
}
