//! The course lint (`just check-course`): the course's pieces agree with
//! each other. Every stage has its folder and package, its header comment,
//! its shortcut tags pointing at later stages, its chapter in the fixed
//! shape, its hints, its checks, its row in the README and the `just`
//! recipes that take a stage number; every include of the book resolves.
//!
//! It reads files only. That each reference stage passes its own and the
//! earlier stages' checks is `cargo test -p tests --test reference_stages`,
//! which `just check-course` runs after this.

use std::fs;
use std::path::Path;

use crate::book;
use crate::check::Stage;
use crate::hints;
use crate::learner::course_dir;
use crate::stages;

/// The headings every chapter has, in this order ("What changed" from
/// stage 2 on).
const CHAPTER_HEADINGS: &[&str] = &[
    "## Goal",
    "## The concept",
    "## Try it",
    "## What the tests send and expect",
    "## Walkthrough",
    "## What changed from the previous stage",
    "## Shortcuts",
    "## Hints",
];

/// The recipes that take a stage number, so that each stage has them.
const STAGE_RECIPES: &[&str] = &[
    "run N",
    "test-stage N",
    "test-upto N",
    "diff N",
    "hint N",
    "checkpoint N",
];

/// What the lint found wrong (empty when all is well) and what it looked at.
pub struct Report {
    pub problems: Vec<String>,
    pub checked: Vec<String>,
}

/// Lints the course this tester was built from.
pub fn run() -> Report {
    run_in(&course_dir())
}

/// Lints the course at `root` against the stages this tester knows.
pub fn run_in(root: &Path) -> Report {
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    let all = stages::all();

    let folders = stage_folders(root, &mut problems);
    for folder in &folders {
        if !all
            .iter()
            .any(|stage| *folder == format!("{:02}-{}", stage.number, stage.name))
        {
            problems.push(format!(
                "stages/{folder}/ is not a stage the tester knows (tests/src/stages/mod.rs)"
            ));
        }
    }
    let summary = read(root, "tutorial/src/SUMMARY.md", &mut problems);
    let readme = read(root, "README.md", &mut problems);
    let justfile = read(root, "justfile", &mut problems);
    for recipe in STAGE_RECIPES {
        if !justfile.lines().any(|line| line.starts_with(recipe)) {
            problems.push(format!(
                "justfile: no `{recipe}` recipe (every stage is run, tested, diffed, hinted and \
                 checkpointed by number)"
            ));
        }
    }

    for (index, stage) in all.iter().enumerate() {
        let before = problems.len();
        if usize::from(stage.number) != index + 1 {
            problems.push(format!(
                "stage {} is listed {} in tests/src/stages/mod.rs: stages are numbered 1, 2, 3...",
                stage.number,
                index + 1
            ));
        }
        lint_stage(root, stage, &summary, &readme, &mut problems);
        let status = if problems.len() == before {
            "ok"
        } else {
            "PROBLEMS"
        };
        checked.push(format!(
            "stage {} ({}): folder, package, header, shortcuts, chapter, hints, checks, README row: {status}",
            stage.number, stage.name
        ));
    }

    let src = root.join("tutorial").join("src");
    let (include_problems, includes) = book::include_problems(&src);
    let missing = book::missing_chapters(&src);
    checked.push(format!(
        "the book: {includes} includes, {} broken; chapters in SUMMARY.md: {} missing",
        include_problems.len(),
        missing.len()
    ));
    problems.extend(include_problems);
    problems.extend(missing);
    Report { problems, checked }
}

fn lint_stage(root: &Path, stage: &Stage, summary: &str, readme: &str, problems: &mut Vec<String>) {
    let n = stage.number;
    let folder = format!("stages/{n:02}-{}", stage.name);
    let mut problem = |text: String| problems.push(format!("stage {n}: {text}"));

    if !root.join(&folder).is_dir() {
        problem(format!("no folder {folder}/"));
        return;
    }
    let manifest = fs::read_to_string(root.join(&folder).join("Cargo.toml")).unwrap_or_default();
    if !manifest.contains(&format!("name = \"{}\"", stage.package())) {
        problem(format!(
            "{folder}/Cargo.toml does not name the package `{}`",
            stage.package()
        ));
    }

    // The header comment: what it adds, how to try it, its shortcuts.
    let main_path = format!("{folder}/src/main.rs");
    let main = fs::read_to_string(root.join(&main_path)).unwrap_or_default();
    let header: String = main
        .lines()
        .take_while(|line| line.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    if !header.starts_with(&format!("//! # Stage {n}:")) {
        problem(format!(
            "{main_path} does not open with `//! # Stage {n}: ...` (habit 3: every stage's main \
             says what it adds, how to try it and its shortcuts)"
        ));
    }
    let adds = if n == 1 {
        "**What this stage adds".to_string()
    } else {
        format!("**What this stage adds over stage {}:**", n - 1)
    };
    for part in [adds.as_str(), "**Try it:**", "**Shortcuts it still takes"] {
        if !header.contains(part) {
            problem(format!("{main_path}'s header comment has no `{part}`"));
        }
    }

    // Shortcut tags name the later stage that removes them.
    for (file, line_number, target) in shortcut_tags(&root.join(&folder).join("src")) {
        let shown = file
            .strip_prefix(root)
            .map(|path| path.display().to_string())
            .unwrap_or_default();
        match target {
            Some(target) if target > n && usize::from(target) <= stages::all().len() => {}
            Some(target) => problem(format!(
                "{shown}:{line_number}: SHORTCUT(stage {target}) in stage {n}: a shortcut names \
                 the later stage that removes it"
            )),
            None => {}
        }
    }

    // The chapter, in the fixed shape, linked from SUMMARY.md.
    let chapter_name = format!("{n:02}-{}.md", stage.name);
    let chapter_path = format!("tutorial/src/{chapter_name}");
    match fs::read_to_string(root.join(&chapter_path)) {
        Err(_) => problem(format!("no chapter {chapter_path}")),
        Ok(chapter) => {
            let mut from = 0;
            for heading in CHAPTER_HEADINGS {
                if n == 1 && heading.starts_with("## What changed") {
                    continue;
                }
                match chapter[from..].find(&format!("\n{heading}\n")) {
                    Some(at) => from += at + 1,
                    None => problem(format!(
                        "{chapter_path} has no `{heading}` after the headings before it (every \
                         chapter has: {})",
                        CHAPTER_HEADINGS.join(", ")
                    )),
                }
            }
            let hints_section = chapter
                .rsplit_once("\n## Hints\n")
                .map(|(_, section)| section)
                .unwrap_or_default();
            if !hints_section.contains(&format!("just hint {n}"))
                || !hints_section.contains(&format!("hints/{chapter_name}"))
            {
                problem(format!(
                    "{chapter_path}'s Hints section does not point at `just hint {n}` and \
                     hints/{chapter_name}"
                ));
            }
            if !summary.contains(&format!("({chapter_name})")) {
                problem(format!(
                    "tutorial/src/SUMMARY.md does not list {chapter_name}"
                ));
            }
        }
    }

    // Two or three hints, from a question to a near-solution.
    match hints::load_from(root, stage) {
        Err(error) => problem(error),
        Ok(found) if !(2..=3).contains(&found.len()) => problem(format!(
            "{} has {} hints; a stage has two or three",
            hints::relative_path(stage),
            found.len()
        )),
        Ok(_) => {}
    }
    if !summary.contains(&format!("(hints/{chapter_name})")) {
        problem(format!(
            "tutorial/src/SUMMARY.md does not list hints/{chapter_name}"
        ));
    }

    // Its checks, and the stages they build on.
    if stage.checks.is_empty() {
        problem("has no checks in tests/src/stages/".to_string());
    }
    if let Some(later) = stage.builds_on.iter().find(|&&earlier| earlier >= n) {
        problem(format!(
            "builds on stage {later}, which is not an earlier stage"
        ));
    }

    // Its row in the README's table.
    let row = readme
        .lines()
        .find(|line| line.starts_with(&format!("| {n} |")))
        .unwrap_or_default();
    if !row.contains(&format!("`{n:02}-{}`", stage.name))
        || !row.contains(&format!("just test-stage {n}"))
        || !row.contains(&chapter_path)
    {
        problem(format!(
            "README.md's stage table has no row `| {n} | `{n:02}-{}` | ... | {chapter_path} | \
             just test-stage {n} |`",
            stage.name
        ));
    }
}

/// The folder names under `stages/`.
fn stage_folders(root: &Path, problems: &mut Vec<String>) -> Vec<String> {
    let mut folders: Vec<String> = match fs::read_dir(root.join("stages")) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|entry| entry.path().is_dir())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(error) => {
            problems.push(format!("cannot list stages/: {error}"));
            Vec::new()
        }
    };
    folders.sort();
    folders
}

/// Every `SHORTCUT(stage M)` under `folder`: file, line, and M when it is a
/// number (the header's "`SHORTCUT(stage N)`" explains the tag).
fn shortcut_tags(folder: &Path) -> Vec<(std::path::PathBuf, usize, Option<u8>)> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(folder) else {
        return found;
    };
    let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            found.extend(shortcut_tags(&path));
            continue;
        }
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        for (index, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(at) = rest.find("SHORTCUT(stage ") {
                let after = &rest[at + "SHORTCUT(stage ".len()..];
                let number: String = after.chars().take_while(char::is_ascii_digit).collect();
                if !number.is_empty() {
                    found.push((path.clone(), index + 1, number.parse().ok()));
                }
                rest = after;
            }
        }
    }
    found
}

fn read(root: &Path, relative: &str, problems: &mut Vec<String>) -> String {
    fs::read_to_string(root.join(relative)).unwrap_or_else(|error| {
        problems.push(format!("cannot read {relative}: {error}"));
        String::new()
    })
}
