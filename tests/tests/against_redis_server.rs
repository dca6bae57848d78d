//! The checks of stages 1 to 10 and 15 on are a description of Redis: run them
//! against a real redis-server, and every check must pass except the few
//! where the course deliberately asks for more than Redis 7.0 does. A check
//! that real Redis fails for any other reason is a wrong check.
//!
//! The chat on Redis (stage 19) must work with a real redis-server as its
//! store, as with the course's: its checks run here with one.
//!
//! Skipped (with a note) when redis-server is not installed, unless
//! `COURSE_REQUIRE_REDIS=1` (CI sets it), which makes a missing redis-server
//! a failure.

use std::process::Command;

use harness::chat_store::StoreKind;
use harness::check::{RunSettings, run_stage};
use harness::server::ServerSpec;
use harness::stages;

/// Where the course differs from Redis 7.0, on purpose: check titles.
const DIFFERS_FROM_REDIS_7_0: &[(&str, &str)] = &[
    (
        "serves other clients while one declares a 500 MB argument it never sends, without allocating it",
        "Redis 7.0 reserves room for a declared large argument before it arrives",
    ),
    (
        "a command of more than 1,048,576 arguments is refused",
        "Redis 7.0 allows more than 1,048,576 arguments (Redis 6's limit, which the course keeps)",
    ),
    (
        "answers CLIENT SETINFO, which client libraries send since Redis 7.2",
        "CLIENT SETINFO arrived in Redis 7.2; 7.0 answers it with an error",
    ),
];

fn redis_server_version() -> Option<String> {
    let output = Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn real_redis_passes_every_check_where_the_course_follows_it() {
    let Some(version) = redis_server_version() else {
        assert!(
            std::env::var_os("COURSE_REQUIRE_REDIS").is_none(),
            "COURSE_REQUIRE_REDIS is set but redis-server is not installed"
        );
        eprintln!("skipped: redis-server is not installed (apt-get install redis-server)");
        return;
    };
    println!("{version}");
    let settings = RunSettings::new(
        // DEBUG HTSTATS (stage 9) needs the DEBUG command, off by default
        // since Redis 7.0.
        ServerSpec::Command(
            "redis-server --save '' --appendonly no --enable-debug-command yes".to_string(),
        ),
        harness::random::seed_from_environment().unwrap(),
        "cargo test -p tests --test against_redis_server",
    );
    let mut unexpected = Vec::new();
    // Stages 1 to 10 and 15 to 18 speak RESP; 11 and the chat do not.
    let speaks_resp = |number: u8| number <= 10 || (15..=18).contains(&number);
    for stage in stages::all()
        .iter()
        .filter(|stage| speaks_resp(stage.number))
    {
        let mut out = Vec::new();
        let result = run_stage(stage, &settings, &mut out);
        println!("{}", String::from_utf8_lossy(&out));
        for (check, report) in result.failures() {
            if !DIFFERS_FROM_REDIS_7_0
                .iter()
                .any(|(known, _)| *known == check.check)
            {
                unexpected.push(report.text.clone());
            }
        }
    }
    assert!(
        unexpected.is_empty(),
        "real Redis fails checks that claim to describe it:\n{}",
        unexpected.join("\n")
    );
}

#[test]
fn the_chat_on_redis_passes_its_checks_with_redis_server_as_its_store() {
    let Some(version) = redis_server_version() else {
        assert!(
            std::env::var_os("COURSE_REQUIRE_REDIS").is_none(),
            "COURSE_REQUIRE_REDIS is set but redis-server is not installed"
        );
        eprintln!("skipped: redis-server is not installed (apt-get install redis-server)");
        return;
    };
    println!("{version}");
    // Stage 19, stage 20 (a killed process, a restarted store), and stage
    // 21 (its page and WebSocket, on the same store).
    for number in [19, 20, 21] {
        let stage = stages::find(number).unwrap();
        let mut settings = RunSettings::new(
            stage.reference(),
            harness::random::seed_from_environment().unwrap(),
            "COURSE_CHAT_STORE=redis-server cargo test -p tests --test against_redis_server",
        );
        settings.store = Some(StoreKind::RedisServer);
        let mut out = Vec::new();
        let result = run_stage(stage, &settings, &mut out);
        let printed = String::from_utf8_lossy(&out);
        assert!(result.passed(), "\n{printed}");
        println!("{printed}");
    }
}
