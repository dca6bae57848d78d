//! `just progress`: the stages in order against the learner's program, one
//! line each, the first failing one with its one-line reason, and what to
//! read next.
//!
//! The course changes protocol twice (stage 11 speaks a binary protocol,
//! stages 12 to 14 are a chat server), so a program that has moved on
//! fails the earlier stages' checks on purpose. `.course/progress`
//! remembers which stages passed before: when a stage that passed before
//! fails now, the later stages that do not build on it are tried too, and
//! if one passes, the earlier ones are shown as left behind rather than
//! broken.

use std::collections::BTreeSet;
use std::io::Write;

use crate::chat_store::{FIRST_STAGE_ON_REDIS, StoreKind};
use crate::check::{Outcome, RunSettings, Stage, run_stage};
use crate::learner::{ProgramUnderTest, Progress, choose_program, learner_dir};
use crate::stages;

/// Runs the stages, each against the program given or registered for it
/// (a learner may register one for the Redis stages and another for the
/// chat's), built first, and prints the report; returns the stage to work
/// on next, if any, or why the programs could not be built.
pub fn report(given: Option<&str>, seed: u64, out: &mut dyn Write) -> Result<Option<u8>, String> {
    let all = stages::all();
    let programs = all
        .iter()
        .map(|stage| choose_program(given, stage))
        .collect::<Result<Vec<ProgramUnderTest>, String>>()?;
    // Each program once, in the order of its first stage.
    let mut distinct: Vec<(&ProgramUnderTest, Vec<u8>)> = Vec::new();
    for (stage, program) in all.iter().zip(&programs) {
        match distinct
            .iter_mut()
            .find(|(seen, _)| seen.spec == program.spec && seen.build == program.build)
        {
            Some((_, numbers)) => numbers.push(stage.number),
            None => distinct.push((program, vec![stage.number])),
        }
    }
    for (program, _) in &distinct {
        program.prepare()?;
    }
    Ok(report_on(&programs, &distinct, seed, out))
}

/// Whether `program` is also the one for a stage that keeps the chat in
/// Redis and builds on `stage`.
fn moves_on_to_redis(
    stage: &Stage,
    program: &ProgramUnderTest,
    all: &[&Stage],
    programs: &[ProgramUnderTest],
) -> bool {
    all.iter().zip(programs).any(|(later, theirs)| {
        later.number >= FIRST_STAGE_ON_REDIS
            && later.builds_on.contains(&stage.number)
            && theirs.spec == program.spec
            && theirs.build == program.build
    })
}

fn report_on(
    programs: &[ProgramUnderTest],
    distinct: &[(&ProgramUnderTest, Vec<u8>)],
    seed: u64,
    out: &mut dyn Write,
) -> Option<u8> {
    let dir = learner_dir();
    let record = Progress::load(&dir);
    let all = stages::all();
    let mut passed_now = BTreeSet::new();
    let mut failed_now: Vec<u8> = Vec::new();

    if let [(program, _)] = distinct {
        let _ = writeln!(out, "Progress of {} (seed {seed})\n", program.describe());
    } else {
        let _ = writeln!(out, "Progress of your programs (seed {seed}):");
        for (program, numbers) in distinct {
            let _ = writeln!(
                out,
                "  stages {}: {}",
                ranges_of(numbers),
                program.spec.describe()
            );
        }
        let _ = writeln!(out);
    }
    for (stage, program) in all.iter().zip(programs) {
        if !program.is_learners() {
            // No program of the learner's for this stage: the reference's
            // pass would not be theirs.
            print_line(out, stage, &Outcome::NotRun("no program of yours"), &record);
            continue;
        }
        // After a failure, go on only if every failed stage had passed
        // before (the program may have moved on to a later protocol), and
        // only to stages that do not need what failed.
        let moved_on_maybe = failed_now
            .iter()
            .all(|failed| record.passed_on(*failed).is_some());
        let needs_missing = stage
            .builds_on
            .iter()
            .any(|earlier| !passed_now.contains(earlier));
        if !failed_now.is_empty() && (!moved_on_maybe || needs_missing) {
            let outcome = Outcome::NotRun("an earlier stage failed");
            print_line(out, stage, &outcome, &record);
            continue;
        }
        let mut settings = RunSettings::new(
            program.spec.clone(),
            seed,
            format!("just test-stage {}", stage.number),
        );
        settings.stop_at_first_failure = true;
        let mut outcome = run_stage(stage, &settings, &mut std::io::sink()).outcome();
        // A chat on Redis needs a Redis for the checks of the chat stages
        // it builds on too (`--redis`): if this program is also the one for
        // such a stage, a failure may be only that. Try again with one.
        if !outcome.passed() && moves_on_to_redis(stage, program, all, programs) {
            settings.store = Some(StoreKind::from_environment());
            let with_store = run_stage(stage, &settings, &mut std::io::sink()).outcome();
            if with_store.passed() {
                outcome = with_store;
            }
        }
        if outcome.passed() {
            passed_now.insert(stage.number);
            crate::learner::record_pass(program, stage);
        } else {
            failed_now.push(stage.number);
        }
        // A stage that passed before and fails now is left behind if a
        // later stage passes: that is known only at the end, and said there.
        print_line(out, stage, &outcome, &record);
    }

    let last_passed = passed_now.iter().max().copied();
    let left_behind: Vec<u8> = failed_now
        .iter()
        .copied()
        .filter(|failed| {
            record.passed_on(*failed).is_some() && last_passed.is_some_and(|last| last > *failed)
        })
        .collect();
    if let (Some(first), Some(last)) = (left_behind.first(), last_passed) {
        let _ = writeln!(
            out,
            "\n(Stage {first} passed before and fails now, as it should: your program speaks \
             stage {last}'s protocol now, so stage {first} and the stages built on it are behind \
             you.)"
        );
    }
    let next = failed_now
        .iter()
        .copied()
        .find(|failed| !left_behind.contains(failed));
    let _ = writeln!(out);
    match next.and_then(stages::find) {
        None => {
            let _ = writeln!(
                out,
                "All {} stages pass: you have built a Redis, a binary protocol and a chat \
                 server. The instructor guide and the benchmarks (`just bench 5`) are next, if \
                 you are curious.",
                all.len()
            );
            None
        }
        Some(stage) => {
            print_next(out, stage, record.passed_on(stage.number), &failed_now);
            Some(stage.number)
        }
    }
}

/// `1-11, 15` for the stage numbers 1 to 11 and 15.
fn ranges_of(numbers: &[u8]) -> String {
    let mut runs: Vec<(u8, u8)> = Vec::new();
    for &n in numbers {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == n => *last = n,
            _ => runs.push((n, n)),
        }
    }
    runs.iter()
        .map(|(first, last)| {
            if first == last {
                first.to_string()
            } else {
                format!("{first}-{last}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_line(out: &mut dyn Write, stage: &Stage, outcome: &Outcome, record: &Progress) {
    let mark = match outcome {
        Outcome::Passed => "✓",
        Outcome::Failed(_) => "✗",
        Outcome::NotRun(_) => "·",
    };
    let title = format!("stage {}  {}", stage.number, stage.summary);
    let _ = match outcome {
        Outcome::Passed => writeln!(out, "  {mark} {title}"),
        Outcome::NotRun(_) => match record.passed_on(stage.number) {
            Some(when) => writeln!(out, "  {mark} {title}  (passed {when}; not run now)"),
            None => writeln!(out, "  {mark} {title}  (not run yet)"),
        },
        Outcome::Failed(report) => {
            let before = match record.passed_on(stage.number) {
                Some(when) => format!(" (it passed {when})"),
                None => String::new(),
            };
            writeln!(
                out,
                "  {mark} {title}{before}\n      failed: {}\n      because: {}",
                report.title, report.failure.problem
            )
        }
    };
    let _ = out.flush();
}

fn print_next(out: &mut dyn Write, stage: &Stage, passed_before: Option<&str>, failed: &[u8]) {
    let n = stage.number;
    if let Some(when) = passed_before {
        let _ = writeln!(
            out,
            "Stage {n} passed {when} and fails now: a change broke it, or you are changing \
             protocol for a later stage{}.",
            match failed.iter().find(|&&other| other > n) {
                Some(later) => format!(" (stage {later} fails too)"),
                None => String::new(),
            }
        );
    }
    let _ = writeln!(
        out,
        "Next: stage {n}, {}.\n  \
         read       tutorial/src/{n:02}-{}.md (`just tutorial` serves the book)\n  \
         details    just test-stage {n}   (the failure in full: what was sent, expected, received)\n  \
         a hint     just hint {n}         (then `just hint {n} 2`, each closer to the answer)\n  \
         stuck?     just diff {n}         (how the reference does it), or `just checkpoint {n}` to \
         go on from {}",
        stage.summary,
        stage.name,
        if stage.base > 0 {
            format!("the reference stage {}", stage.base)
        } else {
            "an empty project".to_string()
        }
    );
}
