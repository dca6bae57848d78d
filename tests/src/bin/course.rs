//! `course`: the learner's and the teacher's commands around the tester.
//! The `just` recipes call it; each subcommand is one recipe.
//!
//! ```text
//! course start                      # just start: my-server/, registered
//! course checkpoint N [--register]  # just checkpoint N: my-server/ from the stage N builds on
//! course register [--build CMD] [--watch PATH]... [CMD]
//!                                   # just register: name your program (any language)
//! course unregister                 # just unregister
//! course progress [--server CMD]    # just progress: which stages pass, what next
//! course hint N [K]                 # just hint N [K]: stage N's hint K
//! course watch [N]                  # just watch [N]: test again on every save
//! ```
//!
//! (The course lint, `just check-course`, is a maintainer's tool: the
//! `check-course` binary of `tests/maintainer`.)

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand};

use harness::check::{RunSettings, Stage, run_stage};
use harness::learner::{
    Registration, Registrations, StageRange, build_and_check, choose_program, learner_dir,
    record_pass,
};
use harness::random::seed_from_environment;
use harness::{hints, progress, project, stages};

/// The course's commands for learners (the `just` recipes call them).
#[derive(Parser)]
#[command(name = "course")]
struct Arguments {
    #[command(subcommand)]
    command: CourseCommand,
}

#[derive(Subcommand)]
enum CourseCommand {
    /// Create my-server/, your own server, and register it.
    Start,
    /// Start my-server/ again from the reference stage that N builds on
    /// (N-1, or 4 for the first chat stage); yours is moved aside to
    /// my-server.before-checkpoint-N/.
    Checkpoint {
        #[arg(value_name = "N", value_parser = stages::from_argument)]
        stage: &'static Stage,
        /// Test the new my-server/ from now on, even when a program of
        /// yours in another language is registered (by default it stays
        /// registered, and my-server/ is the reference to read).
        #[arg(long)]
        register: bool,
    },
    /// Test CMD (any language; `--port N` is added) from now on. Without
    /// CMD: show the registered program.
    Register {
        /// A command run once before each test run, e.g. `make`.
        #[arg(long, value_name = "CMD")]
        build: Option<String>,
        /// A file or folder whose changes make `just watch` test again
        /// (default: the folders CMD names).
        #[arg(long, value_name = "PATH")]
        watch: Vec<String>,
        /// Only for these stages (`12-`: 12 and later; `12-14`; `3`): a
        /// program of their own, such as the chat's. The other stages keep
        /// theirs.
        #[arg(long, value_name = "RANGE")]
        stages: Option<StageRange>,
        /// The command that runs your program, as one argument or as
        /// several words; everything after its first word is part of it.
        #[arg(
            value_name = "CMD",
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        command: Vec<String>,
    },
    /// Test the reference stages again.
    Unregister,
    /// Run the stages in order: which pass, what to do next.
    Progress {
        /// The program to measure (default: the registered one).
        #[arg(long, value_name = "CMD")]
        server: Option<String>,
    },
    /// Stage N's hint K (default 1).
    Hint {
        #[arg(value_name = "N", value_parser = stages::from_argument)]
        stage: &'static Stage,
        #[arg(value_name = "K", value_parser = hint_number)]
        number: Option<usize>,
    },
    /// Test stage N (default: the first not passed yet) each time a file of
    /// your program changes.
    Watch {
        #[arg(value_name = "N", value_parser = stages::from_argument)]
        stage: Option<&'static Stage>,
    },
}

fn hint_number(text: &str) -> Result<usize, String> {
    text.trim()
        .parse()
        .map_err(|_| "a hint is a number: 1 for the first".to_string())
}

fn main() -> ExitCode {
    let result = match Arguments::parse().command {
        CourseCommand::Start => project::start(&learner_dir()).map(print_and_succeed),
        CourseCommand::Checkpoint { stage, register } => {
            project::checkpoint(&learner_dir(), stage, register).map(print_and_succeed)
        }
        CourseCommand::Register {
            build,
            watch,
            stages,
            command,
        } => register(build, watch, stages, &command.join(" ")),
        CourseCommand::Unregister => unregister(),
        CourseCommand::Progress { server } => run_progress(server.as_deref()),
        CourseCommand::Hint { stage, number } => hint(stage, number.unwrap_or(1)),
        CourseCommand::Watch { stage } => watch(stage),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("course: {message}");
            ExitCode::from(2)
        }
    }
}

/// Prints what a command did, which went well.
fn print_and_succeed(message: String) -> ExitCode {
    println!("{message}");
    ExitCode::SUCCESS
}

fn register(
    build: Option<String>,
    watch: Vec<String>,
    stages: Option<StageRange>,
    run: &str,
) -> Result<ExitCode, String> {
    let dir = learner_dir();
    if run.trim().is_empty() {
        if build.is_some() || !watch.is_empty() || stages.is_some() {
            return Err(
                "--build, --watch and --stages go with the command that runs your program".into(),
            );
        }
        let all = Registrations::load(&dir)?;
        match all.is_empty() {
            false => println!(
                "The tester runs your program like this (from .course/server):\n{}",
                all.describe()
            ),
            true => println!(
                "No program is registered: the tests run against the reference stages.\n\
                 `just start` creates a Rust project and registers it; `just register \"python3 \
                 server.py\"` registers any command (the tester adds `--port N`)."
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut registration = Registration::for_command(run, build.as_deref(), &dir);
    if !watch.is_empty() {
        registration.watch = watch;
    }
    // A build that fails, or writes its program elsewhere, is found now
    // rather than at the first test.
    if let Some(build) = &registration.build {
        println!("Checking that the build works (it runs before each test run)...");
        match build_and_check(build, &registration.run, &dir) {
            Ok(Some(warning)) => println!("{warning}"),
            Ok(None) => {}
            Err(problem) => println!("{problem} (Registered anyway.)"),
        }
    }
    let which = match stages {
        Some(range) => {
            let mut all = Registrations::load(&dir)?;
            all.set_range(range, registration.clone());
            all.save(&dir, "just register")?;
            format!("stages {range}")
        }
        None => {
            registration.save(&dir, "just register")?;
            let others = Registrations::load(&dir)?.ranges;
            if others.is_empty() {
                "every stage".to_string()
            } else {
                let ranges: Vec<String> =
                    others.iter().map(|(range, _)| range.to_string()).collect();
                format!(
                    "every stage but {}, which have their own",
                    ranges.join(", ")
                )
            }
        }
    };
    println!(
        "Registered: `just test-stage`, `just progress` and `just watch` now test, for \
         {which},\n{}Commands run from the course's folder: give paths from there, or whole paths.",
        registration.describe()
    );
    if registration.watch.is_empty() {
        println!(
            "(`just watch` needs to know which files are yours: `just register --watch FOLDER \
             ...`.)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn unregister() -> Result<ExitCode, String> {
    if Registration::remove(&learner_dir())? {
        println!("Unregistered: the tests run against the reference stages again.");
    } else {
        println!("No program was registered.");
    }
    Ok(ExitCode::SUCCESS)
}

fn run_progress(given: Option<&str>) -> Result<ExitCode, String> {
    let any_of_yours = stages::all()
        .iter()
        .any(|stage| choose_program(given, stage).is_ok_and(|program| program.is_learners()));
    if !any_of_yours {
        println!(
            "No program of yours to measure: `just start` creates one, `just register CMD` names \
             one (any language), and `just progress` then shows how far it gets."
        );
        return Ok(ExitCode::SUCCESS);
    }
    let seed = seed_from_environment()?;
    match progress::report(given, seed, &mut std::io::stdout()) {
        Err(problem) => {
            println!("{problem}");
            Ok(ExitCode::FAILURE)
        }
        Ok(_) => Ok(ExitCode::SUCCESS),
    }
}

fn hint(stage: &Stage, number: usize) -> Result<ExitCode, String> {
    let found = hints::load(stage)?;
    if !(1..=found.len()).contains(&number) {
        return Err(format!(
            "stage {} has hints 1 to {}; `{number}` is not one of them",
            stage.number,
            found.len()
        ));
    }
    let selected = &found[number - 1];
    println!(
        "Stage {} ({}), {}\n\n{}\n",
        stage.number, stage.summary, selected.label, selected.text
    );
    if number < found.len() {
        println!(
            "Still stuck? `just hint {} {}` is the next hint, closer to the answer.",
            stage.number,
            number + 1
        );
    } else {
        println!(
            "That was the last hint. `just diff {n}` shows how the reference does it, and \
             `just checkpoint {}` goes on from the reference stage {n} (your project is kept).",
            stage.number + 1,
            n = stage.number
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Tests one stage (given, or the one `just progress` says is next), then
/// waits for a file of the learner's program to change and tests again;
/// moves on to the next stage once one passes.
fn watch(given: Option<&'static Stage>) -> Result<ExitCode, String> {
    let dir = learner_dir();
    if Registrations::load(&dir)?.is_empty() {
        return Err(
            "`just watch` tests your registered program: `just start` creates one, \
                    `just register CMD` names one"
                .into(),
        );
    }
    let mut stage = match given {
        Some(stage) => stage,
        None => {
            // Where the learner is: what `just progress` says is next.
            let next = progress::report(None, seed_from_environment()?, &mut std::io::stdout())?;
            next.and_then(stages::find)
                .unwrap_or(stages::all()[stages::all().len() - 1])
        }
    };
    loop {
        // The program registered for this stage (the chat's may be another).
        let registration = Registrations::load(&dir)?
            .for_stage(stage.number)
            .cloned()
            .ok_or(format!(
                "no program of yours is registered for stage {}: `just register --stages {}- CMD`",
                stage.number, stage.number
            ))?;
        if registration.watch.is_empty() {
            return Err(
                "the registration names no files to watch: `just register --watch FOLDER CMD`"
                    .into(),
            );
        }
        let program = choose_program(None, stage)?;
        let paths: Vec<PathBuf> = registration
            .watch
            .iter()
            .map(|path| dir.join(path))
            .collect();
        println!("\n=== stage {}: {} ===", stage.number, stage.summary);
        let prepared = program.prepare();
        // After the build (whose output may be among the watched files), and
        // before the checks, so that a save while they run counts.
        let seen = snapshot(&paths);
        let passed = match prepared {
            Err(problem) => {
                println!("{problem}");
                false
            }
            Ok(()) => {
                let seed = seed_from_environment()?;
                let settings = RunSettings::new(
                    program.spec.clone(),
                    seed,
                    format!("just test-stage {}", stage.number),
                );
                let result = run_stage(stage, &settings, &mut std::io::stdout());
                if result.passed() {
                    record_pass(&program, stage);
                }
                result.passed()
            }
        };
        if passed {
            match stages::find(stage.number + 1) {
                Some(next) => {
                    println!(
                        "\nStage {} passes. Next: stage {}, {} (tutorial/src/{:02}-{}.md); it \
                         is tested on your next save.",
                        stage.number, next.number, next.summary, next.number, next.name
                    );
                    stage = next;
                    // A stage with a program of its own (the chat's) is
                    // tested now: the save it waits for is in other files.
                    let next_registration =
                        Registrations::load(&dir)?.for_stage(next.number).cloned();
                    if next_registration.as_ref() != Some(&registration) {
                        continue;
                    }
                }
                None => println!("\nStage {} passes: that was the last one.", stage.number),
            }
        } else {
            println!("\n`just hint {}` gives a hint.", stage.number);
        }
        println!(
            "Watching {} for changes (Ctrl-C stops)...",
            registration.watch.join(", ")
        );
        let _ = std::io::stdout().flush();
        wait_for_change(&paths, seen);
    }
}

/// Polls the watched files until one changes, appears or goes. Polling needs no crate and is cheap for a project's files.
fn wait_for_change(paths: &[PathBuf], seen: BTreeMap<PathBuf, SystemTime>) {
    loop {
        std::thread::sleep(Duration::from_millis(400));
        if snapshot(paths) != seen {
            // An editor may write a file in a few steps: let it finish.
            std::thread::sleep(Duration::from_millis(200));
            return;
        }
    }
}

/// Every file under `paths` with its modification time, leaving out build
/// output and hidden folders.
fn snapshot(paths: &[PathBuf]) -> BTreeMap<PathBuf, SystemTime> {
    let mut files = BTreeMap::new();
    for path in paths {
        add_files(path, &mut files, 0);
    }
    files
}

fn add_files(path: &Path, files: &mut BTreeMap<PathBuf, SystemTime>, depth: usize) {
    const SKIPPED: &[&str] = &["target", "node_modules", "__pycache__", "build", "dist"];
    let Ok(metadata) = std::fs::metadata(path) else {
        return;
    };
    if metadata.is_file() {
        files.insert(
            path.to_path_buf(),
            metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        );
        return;
    }
    if !metadata.is_dir() || depth > 8 || files.len() > 20_000 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || SKIPPED.contains(&name.as_str()) {
            continue;
        }
        add_files(&entry.path(), files, depth + 1);
    }
}
