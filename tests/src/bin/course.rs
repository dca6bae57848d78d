//! `course`: the learner's and the teacher's commands around the tester.
//! The `just` recipes call it; each subcommand is one recipe.
//!
//! ```text
//! course start                      # just start: my-server/, registered
//! course checkpoint N               # just checkpoint N: my-server/ from the stage N builds on
//! course register [--build CMD] [CMD]   # just register: name your program (any language)
//! course unregister                 # just unregister
//! course progress                   # just progress: which stages pass, what next
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

use harness::check::{RunSettings, run_stage};
use harness::learner::{Origin, Registration, choose_server, learner_dir, record_pass};
use harness::random::seed_from_environment;
use harness::{hints, progress, project, stages};

const USAGE: &str = "\
course: the course's commands for learners (the `just` recipes call it)

usage:
  course start                          create my-server/, your own server, and register it
  course checkpoint N                   start my-server/ again from the reference stage that N
                                        builds on (N-1, or 4 for the first chat stage; yours is
                                        moved aside to my-server.before-checkpoint-N/)
  course register [--build CMD] [--watch PATH]... CMD
                                        test CMD (any language; `--port N` is added) from now on;
                                        --build runs once before each test run
  course register                       show the registered program
  course unregister                     test the reference stages again
  course progress [--server CMD]        run the stages in order: which pass, what to do next
  course hint N [K]                     stage N's hint K (default 1)
  course watch [N]                      test stage N (default: the first not passed yet) each time
                                        a file of your program changes";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        println!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "start" => no_arguments(rest).and_then(|()| say(project::start(&learner_dir()))),
        "checkpoint" => checkpoint(rest),
        "register" => register(rest),
        "unregister" => no_arguments(rest).and_then(|()| unregister()),
        "progress" => run_progress(rest),
        "hint" => hint(rest),
        "watch" => watch(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("course: {message}");
            ExitCode::from(2)
        }
    }
}

fn no_arguments(rest: &[String]) -> Result<(), String> {
    match rest.first() {
        Some(extra) => Err(format!("unexpected argument `{extra}`")),
        None => Ok(()),
    }
}

fn say(result: Result<String, String>) -> Result<ExitCode, String> {
    println!("{}", result?);
    Ok(ExitCode::SUCCESS)
}

/// A stage number from the command line, as a stage.
fn stage_argument(text: Option<&String>) -> Result<&'static harness::check::Stage, String> {
    let text = text.ok_or("which stage? e.g. 3")?;
    let known = || {
        stages::all()
            .iter()
            .map(|stage| stage.number.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    text.trim()
        .parse::<u8>()
        .ok()
        .and_then(stages::find)
        .ok_or_else(|| format!("there is no stage `{text}`; the stages are {}", known()))
}

fn checkpoint(rest: &[String]) -> Result<ExitCode, String> {
    let stage = stage_argument(rest.first())?;
    no_arguments(&rest[1..])?;
    say(project::checkpoint(&learner_dir(), stage))
}

fn register(rest: &[String]) -> Result<ExitCode, String> {
    let dir = learner_dir();
    let mut build = None;
    let mut watch = Vec::new();
    let mut words = Vec::new();
    let mut args = rest.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--build" => build = Some(args.next().ok_or("--build needs a command")?.clone()),
            "--watch" => watch.push(args.next().ok_or("--watch needs a path")?.clone()),
            _ => words.push(arg.clone()),
        }
    }
    let run = words.join(" ");
    if run.trim().is_empty() {
        if build.is_some() || !watch.is_empty() {
            return Err("--build and --watch go with the command that runs your program".into());
        }
        match Registration::load(&dir)? {
            Some(registration) => println!(
                "The tester runs your program like this (from .course/server):\n{}",
                registration.describe()
            ),
            None => println!(
                "No program is registered: the tests run against the reference stages.\n\
                 `just start` creates a Rust project and registers it; `just register \"python3 \
                 server.py\"` registers any command (the tester adds `--port N`)."
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut registration = Registration::for_command(&run, build.as_deref(), &dir);
    if !watch.is_empty() {
        registration.watch = watch;
    }
    registration.save(&dir, "just register")?;
    println!(
        "Registered: `just test-stage N`, `just progress` and `just watch` now test\n{}\
         Commands run from the course's folder: give paths from there, or whole paths.",
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

fn run_progress(rest: &[String]) -> Result<ExitCode, String> {
    let mut given = None;
    let mut args = rest.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--server" => given = Some(args.next().ok_or("--server needs a command")?.clone()),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let chosen = choose_server(given.as_deref(), stages::all()[0].reference())?;
    if chosen.origin == Origin::Reference {
        println!(
            "No program of yours to measure: `just start` creates one, `just register CMD` names \
             one (any language), and `just progress` then shows how far it gets."
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Err(problem) = chosen.prepare() {
        println!("{problem}");
        return Ok(ExitCode::FAILURE);
    }
    let seed = seed_from_environment()?;
    progress::report(&chosen, seed, &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

fn hint(rest: &[String]) -> Result<ExitCode, String> {
    let stage = stage_argument(rest.first())?;
    let found = hints::load(stage)?;
    let number = match rest.get(1) {
        None => 1,
        Some(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|number| (1..=found.len()).contains(number))
            .ok_or_else(|| {
                format!(
                    "stage {} has hints 1 to {}; `{text}` is not one of them",
                    stage.number,
                    found.len()
                )
            })?,
    };
    no_arguments(rest.get(2..).unwrap_or_default())?;
    let chosen = &found[number - 1];
    println!(
        "Stage {} ({}), {}\n\n{}\n",
        stage.number, stage.summary, chosen.label, chosen.text
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
fn watch(rest: &[String]) -> Result<ExitCode, String> {
    let given = rest
        .first()
        .map(|text| stage_argument(Some(text)))
        .transpose()?;
    no_arguments(rest.get(1..).unwrap_or_default())?;
    let dir = learner_dir();
    let registration = Registration::load(&dir)?.ok_or(
        "`just watch` tests your registered program: `just start` creates one, `just register \
         CMD` names one",
    )?;
    if registration.watch.is_empty() {
        return Err(
            "the registration names no files to watch: `just register --watch FOLDER CMD`".into(),
        );
    }
    let chosen = choose_server(None, stages::all()[0].reference())?;
    let mut stage = match given {
        Some(stage) => stage,
        None => {
            // Where the learner is: what `just progress` says is next.
            chosen.prepare()?;
            let next = progress::report(&chosen, seed_from_environment()?, &mut std::io::stdout());
            next.and_then(stages::find)
                .unwrap_or(stages::all()[stages::all().len() - 1])
        }
    };
    let paths: Vec<PathBuf> = registration
        .watch
        .iter()
        .map(|path| dir.join(path))
        .collect();
    loop {
        println!("\n=== stage {}: {} ===", stage.number, stage.summary);
        let prepared = chosen.prepare();
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
                    chosen.spec.clone(),
                    seed,
                    format!("just test-stage {}", stage.number),
                );
                let result = run_stage(stage, &settings, &mut std::io::stdout());
                if result.passed() {
                    record_pass(&chosen, stage);
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
