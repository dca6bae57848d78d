//! The course lint (`just check-course`) passes on the course, and finds
//! what is missing in a copy of it with pieces taken out.

use harness::learner::course_dir;
use harness::project;
use maintainer::lint;

#[test]
fn the_course_has_every_piece_of_every_stage() {
    let report = lint::run();
    assert!(
        report.problems.is_empty(),
        "the course lint found problems:\n- {}",
        report.problems.join("\n- ")
    );
    // A line per stage, and one for the book.
    assert_eq!(
        report.checked.len(),
        harness::stages::all().len() + 1,
        "{:?}",
        report.checked
    );
}

#[test]
fn the_lint_finds_a_missing_hint_heading_tag_and_row() {
    let copy = std::env::temp_dir().join(format!("course-lint-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    let root = course_dir();
    for part in ["stages", "tutorial/src", "tutorial/examples"] {
        project::copy_folder(&root.join(part), &copy.join(part)).unwrap();
    }
    for file in ["README.md", "justfile"] {
        std::fs::copy(root.join(file), copy.join(file)).unwrap();
    }
    assert!(
        lint::run_in(&copy).problems.is_empty(),
        "the copy should lint clean before it is broken"
    );

    // Stage 3 loses a hint, stage 5's chapter a heading, stage 4 gets a
    // shortcut tag that points backwards, stage 2's README row goes, and
    // the justfile loses `hint N`.
    let edit = |relative: &str, from: &str, to: &str| {
        let path = copy.join(relative);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{relative} has no {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    edit(
        "tutorial/src/hints/03-many-pings.md",
        "<details>",
        "<!-- -->",
    );
    edit(
        "tutorial/src/hints/03-many-pings.md",
        "<details>",
        "<!-- -->",
    );
    edit(
        "tutorial/src/05-resp-echo.md",
        "\n## Walkthrough\n",
        "\n## Code\n",
    );
    edit(
        "stages/04-concurrent-clients/src/main.rs",
        "\nmod config;",
        "\n// SHORTCUT(stage 2): backwards\nmod config;",
    );
    edit(
        "README.md",
        "| 2 | `02-answer-ping`",
        "| two | `02-answer-ping`",
    );
    edit("justfile", "\nhint N", "\nhints N");

    let problems = lint::run_in(&copy).problems.join("\n");
    for expected in [
        "stage 3: tutorial/src/hints/03-many-pings.md has 1 hints; a stage has two or three",
        "stage 5: tutorial/src/05-resp-echo.md has no `## Walkthrough`",
        "SHORTCUT(stage 2) in stage 4",
        "stage 2: README.md's stage table has no row",
        "justfile: no `hint N` recipe",
    ] {
        assert!(
            problems.contains(expected),
            "the lint did not report {expected:?}; it reported:\n{problems}"
        );
    }
    std::fs::remove_dir_all(&copy).unwrap();
}
