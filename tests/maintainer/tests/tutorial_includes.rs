//! The book's code is included from the stages, never pasted (habit 9): a
//! renamed file or a moved anchor fails here (mdbook only logs it). The
//! checker is `maintainer::book`; the course lint (`just check-course`) runs it
//! too.

use maintainer::book;

#[test]
fn every_include_in_the_tutorial_includes_something() {
    let (problems, includes) = book::include_problems(&book::tutorial_src());
    assert!(
        problems.is_empty(),
        "{} of the tutorial's {includes} includes are broken:\n\n{}\n",
        problems.len(),
        problems.join("\n\n")
    );
    assert!(
        includes > 0,
        "the tutorial includes no code at all: chapters should include the stages' code"
    );
}

#[test]
fn every_chapter_in_the_summary_exists() {
    let missing = book::missing_chapters(&book::tutorial_src());
    assert!(
        missing.is_empty(),
        "SUMMARY.md names chapters that are not there (mdbook would create them empty):\n{}",
        missing.join("\n")
    );
}
