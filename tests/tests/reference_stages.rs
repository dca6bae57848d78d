//! `cargo test` runs every reference stage against its own checks and
//! against every earlier stage's checks: a stage is the previous one plus
//! one lesson, so it must still pass everything before it.
//!
//! With `COURSE_SERVER="python3 my_server.py"` set, your program is tested
//! instead of the reference: `COURSE_SERVER=... cargo test -p tests stage_03`
//! runs the checks of stages 1 to 3 against it.

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
    let settings = RunSettings::new(
        spec,
        seed,
        format!("cargo test -p tests --test reference_stages stage_{server:02}"),
    );
    let mut out = Vec::new();
    let result = run_stage(stages::find(checks_of).unwrap(), &settings, &mut out);
    let printed = String::from_utf8_lossy(&out);
    assert!(result.passed(), "\n{printed}");
    // Shown with --nocapture: the one line per check.
    println!("{printed}");
}

mod stage_01_bind_port {
    #[test]
    fn passes_stage_01_checks() {
        super::assert_passes(1, 1);
    }
}

mod stage_02_answer_ping {
    #[test]
    fn passes_stage_01_checks() {
        super::assert_passes(2, 1);
    }
    #[test]
    fn passes_stage_02_checks() {
        super::assert_passes(2, 2);
    }
}

mod stage_03_many_pings {
    #[test]
    fn passes_stage_01_checks() {
        super::assert_passes(3, 1);
    }
    #[test]
    fn passes_stage_02_checks() {
        super::assert_passes(3, 2);
    }
    #[test]
    fn passes_stage_03_checks() {
        super::assert_passes(3, 3);
    }
}

mod stage_04_concurrent_clients {
    #[test]
    fn passes_stage_01_checks() {
        super::assert_passes(4, 1);
    }
    #[test]
    fn passes_stage_02_checks() {
        super::assert_passes(4, 2);
    }
    #[test]
    fn passes_stage_03_checks() {
        super::assert_passes(4, 3);
    }
    #[test]
    fn passes_stage_04_checks() {
        super::assert_passes(4, 4);
    }
}

mod stage_08_errors_and_limits {
    #[test]
    fn passes_stage_01_checks() {
        super::assert_passes(5, 1);
    }
    #[test]
    fn passes_stage_02_checks() {
        super::assert_passes(5, 2);
    }
    #[test]
    fn passes_stage_03_checks() {
        super::assert_passes(5, 3);
    }
    #[test]
    fn passes_stage_04_checks() {
        super::assert_passes(5, 4);
    }
    #[test]
    fn passes_stage_05_checks() {
        super::assert_passes(5, 5);
    }
}

mod stage_10_keyspace {
    #[test]
    fn passes_stage_01_checks() {
        super::assert_passes(6, 1);
    }
    #[test]
    fn passes_stage_02_checks() {
        super::assert_passes(6, 2);
    }
    #[test]
    fn passes_stage_03_checks() {
        super::assert_passes(6, 3);
    }
    #[test]
    fn passes_stage_04_checks() {
        super::assert_passes(6, 4);
    }
    #[test]
    fn passes_stage_05_checks() {
        super::assert_passes(6, 5);
    }
    #[test]
    fn passes_stage_06_checks() {
        super::assert_passes(6, 6);
    }
}

mod stage_11_binary_protocol {
    #[test]
    fn passes_stage_01_checks() {
        super::assert_passes(7, 1);
    }
    #[test]
    fn passes_stage_07_checks() {
        super::assert_passes(7, 7);
    }
}

mod stage_12_chat_server {
    #[test]
    fn passes_stage_08_checks() {
        super::assert_passes(8, 8);
    }
}

/// Every stage the tester knows has its tests above (a new stage must be
/// added here too).
#[test]
fn every_stage_is_tested_here() {
    let source = include_str!("reference_stages.rs");
    for stage in stages::all() {
        let module = format!(
            "mod stage_{:02}_{} {{",
            stage.number,
            stage.name.replace('-', "_")
        );
        assert!(source.contains(&module), "add `{module}` to this file");
        for earlier in stage.builds_on.iter().copied().chain([stage.number]) {
            let call = format!("super::assert_passes({}, {earlier});", stage.number);
            assert!(source.contains(&call), "add a test that calls `{call}`");
        }
    }
}
