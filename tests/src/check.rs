//! Checks, their failures, and the runner that prints one line per check
//! and then each failure in full.

use std::fmt::Write as _;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use crate::chat_store::{FIRST_STAGE_ON_REDIS, Store, StoreKind};
use crate::client::Client;
use crate::random::{Rng, SEED_VARIABLE};
use crate::server::{Server, ServerSpec, describe_status, startup_timeout};

/// One behaviour of a stage, checked against a freshly started server.
pub struct Check {
    /// What the server does when it passes, in words: "answers PING with
    /// +PONG". A check with random counts may say them in [`Context::title`].
    pub title: &'static str,
    pub run: fn(&mut Context) -> Result<(), Failure>,
}

/// What a check has to work with: the server and a random generator.
pub struct Context<'a> {
    pub server: &'a mut Server,
    pub rng: Rng,
    title: Option<String>,
    clients: usize,
    /// The Redis the chat keeps its state in (stage 19 on), if any.
    store: Option<Store>,
    settings: &'a RunSettings,
}

impl Context<'_> {
    /// Connects a new client ("client 1", "client 2", ...).
    pub fn connect(&mut self) -> Result<Client, Failure> {
        self.clients += 1;
        Client::connect(self.server.address(), format!("client {}", self.clients))
    }

    /// Connects a new client to another process of the program, named
    /// after it: "client 3 (on B)".
    pub fn connect_to(&mut self, process: SocketAddr, name: &str) -> Result<Client, Failure> {
        self.clients += 1;
        let client_name = format!("client {} (on {name})", self.clients);
        Client::connect(process, client_name)
    }

    /// Starts another process of the program under test, with the same
    /// Redis (a chat on Redis: any number of processes serve one chat).
    pub fn start_another(&mut self) -> Result<Server, Failure> {
        self.start_another_with("")
    }

    /// [`Context::start_another`], with `arguments` after `--redis URL`
    /// (stage 21's `--web-port N`).
    pub fn start_another_with(&mut self, arguments: &str) -> Result<Server, Failure> {
        let arguments = format!("{}{arguments}", self.store_argument());
        self.start_process_with(&arguments)
    }

    /// Starts another process of the program under test with `arguments`
    /// before `--port N`.
    pub fn start_process_with(&mut self, arguments: &str) -> Result<Server, Failure> {
        let timeout = self.settings.startup_timeout;
        Server::start_with(&self.settings.server, arguments, &mut self.rng, timeout)
    }

    /// The chat's Redis: killed, and started again, empty, on its port.
    pub fn restart_store(&mut self) -> Result<(), Failure> {
        let timeout = self.settings.startup_timeout;
        match &mut self.store {
            Some(store) => store.restart(timeout),
            None => Err(Failure::new(
                "this check needs the chat's Redis, and has none",
            )),
        }
    }

    /// ` --redis URL` when the check has a Redis for the chat, else "".
    fn store_argument(&self) -> String {
        self.store
            .as_ref()
            .map(|store| format!(" --redis {}", store.url()))
            .unwrap_or_default()
    }

    /// Replaces the check's title for this run, to say its random counts:
    /// "answers 7 PINGs sent one after another".
    pub fn title(&mut self, title: impl Into<String>) {
        self.title = Some(title.into());
    }
}

/// Why a check failed, in the words a learner needs to fix it.
#[derive(Clone, Debug)]
pub struct Failure {
    /// One line: what went wrong.
    pub problem: String,
    details: Vec<Detail>,
    hints: Vec<String>,
    /// How many of the first hints name the kind of problem (a line
    /// ending, a crash): they lead, before what the check knows.
    causes: usize,
    /// What the server printed, shown last.
    output: Option<String>,
    /// Set when the server never got as far as listening.
    pub did_not_start: bool,
    /// Set when nothing (more) arrived in time: a check that knows how far
    /// the client got can say so.
    pub timed_out: bool,
}

#[derive(Clone, Debug)]
enum Detail {
    /// `label: text`, the text's further lines indented under it.
    Labeled(String, String),
    /// Lines shown as they are (already aligned, e.g. a caret diff).
    Block(String),
}

/// Width of the labels in a failure report.
const LABEL_WIDTH: usize = 10;

impl Failure {
    pub fn new(problem: impl Into<String>) -> Failure {
        Failure {
            problem: problem.into(),
            details: Vec::new(),
            hints: Vec::new(),
            causes: 0,
            output: None,
            did_not_start: false,
            timed_out: false,
        }
    }

    pub fn detail(mut self, label: &str, text: impl Into<String>) -> Failure {
        self.details
            .push(Detail::Labeled(label.to_string(), text.into()));
        self
    }

    pub fn block(mut self, text: impl Into<String>) -> Failure {
        self.details.push(Detail::Block(text.into()));
        self
    }

    /// Adds a hint after the ones already there.
    pub fn hint(mut self, text: impl Into<String>) -> Failure {
        self.hints.push(text.into());
        self
    }

    /// Adds a hint before the general ones: what this check knows about the
    /// likely cause is worth more than what any check would say. It comes
    /// after the hints that name the kind of problem ([`Failure::cause`]).
    pub fn explain(mut self, text: impl Into<String>) -> Failure {
        self.hints.insert(self.causes, text.into());
        self
    }

    /// Adds a hint that names the kind of problem seen (a line ending
    /// without `\r`, a crash in the server's output, an option ignored):
    /// it leads, before what the check that ran would guess.
    pub fn cause(mut self, text: impl Into<String>) -> Failure {
        self.hints.insert(self.causes, text.into());
        self.causes += 1;
        self
    }

    /// Adds what the server printed (its last lines), as the report shows it.
    pub fn output(mut self, tail: &str) -> Failure {
        self.output = Some(tail.to_string());
        self
    }

    /// The report without the server's output: problem, details, hints,
    /// each block cut at [`BLOCK_CAP`] bytes.
    pub fn render(&self) -> String {
        self.render_blocks(Some(BLOCK_CAP))
    }

    /// The report with every block whole, however long (for the file a long
    /// report is saved in).
    pub fn render_uncut(&self) -> String {
        self.render_blocks(None)
    }

    fn render_blocks(&self, cap: Option<usize>) -> String {
        let cut = |text: &str| cut_block(text, cap);
        let mut out = String::new();
        push_labeled(&mut out, "problem", &cut(&self.problem));
        for detail in &self.details {
            match detail {
                Detail::Labeled(label, text) => push_labeled(&mut out, label, &cut(text)),
                Detail::Block(text) => {
                    for line in cut(text).lines() {
                        let _ = writeln!(out, "{line}");
                    }
                }
            }
        }
        for hint in &self.hints {
            push_labeled(&mut out, "hint", &cut(hint));
        }
        if let Some(tail) = &self.output {
            push_output(&mut out, &cut(tail));
        }
        out
    }
}

/// The most of one block of a report (what was sent, expected, received,
/// the server's output) that is shown: a 1 MB value, escaped, would fill
/// thousands of lines and hide the rest of the report. The whole report
/// goes to a file when a block is cut.
pub const BLOCK_CAP: usize = 2_000;

/// `text`, or its first `cap` bytes (at a line break when there is one near
/// the end) and how long it was.
fn cut_block(text: &str, cap: Option<usize>) -> String {
    let Some(cap) = cap.filter(|cap| text.len() > *cap) else {
        return text.to_string();
    };
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if let Some(line_end) = text[..end].rfind('\n').filter(|at| *at > cap / 2) {
        end = line_end;
    }
    format!(
        "{}... (cut here: {} bytes in all)",
        &text[..end],
        text.len()
    )
}

fn push_output(text: &mut String, tail: &str) {
    if tail.trim().is_empty() {
        push_labeled(text, "output", "(your program printed nothing)");
    } else {
        push_labeled(text, "output", "its last lines, stdout and stderr:");
        for line in tail.lines() {
            let _ = writeln!(text, "{:LABEL_WIDTH$}| {line}", "");
        }
    }
}

/// Lines of prose in a report are wrapped at this width (bytes are not:
/// breaking them would hide where they differ).
const WRAP_WIDTH: usize = 100;

fn push_labeled(out: &mut String, label: &str, text: &str) {
    let mut first = true;
    for line in text
        .lines()
        .flat_map(|line| wrap(line, WRAP_WIDTH - LABEL_WIDTH))
    {
        if first {
            let _ = writeln!(out, "{:<LABEL_WIDTH$}{line}", format!("{label}:"));
            first = false;
        } else {
            let _ = writeln!(out, "{:LABEL_WIDTH$}{line}", "");
        }
    }
    if first {
        let _ = writeln!(out, "{label}:");
    }
}

/// Splits prose at spaces into lines of at most `width` characters; a
/// single longer word (escaped bytes) stays whole.
fn wrap(line: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in line.split(' ') {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    lines.push(current);
    lines
}

/// A stage of the course, as the tester knows it.
pub struct Stage {
    pub number: u8,
    /// The stage's name everywhere: `many-pings` in `stages/03-many-pings`,
    /// the package `stage-03-many-pings` and the chapter `03-many-pings.md`.
    pub name: &'static str,
    /// What the stage is about, in a few words.
    pub summary: &'static str,
    /// The earlier stages whose checks this stage must still pass: all of
    /// them along one track (stage 5 passes 1-4), only the protocol-free
    /// ones when the protocol changes (stage 7 passes stage 1's).
    pub builds_on: &'static [u8],
    /// The stage whose code this one starts from, so that `just diff N`
    /// shows the lesson: usually N-1; the first chat stage starts from
    /// stage 4's server. 0 for stage 1.
    pub base: u8,
    pub checks: &'static [Check],
}

impl Stage {
    /// The reference stage's package and binary: `stage-03-many-pings`.
    pub fn package(&self) -> String {
        format!("stage-{:02}-{}", self.number, self.name)
    }

    pub fn reference(&self) -> ServerSpec {
        ServerSpec::Reference {
            package: self.package(),
        }
    }

    /// "stage 3 (many-pings)"
    pub fn label(&self) -> String {
        format!("stage {} ({})", self.number, self.name)
    }
}

/// What became of a check: it passed, it failed (with the report), or it
/// was not run. `just progress` says the same of a whole stage.
pub enum Outcome {
    Passed,
    Failed(FailureReport),
    /// Not run, and why: "the server did not start", "an earlier check
    /// failed".
    NotRun(&'static str),
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Passed)
    }

    /// The failure's report, if it failed.
    pub fn report(&self) -> Option<&FailureReport> {
        match self {
            Outcome::Failed(report) => Some(report),
            Outcome::Passed | Outcome::NotRun(_) => None,
        }
    }
}

/// A failure with everything the report needs around it.
pub struct FailureReport {
    /// The title of the check that failed, as printed.
    pub title: String,
    pub failure: Failure,
    /// The whole report, as printed.
    pub text: String,
}

/// One check's run.
pub struct CheckResult {
    /// The check's fixed title, as in [`Check::title`].
    pub check: &'static str,
    /// The title as printed, with this run's random counts.
    pub title: String,
    pub outcome: Outcome,
    /// For a check that passed: the lines of the server's output that name
    /// a crash or a race, if it printed any.
    pub trouble: Option<String>,
}

/// The runs of one stage's checks.
pub struct StageResult {
    pub stage: u8,
    pub checks: Vec<CheckResult>,
}

impl StageResult {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.outcome.passed())
    }

    /// The checks that failed, with their reports.
    pub fn failures(&self) -> impl Iterator<Item = (&CheckResult, &FailureReport)> {
        self.checks
            .iter()
            .filter_map(|check| check.outcome.report().map(|report| (check, report)))
    }

    /// How many checks were not run.
    pub fn not_run(&self) -> usize {
        self.checks
            .iter()
            .filter(|check| matches!(check.outcome, Outcome::NotRun(_)))
            .count()
    }

    /// The stage's outcome as a whole: passed, or that of its first check
    /// that did not pass.
    pub fn outcome(self) -> Outcome {
        self.checks
            .into_iter()
            .map(|check| check.outcome)
            .find(|outcome| !outcome.passed())
            .unwrap_or(Outcome::Passed)
    }
}

/// How a run was asked for, so a failure can say how to run it again.
pub struct RunSettings {
    pub server: ServerSpec,
    pub seed: u64,
    /// The command that reruns this, e.g. `just test-stage 3 "python3 s.py"`.
    pub rerun: String,
    /// How long the server may take to start listening.
    pub startup_timeout: Duration,
    /// Stop at the first failing check (`just progress` needs one reason, not
    /// all of them).
    pub stop_at_first_failure: bool,
    /// The Redis to start for every check, the program given `--redis URL`:
    /// set when the checks of earlier chat stages run against a chat on
    /// Redis. The checks of stage 19 on start one anyway, of this kind if
    /// set, else the one [`StoreKind::from_environment`] names.
    pub store: Option<StoreKind>,
}

impl RunSettings {
    /// Settings with the startup timeout from the environment.
    pub fn new(server: ServerSpec, seed: u64, rerun: impl Into<String>) -> RunSettings {
        RunSettings {
            server,
            seed,
            rerun: rerun.into(),
            startup_timeout: startup_timeout(),
            stop_at_first_failure: false,
            store: None,
        }
    }
}

/// Runs every check of `stage` against a fresh server each, printing one
/// line per check to `out` as it finishes, then each failure in full.
pub fn run_stage(stage: &Stage, settings: &RunSettings, out: &mut dyn Write) -> StageResult {
    let _ = writeln!(out, "Stage {}: {}", stage.number, stage.summary);
    let mut results: Vec<CheckResult> = Vec::new();
    for (index, check) in stage.checks.iter().enumerate() {
        let did_not_start = results.iter().any(|result| {
            result
                .outcome
                .report()
                .is_some_and(|report| report.failure.did_not_start)
        });
        let stopped =
            settings.stop_at_first_failure && results.iter().any(|result| !result.outcome.passed());
        if did_not_start || stopped {
            // It would not start for the next check either: say so instead
            // of waiting for it again.
            let why = if did_not_start {
                "the server did not start"
            } else {
                "an earlier check failed"
            };
            let _ = writeln!(out, "  - {} (not run: {why})", check.title);
            results.push(CheckResult {
                check: check.title,
                title: check.title.to_string(),
                outcome: Outcome::NotRun(why),
                trouble: None,
            });
            continue;
        }
        let result = run_check(stage, index, check, settings);
        let mark = if result.outcome.passed() {
            "✓"
        } else {
            "✗"
        };
        let note = if result.trouble.is_some() {
            "  (passed, but its output names a crash or a race: see below)"
        } else {
            ""
        };
        let _ = writeln!(out, "  {mark} {}{note}", result.title);
        let _ = out.flush();
        results.push(result);
    }
    let result = StageResult {
        stage: stage.number,
        checks: results,
    };
    print_reports(stage, &result, out);
    result
}

/// A failure whose server crashed (its output names a cause) or exited
/// leads with that: the check's own guess comes after. `clients` is how
/// many clients the check connected.
fn with_crash_named(mut failure: Failure, server: &mut Server, clients: usize) -> Failure {
    if let Some(cause) = server.crash_cause() {
        return failure.cause(format!(
            "Your program crashed (or a thread of it did): its output below says why, `{cause}`. \
             Fix that first."
        ));
    }
    match server.exit_status() {
        // The tester's first connection, the one that waits until the
        // program listens, was its first client: a program that exits
        // without a crash before the check's second client has no accept
        // loop, whatever the check saw (a reset, a refused connection).
        Some(status) if clients <= 1 => {
            let seen = std::mem::replace(
                &mut failure.problem,
                format!(
                    "your program exited ({}) after its first client left: accept connections in \
                     a loop",
                    describe_status(status)
                ),
            );
            // The check's own hints are about what it saw, not this.
            failure.hints.truncate(failure.causes);
            failure.detail("seen", seen).cause(
                "The tester's first connection (the one that waits until your program listens) \
                 was your program's first client. A server serves one client after another: \
                 accept in a loop, and when a client leaves, go back to accepting the next.",
            )
        }
        Some(status) => failure.cause(format!(
            "Your program exited ({}) during the check: see its output below.",
            describe_status(status)
        )),
        None => failure,
    }
}

/// Prints each failure's report; a failure whose problem is the same as an
/// earlier check's (a missing command fails every check that needs it) is
/// said in one line, not printed again in full.
fn print_reports(stage: &Stage, result: &StageResult, out: &mut dyn Write) {
    let mut printed: Vec<(usize, &str)> = Vec::new();
    let mut troubles: Vec<(usize, &str)> = Vec::new();
    for (index, check) in result.checks.iter().enumerate() {
        // The same trouble: the same first line (a race may be reported
        // once per client, and the checks have different numbers of them).
        let first_line = |trouble: &str| {
            trouble
                .lines()
                .find(|line| !line.ends_with(" not shown)"))
                .map(str::to_string)
        };
        let seen_before = |trouble: &str| {
            troubles
                .iter()
                .find(|(_, earlier)| first_line(earlier) == first_line(trouble))
                .map(|(first, _)| *first)
        };
        if let Some(first) = check.trouble.as_deref().and_then(seen_before) {
            let _ = writeln!(
                out,
                "\n--- {} passed, with the same crash or race in its output as check {first}: {}",
                stage.label(),
                check.title
            );
        } else if let Some(trouble) = &check.trouble {
            troubles.push((index + 1, trouble));
            // A race or a crash in a thread can leave the replies right,
            // this time.
            let mut text = format!(
                "\n--- {} passed, but your program's output names a crash or a race: {}\n",
                stage.label(),
                check.title
            );
            push_labeled(&mut text, "output", "the lines that name it:");
            for line in trouble.lines() {
                let _ = writeln!(text, "{:LABEL_WIDTH$}| {line}", "");
            }
            push_labeled(
                &mut text,
                "hint",
                "The check saw the right bytes this time; the next run, or a real client, may \
                 not. Find the cause before going on.",
            );
            let _ = write!(out, "{text}");
        }
        let Some(report) = check.outcome.report() else {
            continue;
        };
        let problem = report.failure.problem.as_str();
        match printed.iter().find(|(_, earlier)| *earlier == problem) {
            Some((first, _)) => {
                let _ = writeln!(
                    out,
                    "\n--- {} failed: {}: the same problem as check {first}, above",
                    stage.label(),
                    report.title
                );
            }
            None => {
                printed.push((index + 1, problem));
                let _ = writeln!(out, "\n{}", report.text);
            }
        }
    }
}

/// Starts a server, runs one check against it, and stops the server.
pub fn run_check(
    stage: &Stage,
    index: usize,
    check: &Check,
    settings: &RunSettings,
) -> CheckResult {
    let mut rng = Rng::for_check(settings.seed, stage.number, index);
    let store_kind = settings
        .store
        .or_else(|| (stage.number >= FIRST_STAGE_ON_REDIS).then(StoreKind::from_environment));
    let store = store_kind.map(|kind| Store::start(kind, &mut rng, settings.startup_timeout));
    let started = match store.transpose() {
        Ok(store) => {
            let arguments = store
                .as_ref()
                .map(|store| format!(" --redis {}", store.url()))
                .unwrap_or_default();
            Server::start_with(
                &settings.server,
                &arguments,
                &mut rng,
                settings.startup_timeout,
            )
            .map(|server| (server, store))
        }
        Err(failure) => Err(failure),
    };
    let (mut server, store) = match started {
        Ok(started) => started,
        Err(failure) => {
            let title = check.title.to_string();
            let text = report(stage, &title, &failure, None, settings);
            return CheckResult {
                check: check.title,
                title: title.clone(),
                outcome: Outcome::Failed(FailureReport {
                    title,
                    failure,
                    text,
                }),
                trouble: None,
            };
        }
    };
    let mut context = Context {
        server: &mut server,
        rng,
        title: None,
        clients: 0,
        store,
        settings,
    };
    let result = (check.run)(&mut context);
    let clients = context.clients;
    let title = context
        .title
        .take()
        .unwrap_or_else(|| check.title.to_string());
    let mut trouble = None;
    let outcome = match result {
        Ok(()) => {
            trouble = server.trouble_in_output();
            Outcome::Passed
        }
        Err(failure) => {
            // A crash shows up as a closed connection; give the output
            // threads a moment to catch the server's last words (a panic
            // message).
            std::thread::sleep(Duration::from_millis(50));
            let failure = with_crash_named(failure, &mut server, clients);
            let text = report(stage, &title, &failure, Some(&mut server), settings);
            Outcome::Failed(FailureReport {
                title: title.clone(),
                failure,
                text,
            })
        }
    };
    CheckResult {
        check: check.title,
        title,
        outcome,
        trouble,
    }
}

fn report(
    stage: &Stage,
    title: &str,
    failure: &Failure,
    server: Option<&mut Server>,
    settings: &RunSettings,
) -> String {
    let heading = format!("--- {} failed: {title}\n", stage.label());
    let mut text = heading.clone();
    text.push_str(&failure.render());
    let mut server_lines = String::new();
    if let Some(server) = server {
        let state = match server.exit_status() {
            Some(status) => format!("exited ({})", describe_status(status)),
            None => "still running".to_string(),
        };
        push_labeled(
            &mut server_lines,
            "server",
            &format!("`{}`, {state}", server.command_line),
        );
        push_output(&mut server_lines, &server.output_tail(20));
    }
    let uncut = failure.render_uncut();
    if uncut != failure.render() {
        // A block was cut: the whole report goes to a file, for an editor.
        let path = std::env::temp_dir().join(format!(
            "course-report-stage-{}-seed-{}-{}.txt",
            stage.number,
            settings.seed,
            title
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|word| !word.is_empty())
                .take(6)
                .collect::<Vec<_>>()
                .join("-")
        ));
        let whole = format!("{heading}{uncut}{server_lines}");
        let said = match std::fs::write(&path, whole) {
            Ok(()) => format!(
                "the report above is cut; all of it is in {}",
                path.display()
            ),
            Err(error) => format!(
                "(could not save the whole report in {}: {error})",
                path.display()
            ),
        };
        push_labeled(&mut text, "whole", &said);
    }
    text.push_str(&server_lines);
    push_labeled(
        &mut text,
        "rerun",
        &format!("{SEED_VARIABLE}={} {}", settings.seed, settings.rerun),
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_block_is_cut_and_the_whole_report_saved_in_a_file() {
        let value = "x".repeat(1_000_000);
        let failure = Failure::new("no reply")
            .detail("expected", value.clone())
            .hint("a short hint");
        let shown = failure.render();
        assert!(shown.len() < 3 * BLOCK_CAP, "{} bytes shown", shown.len());
        assert!(
            shown.contains("(cut here: 1000000 bytes in all)"),
            "{shown}"
        );
        assert!(shown.contains("hint:     a short hint"), "{shown}");
        assert!(failure.render_uncut().len() > value.len());

        static STAGE: Stage = Stage {
            number: 99,
            name: "cut-reports",
            summary: "a stage for this test",
            builds_on: &[],
            base: 0,
            checks: &[],
        };
        let settings = RunSettings::new(ServerSpec::Command("true".into()), 7, "rerun me");
        let text = report(
            &STAGE,
            "a check: with a 1 MB value",
            &failure,
            None,
            &settings,
        );
        assert!(text.contains("whole:    the report above is cut"), "{text}");
        let path = text
            .split_whitespace()
            .find(|word| word.contains("course-report-stage-99"))
            .unwrap_or_else(|| panic!("no file named:\n{text}"));
        assert!(path.ends_with("seed-7-a-check-with-a-1-MB.txt"), "{path}");
        let saved = std::fs::read_to_string(path).unwrap();
        assert!(saved.contains(&value), "the file holds the whole block");
        let _ = std::fs::remove_file(path);
    }
}
