//! `check-course`: the course lint, one line per stage and one for the
//! book, then every problem found. `just check-course` runs it, then the
//! reference stages against their checks.
//!
//! ```text
//! cargo run -q -p maintainer --bin check-course
//! ```

use std::process::ExitCode;

use clap::Parser;

use maintainer::lint;

/// The course lint: every stage has its folder, package, header, shortcut
/// tags, chapter, hints, checks and README row, and stays within a lesson's
/// budgets; every include of the book resolves.
#[derive(Parser)]
#[command(name = "check-course")]
struct Arguments {}

fn main() -> ExitCode {
    Arguments::parse();
    let report = lint::run();
    for line in &report.checked {
        println!("  {line}");
    }
    if report.problems.is_empty() {
        println!("The course lint found nothing wrong.");
        return ExitCode::SUCCESS;
    }
    println!(
        "\nThe course lint found {} problems:",
        report.problems.len()
    );
    for problem in &report.problems {
        println!("- {problem}");
    }
    ExitCode::FAILURE
}
