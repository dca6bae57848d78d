//! The learner's commands, run as a learner runs them (`just start`, `just
//! register`, `just progress`, `just hint`, `just checkpoint` call the
//! `course` binary; `just test-stage` calls `tester`), each in a folder of
//! its own (`COURSE_LEARNER_DIR`), so that the course's own folder is never
//! touched.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_cmd::Command;
use harness::learner::LEARNER_DIR_VARIABLE;
use harness::server::{SERVER_VARIABLE, reference_binary};

/// A learner's folder under the system's temporary folder, removed when
/// the test ends (kept if it fails, to look at).
struct LearnerDir {
    path: PathBuf,
}

impl LearnerDir {
    fn new(name: &str) -> LearnerDir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "course-learner-{name}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        LearnerDir { path }
    }

    /// `course ARGS` or `tester ARGS`, in this folder, as `just` runs them.
    fn run(&self, binary: &str, args: &[&str]) -> Run {
        let output = Command::cargo_bin(binary)
            .unwrap()
            .args(args)
            .current_dir(&self.path)
            .env(LEARNER_DIR_VARIABLE, &self.path)
            .env_remove(SERVER_VARIABLE)
            .env_remove("COURSE_SEED")
            .timeout(std::time::Duration::from_secs(300))
            .output()
            .unwrap();
        Run::from(output, binary, args)
    }

    fn file(&self, relative: &str) -> PathBuf {
        self.path.join(relative)
    }

    /// Records `stages` as passed on 2026-11-20 at 10:00 UTC, as `just
    /// progress` writes it in `.course/progress`.
    fn record_passed(&self, stages: std::ops::RangeInclusive<u8>) {
        let passed: String = stages
            .map(|n| format!("stage {n} passed 2026-11-20 10:00 UTC\n"))
            .collect();
        std::fs::create_dir_all(self.file(".course")).unwrap();
        std::fs::write(self.file(".course/progress"), passed).unwrap();
    }
}

impl Drop for LearnerDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// What a command printed, for assertions that show it all on failure.
struct Run {
    success: bool,
    text: String,
    command: String,
}

impl Run {
    fn from(output: Output, binary: &str, args: &[&str]) -> Run {
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        Run {
            success: output.status.success(),
            text,
            command: format!("{binary} {}", args.join(" ")),
        }
    }

    #[track_caller]
    fn succeeded(&self) -> &Run {
        assert!(self.success, "`{}` failed:\n{}", self.command, self.text);
        self
    }

    #[track_caller]
    fn failed(&self) -> &Run {
        assert!(
            !self.success,
            "`{}` succeeded:\n{}",
            self.command, self.text
        );
        self
    }

    #[track_caller]
    fn says(&self, expected: &str) -> &Run {
        assert!(
            self.text.contains(expected),
            "`{}` did not print {expected:?}; it printed:\n{}",
            self.command,
            self.text
        );
        self
    }

    #[track_caller]
    fn does_not_say(&self, unexpected: &str) -> &Run {
        assert!(
            !self.text.contains(unexpected),
            "`{}` printed {unexpected:?}:\n{}",
            self.command,
            self.text
        );
        self
    }
}

fn course_dir() -> PathBuf {
    harness::learner::course_dir()
}

fn copy_sources(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// The whole Rust path: `just start`, a first failure that says what to do,
/// stage 1 passing once the reference stage 1 is copied in, then
/// `just checkpoint 4` and `just progress` for a program that passes
/// stages 1 to 3 and fails 4.
#[test]
fn a_started_project_fails_stage_1_usefully_passes_it_with_stage_1_and_checkpoints_on() {
    let learner = LearnerDir::new("start");
    learner
        .run("course", &["start"])
        .succeeded()
        .says("Created my-server/")
        .says("run:   my-server/target/debug/my-server --port N");
    assert!(learner.file("my-server/src/main.rs").is_file());
    assert!(learner.file("my-server/Cargo.lock").is_file());
    // A second `just start` leaves the project alone.
    learner
        .run("course", &["start"])
        .succeeded()
        .says("is there already");

    // The empty main: stage 1 fails, saying the program exited without
    // listening, with the program's own words and where to go next.
    learner
        .run("tester", &["--stage", "1"])
        .failed()
        .says(
            "Testing your program `my-server/target/debug/my-server` (registered in .course/server",
        )
        .says("✗ accepts a TCP connection on the port given with --port")
        .says("your program exited (exit code 0) before it listened on port")
        .says("| my-server was asked to listen on port")
        .says("rerun:    COURSE_SEED=")
        .says("just test-stage 1\n")
        .says("`just hint 1` gives a hint");
    assert!(!learner.file(".course/progress").exists());

    // The reference stage 1, copied in: the same command passes, and the
    // pass is recorded.
    copy_sources(
        &course_dir().join("stages/01-bind-port/src"),
        &learner.file("my-server/src"),
    );
    learner
        .run("tester", &["--stage", "1"])
        .succeeded()
        .says("Stage 1: all 3 checks passed.");
    let progress = std::fs::read_to_string(learner.file(".course/progress")).unwrap();
    assert!(progress.contains("stage 1 passed "), "{progress}");

    // Stuck on stage 4: a checkpoint from the reference stage 3. The
    // learner's project is moved aside, not lost.
    learner
        .run("course", &["checkpoint", "4"])
        .succeeded()
        .says("a copy of the course's reference stage 3 (`stages/03-many-pings/`)")
        .says("Your previous my-server/ is now my-server.before-checkpoint-4/, untouched");
    assert!(
        learner
            .file("my-server.before-checkpoint-4/src/main.rs")
            .is_file()
    );
    let note = std::fs::read_to_string(learner.file("my-server/CHECKPOINT.md")).unwrap();
    assert!(note.contains("go on with stage 4"), "{note}");
    // (Reuse the compiled dependencies rather than build them twice.)
    std::fs::rename(
        learner.file("my-server.before-checkpoint-4/target"),
        learner.file("my-server/target"),
    )
    .unwrap();

    let run = learner.run("course", &["progress"]);
    run.succeeded();
    let lines: Vec<&str> = run.text.lines().map(str::trim_end).collect();
    let at = |prefix: &str| {
        lines
            .iter()
            .position(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starts with {prefix:?}:\n{}", run.text))
    };
    let stage_4 = at("  ✗ stage 4  serve many clients at once");
    assert!(at("  ✓ stage 1  bind a port") < stage_4);
    assert!(at("  ✓ stage 2  answer PING") < stage_4);
    assert!(at("  ✓ stage 3  answer many PINGs on one connection") < stage_4);
    assert_eq!(
        lines[stage_4 + 1],
        "      failed: answers a second client while the first stays connected",
        "{}",
        run.text
    );
    assert!(
        lines[stage_4 + 2].starts_with("      because: "),
        "{}",
        run.text
    );
    assert!(at("  · stage 5  ") > stage_4);
    run.says("(not run yet)")
        .says("Next: stage 4, serve many clients at once.")
        .says("read       tutorial/src/04-concurrent-clients.md")
        .says("a hint     just hint 4")
        .does_not_say("✓ stage 4");
}

/// Any language: a registered Python program is what the tester runs.
#[test]
fn a_registered_python_program_is_the_one_tested() {
    let learner = LearnerDir::new("python");
    let script = course_dir().join("tutorial/examples/stage-1-server.py");
    let command = format!("python3 {}", script.display());
    learner
        .run("course", &["register", &command])
        .succeeded()
        .says(&format!("run:   {command} --port N"))
        .says("watch: ");
    learner
        .run("course", &["register"])
        .succeeded()
        .says(&format!("run:   {command} --port N"));

    // Stage 1 passes, and stage 2 fails with the Python program's own
    // output: it is the registered program that ran, not the reference.
    learner
        .run("tester", &["--stage", "1"])
        .succeeded()
        .says(&format!("Testing your program `{command}` (registered"))
        .says("Stage 1: all 3 checks passed.");
    learner
        .run("tester", &["--stage", "2"])
        .failed()
        .says("no reply within 2 s after sending PING")
        .says("| listening on 127.0.0.1:")
        .says("rerun:    COURSE_SEED=");
    learner
        .run("course", &["progress"])
        .succeeded()
        .says("  ✓ stage 1  bind a port")
        .says("  ✗ stage 2  answer PING")
        .says("Next: stage 2, answer PING.");

    // `reference` still tests the reference; unregistering goes back to it.
    learner
        .run("tester", &["--stage", "2", "--server", "reference"])
        .succeeded()
        .says("Testing the reference stage-02-answer-ping");
    learner
        .run("course", &["unregister"])
        .succeeded()
        .says("the tests run against the reference stages again");
    learner
        .run("tester", &["--stage", "1"])
        .succeeded()
        .says("Testing the reference stage-01-bind-port (no program of yours is registered");
}

/// A program that has moved on to stage 11's protocol fails stage 2 on
/// purpose: progress shows stage 2 as behind it, and the chat's first stage
/// as next.
#[test]
fn progress_shows_stages_left_behind_by_a_protocol_change() {
    let learner = LearnerDir::new("moved-on");
    let stage_11 = reference_binary("stage-11-binary-protocol").unwrap();
    std::fs::create_dir_all(learner.file(".course")).unwrap();
    std::fs::write(
        learner.file(".course/server"),
        format!("run = {}\n", stage_11.display()),
    )
    .unwrap();
    learner.record_passed(1..=10);

    learner
        .run("course", &["progress"])
        .succeeded()
        .says("  ✓ stage 1  bind a port")
        .says("  ✗ stage 2  answer PING (it passed 2026-11-20 10:00 UTC)")
        .says("  · stage 3  answer many PINGs on one connection  (passed 2026-11-20 10:00 UTC; not run now)")
        .says("  · stage 10  ")
        .says("  ✓ stage 11  a length-prefixed binary protocol")
        .says("  ✗ stage 12  ")
        // A chat server speaks first: the reason says nothing arrived, not
        // that a reply to nothing is missing.
        .says("because: nothing arrived within 2 s of connecting (the client sent nothing)")
        .says("your program speaks stage 11's protocol now")
        .says("Next: stage 12, ");
}

/// A learner in another language who takes a checkpoint keeps their
/// program registered: the checkpoint is the reference to read, unless
/// they ask for it to be tested.
#[test]
fn a_checkpoint_keeps_a_program_in_another_language_registered() {
    let learner = LearnerDir::new("checkpoint-python");
    learner
        .run("course", &["register", "python3 server.py"])
        .succeeded();
    learner
        .run("course", &["checkpoint", "4"])
        .succeeded()
        .says("Your registered program stays `python3 server.py`: the tests still run it")
        .says("to read and diff against yours")
        .says("`just checkpoint 4 --register`");
    let registered = std::fs::read_to_string(learner.file(".course/server")).unwrap();
    assert!(
        registered.contains("run = python3 server.py"),
        "{registered}"
    );
    assert!(learner.file("my-server/src/main.rs").is_file());
    learner
        .run("course", &["checkpoint", "4", "--register"])
        .succeeded()
        .says("The registered program was `python3 server.py`; it is now this project.");
    let registered = std::fs::read_to_string(learner.file(".course/server")).unwrap();
    assert!(registered.contains("run = my-server/target/debug/my-server"));
}

/// The chat stages are a new program: registered for stages 12 and later,
/// `just progress` tests it there, and the Redis program elsewhere.
#[test]
fn a_program_registered_for_a_range_of_stages_is_tested_on_those() {
    let learner = LearnerDir::new("ranges");
    let redis = reference_binary("stage-11-binary-protocol").unwrap();
    let chat = reference_binary("stage-12-chat-broadcast").unwrap();
    learner.record_passed(1..=10);
    learner
        .run("course", &["register", &redis.display().to_string()])
        .succeeded();
    learner
        .run(
            "course",
            &["register", "--stages", "12-", &chat.display().to_string()],
        )
        .succeeded()
        .says("now test, for stages 12-,");
    learner
        .run("course", &["register"])
        .succeeded()
        .says("for the other stages:")
        .says("for stages 12-:");
    learner
        .run("course", &["progress"])
        .succeeded()
        .says("Progress of your programs")
        .says("  stages 12-")
        .says("  ✓ stage 11  ")
        .says("  ✓ stage 12  ")
        .says("  ✗ stage 13  ")
        .says("Next: stage 13, ")
        .does_not_say("a change broke it");
}

/// A chat on Redis takes `--redis`, and needs a Redis for the checks of the
/// chat stages before it too: `just progress` gives it one there, so that
/// stages 12-14 pass, rather than look left behind.
#[test]
fn progress_gives_a_chat_on_redis_a_redis_for_the_chat_stages_too() {
    let learner = LearnerDir::new("chat-on-redis");
    let chat = reference_binary("stage-19-chat-on-redis").unwrap();
    learner.record_passed(15..=18);
    learner
        .run(
            "course",
            &["register", "--stages", "12-19", &chat.display().to_string()],
        )
        .succeeded();
    learner
        .run("course", &["progress"])
        .succeeded()
        .says("  ✓ stage 12  ")
        .says("  ✓ stage 14  ")
        .says("  ✗ stage 15  ")
        .says("  ✓ stage 19  ");
}

/// A program that does not build is not tested: the build's errors show,
/// and the run stops there.
#[test]
fn a_build_that_fails_stops_the_run_with_its_errors() {
    let learner = LearnerDir::new("build");
    learner
        .run(
            "course",
            &[
                "register",
                "--build",
                "echo 'main.c:3: error: oops' >&2; exit 1",
                "./server",
            ],
        )
        .succeeded()
        .says("build: echo");
    learner
        .run("tester", &["--stage", "1"])
        .failed()
        .says("main.c:3: error: oops")
        .says("your program did not build")
        .does_not_say("Stage 1: bind a port");
}

/// A build that does not write the program the registration runs (Go's
/// `go build` names its output after the folder) is found at `register`
/// and at every run, instead of the tests running an old program in
/// silence; a build says it is building, and from where.
#[test]
fn a_program_older_than_its_build_is_warned_about() {
    let learner = LearnerDir::new("stale");
    std::fs::create_dir_all(learner.file("goredis")).unwrap();
    let program = learner.file("goredis/server");
    std::fs::write(&program, "#!/bin/sh\nexit 1\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&program)
        .unwrap()
        .set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 30))
        .unwrap();
    let build = "cd goredis && echo built > goredis";
    learner
        .run("course", &["register", "--build", build, "goredis/server"])
        .succeeded()
        .says("building: cd goredis && echo built > goredis   (from ")
        .says("goredis/server` is older than this build, which did not write it");
    learner
        .run("tester", &["--stage", "1"])
        .failed()
        .says("building: cd goredis")
        .says("is older than this build")
        .says("the tests run an old program");
    // A build that names a program that is not there at all.
    learner
        .run(
            "course",
            &["register", "--build", "true", "./missing/server"],
        )
        .succeeded()
        .says("the program `./missing/server` starts, is not there");
}

/// Without `just`: cargo's aliases run the same programs (the tester takes
/// the command after the stage, as `just test-stage 3 CMD` does), and the
/// learner's `just` recipes end a failed run without just's own error line.
#[test]
fn cargo_aliases_and_quiet_recipes_serve_a_learner_without_just() {
    let config = std::fs::read_to_string(course_dir().join(".cargo/config.toml")).unwrap();
    for alias in [
        "test-stage = \"run -q -p tests --bin tester -- --stage\"",
        "test-upto = \"run -q -p tests --bin tester -- --upto\"",
        "course = \"run -q -p tests --bin course --\"",
    ] {
        assert!(config.contains(alias), "no alias {alias} in:\n{config}");
    }
    let learner = LearnerDir::new("no-just");
    learner
        .run("tester", &["--stage", "1", "reference"])
        .succeeded()
        .says("Testing the reference stage-01-bind-port");
    let justfile = std::fs::read_to_string(course_dir().join("justfile")).unwrap();
    for recipe in [
        "start:",
        "register ",
        "progress ",
        "watch ",
        "test-stage ",
        "test-upto ",
    ] {
        let at = justfile
            .lines()
            .position(|line| line.starts_with(recipe))
            .unwrap_or_else(|| panic!("no recipe {recipe}"));
        let attributes: Vec<&str> = justfile.lines().take(at).collect();
        assert!(
            attributes[attributes.len().saturating_sub(2)..].contains(&"[no-exit-message]"),
            "`{recipe}` would end a failed run with just's own error line"
        );
    }
    let readme = std::fs::read_to_string(course_dir().join("README.md")).unwrap();
    assert!(readme.contains("`cargo test-stage 3`"));
    assert!(readme.contains("just register --watch"));
}

/// Hints come one at a time, from the stage's hints page in the book.
#[test]
fn hints_are_shown_one_at_a_time_on_request() {
    let learner = LearnerDir::new("hints");
    let page = harness::hints::load(harness::stages::find(3).unwrap()).unwrap();
    let first_line = page[0].text.lines().next().unwrap();
    learner
        .run("course", &["hint", "3"])
        .succeeded()
        .says("Stage 3 (answer many PINGs on one connection), Hint 1 of 3")
        .says(first_line)
        .says("`just hint 3 2` is the next hint")
        .does_not_say(page[1].text.lines().next().unwrap());
    learner
        .run("course", &["hint", "3", "3"])
        .succeeded()
        .says("Hint 3 of 3")
        .says("That was the last hint");
    learner
        .run("course", &["hint", "3", "4"])
        .failed()
        .says("stage 3 has hints 1 to 3");
    learner
        .run("course", &["hint", "99"])
        .failed()
        .says("there is no stage `99`");
}

/// Every checkpoint's manifest is one cargo accepts, offline, with the
/// course's Cargo.lock (checkpoint 4 is built and run above).
#[test]
fn every_checkpoint_is_a_valid_cargo_project() {
    // `cargo metadata` would want every platform's dependencies (wasi...),
    // which a machine only has if it built for them: ask for this one's.
    let rustc = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .unwrap();
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: ").map(str::to_string))
        .expect("rustc -vV names the host");
    for stage in harness::stages::all().iter().map(|stage| stage.number) {
        let learner = LearnerDir::new(&format!("checkpoint-{stage}"));
        learner
            .run("course", &["checkpoint", &stage.to_string()])
            .succeeded()
            .says(&format!("go on with stage {stage}"));
        let output = std::process::Command::new(env!("CARGO"))
            .args(["metadata", "--offline", "--format-version", "1"])
            .args(["--filter-platform", &host, "--manifest-path"])
            .arg(learner.file("my-server/Cargo.toml"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "checkpoint {stage}: cargo metadata failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let registered = std::fs::read_to_string(learner.file(".course/server")).unwrap();
        assert!(registered.contains("run = my-server/target/debug/my-server"));
    }
}
