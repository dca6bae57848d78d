//! `tester`: runs a stage's checks against the reference stage or your own
//! program, and prints one line per check, then each failure in full.
//!
//! ```text
//! tester --stage 3                                  # the reference stage 3
//! tester --stage 3 --server "python3 my_server.py"  # your program
//! tester --upto 3 --server "./my_server"            # stages 1, 2 and 3
//! tester --stage 3 "python3 my_server.py"           # the same as --server
//! ```
//!
//! `just test-stage N [CMD]` and `just test-upto N [CMD]` call this.

use std::io::Write;
use std::process::ExitCode;

use clap::{ArgGroup, Parser};

use harness::chat_store::{FIRST_STAGE_ON_REDIS, StoreKind};
use harness::check::{RunSettings, Stage, run_stage};
use harness::learner::{Origin, REFERENCE_KEYWORD, choose_program, record_pass};
use harness::random::{SEED_VARIABLE, seed_from_environment};
use harness::server::shell_quote;
use harness::stages;

/// Runs the course's checks against a server: the reference stage, or your
/// own program in any language.
#[derive(Parser)]
#[command(
    name = "tester",
    group(ArgGroup::new("which").required(true).args(["stage", "upto", "list"]))
)]
struct Arguments {
    /// Run stage N's checks.
    #[arg(long, value_name = "N", value_parser = stages::from_argument)]
    stage: Option<&'static Stage>,
    /// Run the checks of stages 1 to N that apply to stage N (all of them,
    /// until stage 11 changes the protocol), in order, stopping at the first
    /// stage that fails.
    #[arg(long, value_name = "N", value_parser = stages::from_argument)]
    upto: Option<&'static Stage>,
    /// The program to test, as a shell command; the tester adds `--port N`
    /// to it. Default: $COURSE_SERVER, or else the program registered in
    /// .course/server (`just start`, `just register`), or else the reference
    /// stage N. `--server reference` tests the reference stage N.
    #[arg(long, value_name = "COMMAND")]
    server: Option<String>,
    /// The same as --server COMMAND, given after the stage
    /// (`cargo test-stage 3 "python3 s.py"`).
    #[arg(value_name = "COMMAND", conflicts_with = "server")]
    command: Option<String>,
    /// The seed for random values (default: $COURSE_SEED, or a new one,
    /// printed).
    #[arg(long, value_name = "N", value_parser = seed_argument)]
    seed: Option<u64>,
    /// List the stages and their checks.
    #[arg(long)]
    list: bool,
    /// The Redis that a chat on Redis (stage 19 on) is given: `course` (the
    /// course's own, the default) or `redis-server`. Default:
    /// $COURSE_CHAT_STORE, or else `course`.
    #[arg(long, value_name = "WHICH", value_parser = StoreKind::from_name)]
    chat_store: Option<StoreKind>,
}

fn seed_argument(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| "a seed is a whole number".to_string())
}

fn list() {
    for stage in stages::all() {
        println!("Stage {} ({}): {}", stage.number, stage.name, stage.summary);
        for check in stage.checks {
            println!("  - {}", check.title);
        }
    }
}

fn main() -> ExitCode {
    let mut arguments = Arguments::parse();
    if arguments.server.is_none() {
        arguments.server = arguments.command.take();
    }
    let (last, upto) = match (arguments.stage, arguments.upto) {
        (Some(stage), _) => (stage, false),
        (None, Some(stage)) => (stage, true),
        // The only other way past clap: --list.
        (None, None) => {
            debug_assert!(arguments.list);
            list();
            return ExitCode::SUCCESS;
        }
    };
    let seed = match arguments.seed.map(Ok).unwrap_or_else(seed_from_environment) {
        Ok(seed) => seed,
        Err(message) => {
            eprintln!("tester: {message}");
            return ExitCode::from(2);
        }
    };
    // An empty --server (what `just test-stage 3` passes when no command is
    // given) means "not given".
    let program = match choose_program(arguments.server.as_deref(), last) {
        Ok(program) => program,
        Err(problem) => {
            eprintln!("tester: {problem}");
            return ExitCode::from(2);
        }
    };
    let recipe = if upto { "test-upto" } else { "test-stage" };
    let rerun = match (&program.origin, arguments.server.as_deref().map(str::trim)) {
        (Origin::Given, Some(command)) => {
            format!("just {recipe} {} {}", last.number, shell_quote(command))
        }
        (Origin::Reference, Some(REFERENCE_KEYWORD)) => {
            format!("just {recipe} {} {REFERENCE_KEYWORD}", last.number)
        }
        _ => format!("just {recipe} {}", last.number),
    };
    let _ = writeln!(std::io::stdout(), "Testing {}", program.describe());
    if let Err(problem) = program.prepare() {
        println!("\n{problem}");
        return ExitCode::FAILURE;
    }
    let server = program.spec.clone();
    let mut settings = RunSettings::new(server, seed, rerun);
    // A chat on Redis is given one for the checks of the chat stages
    // before it too (--upto).
    if last.number >= FIRST_STAGE_ON_REDIS {
        settings.store = Some(
            arguments
                .chat_store
                .unwrap_or_else(StoreKind::from_environment),
        );
    }
    // --upto N: the earlier stages whose checks stage N must still pass
    // (all of them until the protocol changes), then stage N.
    let selected: Vec<&Stage> = if upto {
        stages::all()
            .iter()
            .copied()
            .filter(|stage| last.builds_on.contains(&stage.number) || stage.number == last.number)
            .collect()
    } else {
        vec![last]
    };

    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "(seed {seed}; {SEED_VARIABLE}={seed} repeats these random values)\n"
    );
    for (i, stage) in selected.iter().enumerate() {
        let result = run_stage(stage, &settings, &mut out);
        let total = result.checks.len();
        let not_run = result.not_run();
        let failed = result.failures().count();
        if failed > 0 {
            let not_run = if not_run > 0 {
                format!(" ({not_run} not run)")
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "\nStage {n}: {failed} of {total} checks failed{not_run}. Read the failure above; \
                 then `just hint {n}` gives a hint (the first of a few, each closer to the \
                 answer), tutorial/src/{n:02}-{name}.md explains the stage, and `just diff {n}` \
                 shows what the reference stages/{n:02}-{name}/ adds.",
                n = stage.number,
                name = stage.name,
            );
            if i + 1 < selected.len() {
                let _ = writeln!(out, "Later stages were not run: fix this one first.");
            }
            return ExitCode::FAILURE;
        }
        let _ = writeln!(out, "Stage {}: all {total} checks passed.\n", stage.number);
        record_pass(&program, stage);
    }
    ExitCode::SUCCESS
}
