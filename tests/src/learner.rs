//! The learner's side of the course: where their own program is, how the
//! tester finds it without being told each time, and which stages it has
//! passed.
//!
//! All of it lives in the learner's folder (the course folder itself, unless
//! `COURSE_LEARNER_DIR` names another), and git ignores it:
//! - `my-server/`: the Rust project that `just start` or `just checkpoint N`
//!   creates;
//! - `.course/server`: the registered program (`just register`): the command
//!   that runs it, and optionally one that builds it first and the files
//!   `just watch` watches;
//! - `.course/progress`: the stages it has passed, and when.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::check::Stage;
use crate::server::{SERVER_VARIABLE, ServerSpec, shell_quote};

/// Names another folder for `my-server/` and `.course/` (the harness's own
/// tests use a temporary one).
pub const LEARNER_DIR_VARIABLE: &str = "COURSE_LEARNER_DIR";
/// The folder `just start` creates, inside the learner's folder.
pub const PROJECT_FOLDER: &str = "my-server";
/// What `--server` takes to mean "the reference stage", even when a program
/// is registered: `just test-stage 3 reference`.
pub const REFERENCE_KEYWORD: &str = "reference";

/// The course's folder: the workspace this tester was built from.
pub fn course_dir() -> PathBuf {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests.parent().unwrap_or(tests).to_path_buf()
}

/// The folder that holds `my-server/` and `.course/`.
pub fn learner_dir() -> PathBuf {
    match std::env::var_os(LEARNER_DIR_VARIABLE) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => course_dir(),
    }
}

/// The program the tester runs when it is not given one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// A shell command; the tester adds `--port N`.
    pub run: String,
    /// A shell command run once before the checks, e.g. `cargo build`.
    pub build: Option<String>,
    /// Files and folders whose changes make `just watch` test again.
    pub watch: Vec<String>,
}

impl Registration {
    pub fn path(learner_dir: &Path) -> PathBuf {
        learner_dir.join(".course").join("server")
    }

    /// The registration of the project in `my-server/`.
    pub fn for_project() -> Registration {
        Registration {
            run: format!("{PROJECT_FOLDER}/target/debug/{PROJECT_FOLDER}"),
            // `--target-dir`: the program is where `run` says even when the
            // learner's shell sets CARGO_TARGET_DIR for every project.
            build: Some(format!(
                "cargo build --quiet --manifest-path {PROJECT_FOLDER}/Cargo.toml \
                 --target-dir {PROJECT_FOLDER}/target"
            )),
            watch: vec![
                format!("{PROJECT_FOLDER}/src"),
                format!("{PROJECT_FOLDER}/Cargo.toml"),
            ],
        }
    }

    /// A registration for `run`, watching the files its words name (the
    /// folder of `server.py` in `python3 ~/code/server.py`).
    pub fn for_command(run: &str, build: Option<&str>, learner_dir: &Path) -> Registration {
        let mut watch: Vec<String> = Vec::new();
        for word in run
            .split_whitespace()
            .chain(build.unwrap_or_default().split_whitespace())
        {
            let word = word.trim_matches(|c| c == '"' || c == '\'');
            let expanded = expand_home(word);
            let path = learner_dir.join(&expanded);
            let folder = if path.is_file() {
                Path::new(&expanded)
                    .parent()
                    .map(|parent| parent.to_string_lossy().into_owned())
            } else if path.is_dir() && word != "." && word != "/" {
                Some(expanded.clone())
            } else {
                None
            };
            if let Some(folder) = folder {
                let folder = if folder.is_empty() {
                    ".".to_string()
                } else {
                    folder
                };
                if !watch.contains(&folder) {
                    watch.push(folder);
                }
            }
        }
        Registration {
            run: run.to_string(),
            build: build.map(str::to_string),
            watch,
        }
    }

    /// Reads the program registered for every stage without one of its
    /// own (the first section of `.course/server`), if there is one.
    pub fn load(learner_dir: &Path) -> Result<Option<Registration>, String> {
        Ok(Registrations::load(learner_dir)?.default)
    }

    fn parse(text: &str) -> Result<Registration, String> {
        let mut run = None;
        let mut build = None;
        let mut watch = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!(
                    "line {}: expected `run = COMMAND`, `build = COMMAND` or `watch = PATH`",
                    index + 1
                ));
            };
            let value = value.trim().to_string();
            match key.trim() {
                "run" => run = Some(value),
                "build" if !value.is_empty() => build = Some(value),
                "build" => {}
                "watch" => watch.push(value),
                other => return Err(format!("line {}: unknown setting `{other}`", index + 1)),
            }
        }
        let run = run
            .filter(|run| !run.is_empty())
            .ok_or("no `run = COMMAND` line: which program should the tester run?")?;
        Ok(Registration { run, build, watch })
    }

    /// The settings, one a line, as `.course/server` holds them.
    fn settings_text(&self) -> String {
        let mut text = String::new();
        if let Some(build) = &self.build {
            let _ = writeln!(text, "build = {build}");
        }
        let _ = writeln!(text, "run = {}", self.run);
        for path in &self.watch {
            let _ = writeln!(text, "watch = {path}");
        }
        text
    }

    /// Writes this as the program for every stage without one of its own,
    /// keeping the programs registered for ranges of stages.
    pub fn save(&self, learner_dir: &Path, written_by: &str) -> Result<(), String> {
        let mut all = Registrations::load(learner_dir).unwrap_or_default();
        all.default = Some(self.clone());
        all.save(learner_dir, written_by)
    }

    /// Removes `.course/server`; true if there was one.
    pub fn remove(learner_dir: &Path) -> Result<bool, String> {
        let path = Registration::path(learner_dir);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(error) => Err(format!("cannot remove {}: {error}", path.display())),
        }
    }

    /// The `just register ...` command that registers this again.
    pub fn register_command(&self) -> String {
        self.register_command_for(None)
    }

    /// The same, for a range of stages.
    pub fn register_command_for(&self, stages: Option<StageRange>) -> String {
        let mut command = String::from("just register");
        if let Some(stages) = stages {
            command.push_str(&format!(" --stages {stages}"));
        }
        if let Some(build) = &self.build {
            command.push_str(&format!(" --build {}", shell_quote(build)));
        }
        for path in &self.watch {
            command.push_str(&format!(" --watch {}", shell_quote(path)));
        }
        command.push(' ');
        command.push_str(&shell_quote(&self.run));
        command
    }

    /// The registration as the learner would read it, one setting a line.
    pub fn describe(&self) -> String {
        let mut text = String::new();
        if let Some(build) = &self.build {
            let _ = writeln!(text, "  build: {build}");
        }
        let _ = writeln!(text, "  run:   {} --port N", self.run);
        if !self.watch.is_empty() {
            let _ = writeln!(text, "  watch: {}", self.watch.join(", "));
        }
        text
    }
}

/// Stages `first` to `last` (to the end when `last` is `None`): `12-`,
/// `12-14`, `3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageRange {
    pub first: u8,
    pub last: Option<u8>,
}

impl StageRange {
    pub fn contains(&self, stage: u8) -> bool {
        stage >= self.first && self.last.is_none_or(|last| stage <= last)
    }
}

impl std::str::FromStr for StageRange {
    type Err = String;

    fn from_str(text: &str) -> Result<StageRange, String> {
        let number = |word: &str| {
            word.trim()
                .parse::<u8>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(format!(
                    "`{text}` is not a range of stages: `12-` (12 and later), `12-14` or `3`"
                ))
        };
        let range = match text.split_once('-') {
            Some((first, "")) => StageRange {
                first: number(first)?,
                last: None,
            },
            Some((first, last)) => StageRange {
                first: number(first)?,
                last: Some(number(last)?),
            },
            None => StageRange {
                first: number(text)?,
                last: Some(number(text)?),
            },
        };
        if range.last.is_some_and(|last| last < range.first) {
            return Err(format!("`{text}` ends before it starts"));
        }
        Ok(range)
    }
}

impl std::fmt::Display for StageRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.last {
            None => write!(f, "{}-", self.first),
            Some(last) if last == self.first => write!(f, "{last}"),
            Some(last) => write!(f, "{}-{last}", self.first),
        }
    }
}

/// Everything in `.course/server`: the program for every stage, and
/// programs of their own for ranges of stages (the chat stages are a new
/// program: `just register --stages 12- "python3 chat.py"`), each in a
/// section `[stages 12-]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registrations {
    pub default: Option<Registration>,
    pub ranges: Vec<(StageRange, Registration)>,
}

impl Registrations {
    /// Reads `.course/server`; none when there is none.
    pub fn load(learner_dir: &Path) -> Result<Registrations, String> {
        let path = Registration::path(learner_dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Registrations::default());
            }
            Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
        };
        Registrations::parse(&text)
            .map_err(|problem| format!("{}: {problem}", display_relative(&path, learner_dir)))
    }

    fn parse(text: &str) -> Result<Registrations, String> {
        // Sections: the lines before the first `[stages ...]`, then one per
        // header.
        let mut sections: Vec<(Option<StageRange>, String)> = vec![(None, String::new())];
        for line in text.lines() {
            let trimmed = line.trim();
            if let Some(range) = trimmed
                .strip_prefix("[stages ")
                .and_then(|rest| rest.strip_suffix(']'))
            {
                sections.push((Some(range.parse()?), String::new()));
            } else if let Some((_, section)) = sections.last_mut() {
                section.push_str(line);
                section.push('\n');
            }
        }
        let mut registrations = Registrations::default();
        for (range, section) in sections {
            let has_settings = section
                .lines()
                .any(|line| !line.trim().is_empty() && !line.trim().starts_with('#'));
            match range {
                None if !has_settings => {}
                None => registrations.default = Some(Registration::parse(&section)?),
                Some(range) => registrations
                    .ranges
                    .push((range, Registration::parse(&section)?)),
            }
        }
        Ok(registrations)
    }

    /// The program registered for `stage`: its range's, else the one for
    /// every stage.
    pub fn for_stage(&self, stage: u8) -> Option<&Registration> {
        self.ranges
            .iter()
            .find(|(range, _)| range.contains(stage))
            .map(|(_, registration)| registration)
            .or(self.default.as_ref())
    }

    /// Registers `registration` for `range`, replacing what that range had.
    pub fn set_range(&mut self, range: StageRange, registration: Registration) {
        self.ranges.retain(|(other, _)| *other != range);
        self.ranges.push((range, registration));
        self.ranges.sort_by_key(|(range, _)| range.first);
    }

    /// Writes `.course/server`, saying who wrote it.
    pub fn save(&self, learner_dir: &Path, written_by: &str) -> Result<(), String> {
        let mut text = format!(
            "# Your program, as the course's tester runs it when no command is given\n\
             # (`just test-stage N`, `just progress`, `just watch`). Written by\n\
             # `{written_by}` on {}; edit it, or run `just register` again.\n\
             # run: the command that starts it (the tester adds `--port N`), run from\n\
             # the folder that holds this `.course` folder.\n",
            now_text()
        );
        text.push_str("# build: run once before testing; watch: what `just watch` watches.\n");
        text.push_str(
            "# A `[stages 12-]` section: another program for those stages (12 and later).\n",
        );
        if let Some(default) = &self.default {
            text.push_str(&default.settings_text());
        }
        for (range, registration) in &self.ranges {
            let _ = write!(text, "\n[stages {range}]\n{}", registration.settings_text());
        }
        write_file(&Registration::path(learner_dir), &text)
    }

    /// All of it as the learner would read it.
    pub fn describe(&self) -> String {
        let mut text = String::new();
        if let Some(default) = &self.default {
            if !self.ranges.is_empty() {
                text.push_str("for the other stages:\n");
            }
            text.push_str(&default.describe());
        }
        for (range, registration) in &self.ranges {
            let _ = write!(text, "for stages {range}:\n{}", registration.describe());
        }
        text
    }

    pub fn is_empty(&self) -> bool {
        self.default.is_none() && self.ranges.is_empty()
    }
}

/// `~/x` as `$HOME/x`, as a shell would read it.
fn expand_home(word: &str) -> String {
    match (word.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => word.to_string(),
    }
}

/// Which program a run tests, and why that one.
#[derive(Clone, Debug)]
pub struct ProgramUnderTest {
    pub spec: ServerSpec,
    pub origin: Origin,
    /// The registered build command, run once before the checks.
    pub build: Option<String>,
}

/// Where the program under test came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Given on the command line (`just test-stage 3 "python3 s.py"`).
    Given,
    /// From `$COURSE_SERVER`.
    Environment,
    /// From `.course/server`.
    Registered,
    /// The course's reference stage.
    Reference,
}

/// Picks the program to test: the one given, else `$COURSE_SERVER`, else the
/// registered one, else the reference stage. `given` may be the word
/// `reference` to skip the others.
pub fn choose_program(given: Option<&str>, stage: &Stage) -> Result<ProgramUnderTest, String> {
    let reference = stage.reference();
    let without_build = |spec, origin| ProgramUnderTest {
        spec,
        origin,
        build: None,
    };
    match given.map(str::trim).filter(|given| !given.is_empty()) {
        Some(REFERENCE_KEYWORD) => return Ok(without_build(reference, Origin::Reference)),
        Some(command) => {
            return Ok(without_build(
                ServerSpec::Command(command.to_string()),
                Origin::Given,
            ));
        }
        None => {}
    }
    if let Ok(command) = std::env::var(SERVER_VARIABLE)
        && !command.trim().is_empty()
    {
        return Ok(without_build(
            ServerSpec::Command(command),
            Origin::Environment,
        ));
    }
    match Registrations::load(&learner_dir())?.for_stage(stage.number) {
        Some(registration) => Ok(ProgramUnderTest {
            spec: ServerSpec::Command(registration.run.clone()),
            origin: Origin::Registered,
            build: registration.build.clone(),
        }),
        None => Ok(without_build(reference, Origin::Reference)),
    }
}

impl ProgramUnderTest {
    /// What the run tests, in one line: "your program `...` (registered in
    /// .course/server)".
    pub fn describe(&self) -> String {
        match self.origin {
            Origin::Given => format!("your program {}", self.spec.describe()),
            Origin::Environment => format!(
                "your program {} (from ${SERVER_VARIABLE})",
                self.spec.describe()
            ),
            Origin::Registered => format!(
                "your program {} (registered in .course/server; `just test-stage N {REFERENCE_KEYWORD}` \
                 tests the reference instead)",
                self.spec.describe()
            ),
            Origin::Reference => {
                let mut text = self.spec.describe();
                if Registrations::load(&learner_dir()).is_ok_and(|found| found.is_empty()) {
                    text.push_str(
                        " (no program of yours is registered: `just start` creates one, \
                         `just register CMD` names one)",
                    );
                }
                text
            }
        }
    }

    /// Gets ready to run: a registered command runs from the learner's
    /// folder, after its build command. Cargo's or the compiler's messages
    /// go straight to the terminal.
    pub fn prepare(&self) -> Result<(), String> {
        if self.origin != Origin::Registered {
            return Ok(());
        }
        let dir = learner_dir();
        std::env::set_current_dir(&dir)
            .map_err(|error| format!("cannot go to {}: {error}", dir.display()))?;
        let Some(build) = &self.build else {
            return Ok(());
        };
        let ServerSpec::Command(run) = &self.spec else {
            return Ok(());
        };
        if let Some(warning) = build_and_check(build, run, &dir)? {
            println!("{warning}");
        }
        Ok(())
    }

    /// True when the program tested is the learner's, so a pass is theirs.
    pub fn is_learners(&self) -> bool {
        self.origin != Origin::Reference
    }
}

/// Runs a registered build from `dir` (saying so, since it may take a
/// while), then looks at the program `run` starts: a warning if the build
/// did not write it (it is older than the build, so the tests would run an
/// old program), an error if the build failed.
pub fn build_and_check(build: &str, run: &str, dir: &Path) -> Result<Option<String>, String> {
    println!("building: {build}   (from {})", dir.display());
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let started = SystemTime::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(build)
        .current_dir(dir)
        .stdin(Stdio::null())
        // Its messages go where the tester's report goes (stdout), in order.
        .stdout(Stdio::inherit())
        .stderr(stderr_to_stdout())
        .status()
        .map_err(|error| format!("could not run `{build}`: {error}"))?;
    if !status.success() {
        return Err(format!(
            "your program did not build: `{build}` failed ({}), run from {}. Fix what it says \
             above, then run this again.",
            crate::server::describe_status(status),
            dir.display()
        ));
    }
    let Some(program) = program_file(run, dir) else {
        return Ok(None);
    };
    let modified = std::fs::metadata(&program).and_then(|metadata| metadata.modified());
    Ok(match modified {
        Err(_) => Some(format!(
            "warning: the build ran, but `{}`, the program `{run}` starts, is not there: \
             does the build write it there? (The build runs from {}.)",
            program.display(),
            dir.display()
        )),
        // A second of slack: some file systems keep whole seconds.
        Ok(modified) if modified + std::time::Duration::from_secs(1) < started => Some(format!(
            "warning: `{}` is older than this build, which did not write it: the tests run an \
             old program. Does the build write its output there? (Go's `go build` in folder \
             `x` writes `x/x`, not `x/server`; `go build -o server .` names it. The build runs \
             from {}.)",
            program.display(),
            dir.display()
        )),
        Ok(_) => None,
    })
}

/// The file a registered command runs, when its first word is a path
/// (`./server`, `goredis/server`; not `python3`).
fn program_file(run: &str, dir: &Path) -> Option<PathBuf> {
    let first = run.split_whitespace().next()?;
    let first = first.trim_matches(|c| c == '"' || c == '\'');
    if !first.contains('/') {
        return None;
    }
    Some(dir.join(expand_home(first)))
}

/// The build's error output, into the tester's standard output so that a
/// captured run reads in order (and a terminal shows both anyway).
fn stderr_to_stdout() -> Stdio {
    use std::os::fd::AsFd;
    match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::inherit(),
    }
}

/// The stages a learner's program has passed, and when (`.course/progress`).
#[derive(Clone, Debug, Default)]
pub struct Progress {
    passed: BTreeMap<u8, String>,
}

impl Progress {
    pub fn path(learner_dir: &Path) -> PathBuf {
        learner_dir.join(".course").join("progress")
    }

    /// Reads `.course/progress`; a missing or unreadable file is no progress.
    pub fn load(learner_dir: &Path) -> Progress {
        let text = std::fs::read_to_string(Progress::path(learner_dir)).unwrap_or_default();
        let mut passed = BTreeMap::new();
        for line in text.lines() {
            // "stage 3 passed 2026-11-21 14:03 UTC"
            let mut words = line.splitn(4, ' ');
            if let (Some("stage"), Some(number), Some("passed"), Some(when)) =
                (words.next(), words.next(), words.next(), words.next())
                && let Ok(number) = number.parse::<u8>()
            {
                passed.insert(number, when.to_string());
            }
        }
        Progress { passed }
    }

    /// When `stage` first passed, if it has.
    pub fn passed_on(&self, stage: u8) -> Option<&str> {
        self.passed.get(&stage).map(String::as_str)
    }

    /// Records that `stage` passed now, unless it had passed before.
    pub fn record(learner_dir: &Path, stage: u8) -> Result<(), String> {
        let mut progress = Progress::load(learner_dir);
        if progress.passed.contains_key(&stage) {
            return Ok(());
        }
        progress.passed.insert(stage, now_text());
        let mut text = String::from(
            "# The stages your program has passed, and when; `just progress` reads it.\n",
        );
        for (number, when) in &progress.passed {
            let _ = writeln!(text, "stage {number} passed {when}");
        }
        write_file(&Progress::path(learner_dir), &text)
    }
}

/// Records a learner's pass, or says why it could not (the run itself
/// stands either way).
pub fn record_pass(program: &ProgramUnderTest, stage: &Stage) {
    if program.is_learners()
        && let Err(problem) = Progress::record(&learner_dir(), stage.number)
    {
        eprintln!("(could not record the pass: {problem})");
    }
}

/// Writes `text` to `path`, creating its folder.
pub fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)
            .map_err(|error| format!("cannot create {}: {error}", folder.display()))?;
    }
    std::fs::write(path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// `path` relative to `base` when it is inside it.
pub fn display_relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .map(|relative| relative.display().to_string())
        .unwrap_or_else(|_| path.display().to_string())
}

/// Now, as `2026-11-21 14:03 UTC`.
pub fn now_text() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let minutes = seconds % 86_400 / 60;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minutes / 60,
        minutes % 60
    )
}

/// Year, month, day of a count of days since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`), so that the tester needs no date crate.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_counted_from_1970() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_778), (2026, 11, 21));
    }

    #[test]
    fn a_registration_reads_back_what_was_written() {
        let text = "# comment\nbuild = go build -o server .\nrun = ./server\nwatch = .\n";
        let registration = Registration::parse(text).unwrap();
        assert_eq!(registration.run, "./server");
        assert_eq!(registration.build.as_deref(), Some("go build -o server ."));
        assert_eq!(registration.watch, vec!["."]);
        assert!(
            Registration::parse("build = make\n")
                .unwrap_err()
                .contains("no `run")
        );
        assert!(
            Registration::parse("runn = x\n")
                .unwrap_err()
                .contains("unknown setting `runn`")
        );
    }

    #[test]
    fn a_range_of_stages_has_a_program_of_its_own() {
        let text = "run = python3 server.py\n\n[stages 12-]\nrun = python3 chat.py\nwatch = .\n";
        let all = Registrations::parse(text).unwrap();
        assert_eq!(all.for_stage(3).unwrap().run, "python3 server.py");
        assert_eq!(all.for_stage(12).unwrap().run, "python3 chat.py");
        assert_eq!(all.for_stage(14).unwrap().run, "python3 chat.py");
        let only_chat = Registrations::parse("[stages 12-14]\nrun = ./chat\n").unwrap();
        assert!(only_chat.for_stage(11).is_none());
        assert_eq!(only_chat.for_stage(13).unwrap().run, "./chat");
        assert_eq!("12-".parse::<StageRange>().unwrap().to_string(), "12-");
        assert_eq!("3".parse::<StageRange>().unwrap().to_string(), "3");
        assert!("14-12".parse::<StageRange>().is_err());
        assert!("x".parse::<StageRange>().is_err());
    }
}
