//! `cargo test` runs every reference stage against its own checks and
//! against the checks of every earlier stage it builds on: a stage is the
//! one before plus one lesson, so it must still pass everything before it
//! (until the protocol changes, at stage 11 and at the chat).
//!
//! With `COURSE_SERVER="python3 my_server.py"` set, your program is tested
//! instead of the reference: `COURSE_SERVER=... cargo test -p tests stage_03`
//! runs the checks of stages 1 to 3 against it.

use harness::chat_store::{FIRST_STAGE_ON_REDIS, StoreKind};
use harness::check::{RunSettings, run_stage};
use harness::random::seed_from_environment;
use harness::server::ServerSpec;
use harness::stages;

/// Runs stage `checks_of`'s checks against stage `server`'s reference (or
/// `COURSE_SERVER`), and fails with the full report if any check fails.
#[track_caller]
fn assert_passes(server: u8, checks_of: u8) {
    let reference = stages::find(server).unwrap().reference();
    let spec = ServerSpec::from_environment_or(reference);
    let seed = seed_from_environment().unwrap();
    let mut settings = RunSettings::new(
        spec,
        seed,
        format!("cargo test -p tests --test reference_stages stage_{server:02}"),
    );
    // A chat on Redis is given one for the checks of the chat stages
    // before it too.
    if server >= FIRST_STAGE_ON_REDIS {
        settings.store = Some(StoreKind::from_environment());
    }
    let mut out = Vec::new();
    let result = run_stage(stages::find(checks_of).unwrap(), &settings, &mut out);
    let printed = String::from_utf8_lossy(&out);
    assert!(result.passed(), "\n{printed}");
    // Shown with --nocapture: the one line per check.
    println!("{printed}");
}

/// `stage!(stage_05_resp_echo, 5, [1, 2, 3, 4]);` tests the reference
/// stage 5 against the checks of each stage it builds on and its own
/// (`stage_05_resp_echo::passes_stage_01_checks`, ...,
/// `passes_stage_05_checks`): one test each, so that they run side by side
/// and a failure names the pair.
macro_rules! stage {
    ($module:ident, $number:tt, [$($earlier:tt),*]) => {
        mod $module {
            $(checks_of!(@ $number, $earlier);)*
            checks_of!(@ $number, $number);
        }
    };
}

/// A test named after the earlier stage whose checks it runs (a macro
/// cannot make the name from the number, so each number has its arm).
macro_rules! checks_of {
    (@test $name:ident, $server:literal, $earlier:literal) => {
        #[test]
        fn $name() {
            super::assert_passes($server, $earlier);
        }
    };
    (@ $server:literal, 1) => { checks_of!(@test passes_stage_01_checks, $server, 1); };
    (@ $server:literal, 2) => { checks_of!(@test passes_stage_02_checks, $server, 2); };
    (@ $server:literal, 3) => { checks_of!(@test passes_stage_03_checks, $server, 3); };
    (@ $server:literal, 4) => { checks_of!(@test passes_stage_04_checks, $server, 4); };
    (@ $server:literal, 5) => { checks_of!(@test passes_stage_05_checks, $server, 5); };
    (@ $server:literal, 6) => { checks_of!(@test passes_stage_06_checks, $server, 6); };
    (@ $server:literal, 7) => { checks_of!(@test passes_stage_07_checks, $server, 7); };
    (@ $server:literal, 8) => { checks_of!(@test passes_stage_08_checks, $server, 8); };
    (@ $server:literal, 9) => { checks_of!(@test passes_stage_09_checks, $server, 9); };
    (@ $server:literal, 10) => { checks_of!(@test passes_stage_10_checks, $server, 10); };
    (@ $server:literal, 11) => { checks_of!(@test passes_stage_11_checks, $server, 11); };
    (@ $server:literal, 12) => { checks_of!(@test passes_stage_12_checks, $server, 12); };
    (@ $server:literal, 13) => { checks_of!(@test passes_stage_13_checks, $server, 13); };
    (@ $server:literal, 14) => { checks_of!(@test passes_stage_14_checks, $server, 14); };
    (@ $server:literal, 15) => { checks_of!(@test passes_stage_15_checks, $server, 15); };
    (@ $server:literal, 16) => { checks_of!(@test passes_stage_16_checks, $server, 16); };
    (@ $server:literal, 17) => { checks_of!(@test passes_stage_17_checks, $server, 17); };
    (@ $server:literal, 18) => { checks_of!(@test passes_stage_18_checks, $server, 18); };
    (@ $server:literal, 19) => { checks_of!(@test passes_stage_19_checks, $server, 19); };
    (@ $server:literal, 20) => { checks_of!(@test passes_stage_20_checks, $server, 20); };
    (@ $server:literal, 21) => { checks_of!(@test passes_stage_21_checks, $server, 21); };
}

stage!(stage_01_bind_port, 1, []);
stage!(stage_02_answer_ping, 2, [1]);
stage!(stage_03_many_pings, 3, [1, 2]);
stage!(stage_04_concurrent_clients, 4, [1, 2, 3]);
stage!(stage_05_resp_echo, 5, [1, 2, 3, 4]);
stage!(stage_06_get_set, 6, [1, 2, 3, 4, 5]);
stage!(stage_07_expiry, 7, [1, 2, 3, 4, 5, 6]);
stage!(stage_08_errors_and_limits, 8, [1, 2, 3, 4, 5, 6, 7]);
stage!(stage_09_hash_table, 9, [1, 2, 3, 4, 5, 6, 7, 8]);
stage!(stage_10_keyspace, 10, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
stage!(stage_11_binary_protocol, 11, [1]);
// The chat stages.
stage!(stage_12_chat_broadcast, 12, []);
stage!(stage_13_chat_slow_clients, 13, [12]);
stage!(stage_14_chat_presence, 14, [12, 13]);
// Chat on Redis: Pub/Sub, over the key space of stage 10.
stage!(stage_15_pub_sub, 15, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
// Then values with a type: sets and sorted sets, on stage 15.
stage!(stage_16_sets, 16, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15]);
#[rustfmt::skip]
stage!(stage_17_sorted_sets, 17, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 16]);
#[rustfmt::skip]
stage!(stage_18_sorted_set_ranges, 18, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 16, 17]);
// The chat again, its state in Redis: stage 14's, across processes.
stage!(stage_19_chat_on_redis, 19, [12, 13, 14]);
// Then surviving its faults: a process killed, Redis restarted.
stage!(stage_20_chat_faults, 20, [12, 13, 14, 19]);
// And in a browser: a web page beside nc, on the same chat.
stage!(stage_21_web_chat, 21, [12, 13, 14, 19, 20]);

/// Every stage the tester knows has its line above, with the stages it
/// builds on as `Stage::builds_on` says (a new stage must be added there).
#[test]
fn every_stage_is_tested_here() {
    let source = include_str!("reference_stages.rs");
    for stage in stages::all() {
        let earlier: Vec<String> = stage.builds_on.iter().map(u8::to_string).collect();
        let line = format!(
            "stage!(stage_{:02}_{}, {}, [{}]);",
            stage.number,
            stage.name.replace('-', "_"),
            stage.number,
            earlier.join(", ")
        );
        assert!(source.contains(&line), "add `{line}` to this file");
    }
}
