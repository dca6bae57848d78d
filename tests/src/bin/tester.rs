//! `tester`: runs a stage's checks against the reference stage or your own
//! program, and prints one line per check, then each failure in full.
//!
//! ```text
//! tester --stage 3                                  # the reference stage 3
//! tester --stage 3 --server "python3 my_server.py"  # your program
//! tester --upto 3 --server "./my_server"            # stages 1, 2 and 3
//! ```
//!
//! `just test-stage N [CMD]` and `just test-upto N [CMD]` call this.

use std::io::Write;
use std::process::ExitCode;

use harness::check::{RunSettings, Stage, run_stage};
use harness::learner::{Origin, REFERENCE_KEYWORD, choose_server, record_pass, shell_quote};
use harness::random::{SEED_VARIABLE, seed_from_environment};
use harness::stages;

const USAGE: &str = "\
tester: runs the course's checks against a server

usage: tester (--stage N | --upto N) [--server COMMAND] [--seed N]
  --stage N          run stage N's checks
  --upto N           run the checks of stages 1 to N that apply to stage N (all
                     of them, until stage 11 changes the protocol), in order,
                     stopping at the first stage that fails
  --server COMMAND   the program to test, as a shell command; the tester adds
                     `--port N` to it. Default: $COURSE_SERVER, or else the
                     program registered in .course/server (`just start`,
                     `just register`), or else the reference stage N.
                     `--server reference` tests the reference stage N.
  --seed N           the seed for random values (default: $COURSE_SEED, or a
                     new one, printed)
  --list             list the stages and their checks";

struct Options {
    stage: u8,
    upto: bool,
    server: Option<String>,
    seed: Option<u64>,
}

fn parse_options() -> Result<Option<Options>, String> {
    let mut stage = None;
    let mut upto = false;
    let mut server = None;
    let mut seed = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--stage" | "--upto" => {
                upto = arg == "--upto";
                let text = value(&arg)?;
                stage = Some(
                    text.parse::<u8>()
                        .map_err(|_| format!("{arg} {text}: a stage is a number, e.g. 3"))?,
                );
            }
            "--server" => server = Some(value("--server")?),
            "--seed" => {
                let text = value("--seed")?;
                seed = Some(
                    text.parse()
                        .map_err(|_| format!("--seed {text}: a seed is a whole number"))?,
                );
            }
            "--list" => {
                list();
                return Ok(None);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            _ => return Err(format!("unknown option '{arg}'")),
        }
    }
    let stage = stage.ok_or("say which stage: --stage N or --upto N")?;
    Ok(Some(Options {
        stage,
        upto,
        server,
        seed,
    }))
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
    let options = match parse_options() {
        Ok(Some(options)) => options,
        Ok(None) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tester: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let Some(last) = stages::find(options.stage) else {
        let known: Vec<String> = stages::all().iter().map(|s| s.number.to_string()).collect();
        eprintln!(
            "tester: there is no stage {}; the stages are {}",
            options.stage,
            known.join(", ")
        );
        return ExitCode::from(2);
    };
    let seed = match options.seed.map(Ok).unwrap_or_else(seed_from_environment) {
        Ok(seed) => seed,
        Err(message) => {
            eprintln!("tester: {message}");
            return ExitCode::from(2);
        }
    };
    // An empty --server (what `just test-stage 3` passes when no command is
    // given) means "not given".
    let chosen = match choose_server(options.server.as_deref(), last.reference()) {
        Ok(chosen) => chosen,
        Err(problem) => {
            eprintln!("tester: {problem}");
            return ExitCode::from(2);
        }
    };
    let recipe = if options.upto {
        "test-upto"
    } else {
        "test-stage"
    };
    let rerun = match (&chosen.origin, options.server.as_deref().map(str::trim)) {
        (Origin::Given, Some(command)) => {
            format!("just {recipe} {} {}", options.stage, shell_quote(command))
        }
        (Origin::Reference, Some(REFERENCE_KEYWORD)) => {
            format!("just {recipe} {} {REFERENCE_KEYWORD}", options.stage)
        }
        _ => format!("just {recipe} {}", options.stage),
    };
    let _ = writeln!(std::io::stdout(), "Testing {}", chosen.describe());
    if let Err(problem) = chosen.prepare() {
        println!("\n{problem}");
        return ExitCode::FAILURE;
    }
    let server = chosen.spec.clone();
    let settings = RunSettings::new(server, seed, rerun);
    // --upto N: the earlier stages whose checks stage N must still pass
    // (all of them until the protocol changes), then stage N.
    let selected: Vec<&Stage> = if options.upto {
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
        let not_run = result
            .failures()
            .filter(|(_, report)| report.text.is_empty())
            .count();
        let failed = result.failures().count() - not_run;
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
        record_pass(&chosen, stage);
    }
    ExitCode::SUCCESS
}
