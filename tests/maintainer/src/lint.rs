//! The course lint (`just check-course`): the course's pieces agree with
//! each other. Every stage has its folder and package, its header comment,
//! its shortcut tags pointing at later stages, its chapter in the fixed
//! shape, its hints, its checks, its row in the README and the `just`
//! recipes that take a stage number; every include of the book resolves.
//!
//! And every stage stays one lesson (habit 11): its code adds at most
//! [`MAX_ADDED_LINES`] over its base stage, its chapter has at most
//! [`MAX_CHAPTER_WORDS`] words, and it has at most [`MAX_CHECKS`] checks.
//!
//! It reads files only. That each reference stage passes its own and the
//! earlier stages' checks is `cargo test -p tests --test reference_stages`,
//! which `just check-course` runs after this.

use std::fs;
use std::path::Path;

use harness::check::Stage;
use harness::hints;
use harness::learner::course_dir;
use harness::stages;

use crate::book;

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

/// The most non-blank lines of code (tests and benches not counted) a
/// stage may add over its base stage: one lesson, read in one sitting.
pub const MAX_ADDED_LINES: usize = 600;
/// The most words in a stage's chapter (code included from the source
/// counts once, as the include line).
pub const MAX_CHAPTER_WORDS: usize = 4000;
/// The most checks a stage may have: they test its one idea.
pub const MAX_CHECKS: usize = 10;

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
            "stage {} ({}): {}; folder, package, header, shortcuts, chapter, hints, checks, \
             README row: {status}",
            stage.number,
            stage.name,
            size_of(root, stage)
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
    let adds = if stage.base == 0 {
        "**What this stage adds".to_string()
    } else {
        format!("**What this stage adds over stage {}:**", stage.base)
    };
    for part in [adds.as_str(), "**Try it:**", "**Shortcuts it still takes"] {
        if !header.contains(part) {
            problem(format!("{main_path}'s header comment has no `{part}`"));
        }
    }

    // Shortcut tags name the later stage that removes them.
    for (file, line_number, target) in shortcut_tags(&root.join(&folder).join("src")) {
        let path = file
            .strip_prefix(root)
            .map(|relative| relative.display().to_string())
            .unwrap_or_default();
        match target {
            Some(target) if target > n && usize::from(target) <= stages::all().len() => {}
            Some(target) => problem(format!(
                "{path}:{line_number}: SHORTCUT(stage {target}) in stage {n}: a shortcut names \
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
            let words = chapter.split_whitespace().count();
            if words > MAX_CHAPTER_WORDS {
                problem(format!(
                    "{chapter_path} has {words} words; a chapter explains one idea in at most \
                     {MAX_CHAPTER_WORDS} (habit 11: two ideas are two stages)"
                ));
            }
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
    if stage.checks.len() > MAX_CHECKS {
        problem(format!(
            "has {} checks; a stage's checks test its one idea, at most {MAX_CHECKS}",
            stage.checks.len()
        ));
    }
    if stage.base >= n {
        problem(format!(
            "its base is stage {}, which is not an earlier stage",
            stage.base
        ));
    }

    // One lesson: what the code adds over the stage it starts from.
    if stage.base > 0 {
        if let Some(base) = stages::find(stage.base) {
            let base_folder = root.join(format!("stages/{:02}-{}", base.number, base.name));
            let added = added_lines(&base_folder, &root.join(&folder));
            if added > MAX_ADDED_LINES {
                problem(format!(
                    "adds {added} lines of code over stage {} (tests not counted); a stage adds \
                     at most {MAX_ADDED_LINES} (habit 11: two ideas are two stages; unit tests \
                     go in a file of their own)",
                    stage.base
                ));
            }
        }
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

/// A stage's size as the budgets measure it: "+412 lines over stage 4,
/// 3,210 words, 9 checks".
fn size_of(root: &Path, stage: &Stage) -> String {
    let folder = |stage: &Stage| root.join(format!("stages/{:02}-{}", stage.number, stage.name));
    let lines = match stages::find(stage.base) {
        Some(base) => format!(
            "+{} lines over stage {}",
            added_lines(&folder(base), &folder(stage)),
            base.number
        ),
        None => format!(
            "{} lines",
            added_lines(&root.join("stages/no-base"), &folder(stage))
        ),
    };
    let chapter = format!("tutorial/src/{:02}-{}.md", stage.number, stage.name);
    let words = fs::read_to_string(root.join(chapter))
        .map(|text| text.split_whitespace().count())
        .unwrap_or(0);
    format!("{lines}, {words} words, {} checks", stage.checks.len())
}

/// The non-blank lines of code in `stage` that are not in `base`: for each
/// source file, its lines less the longest run they share in order with the
/// file of the same path in `base` (a new file counts whole). Tests and
/// benches do not count: files named `tests.rs` or `*_tests.rs`, folders
/// named `tests` or `benches`, and a file's `#[cfg(test)]` module to its end.
pub fn added_lines(base: &Path, stage: &Path) -> usize {
    let mut added = 0;
    for relative in source_files(stage, Path::new("")) {
        let new = code_lines(&stage.join(&relative));
        let old = code_lines(&base.join(&relative));
        added += new.len() - common_lines(&old, &new);
    }
    added
}

/// The `.rs` files under `folder` that are not tests, relative to it.
fn source_files(folder: &Path, relative: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(folder.join(relative)) else {
        return found;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = relative.join(&name);
        if entry.path().is_dir() {
            if name != "tests" && name != "benches" && name != "target" {
                found.extend(source_files(folder, &path));
            }
        } else if name.ends_with(".rs") && name != "tests.rs" && !name.ends_with("_tests.rs") {
            found.push(path);
        }
    }
    found
}

/// A file's non-blank lines, trimmed, up to its `#[cfg(test)]` module.
fn code_lines(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut code = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let next = lines.get(index + 1).copied().unwrap_or_default();
        if *line == "#[cfg(test)]" && next.starts_with("mod ") && next.ends_with('{') {
            break;
        }
        if !line.is_empty() {
            code.push(line.to_string());
        }
    }
    code
}

/// The length of the longest common subsequence of two lists of lines.
fn common_lines(old: &[String], new: &[String]) -> usize {
    let mut previous = vec![0usize; new.len() + 1];
    for old_line in old {
        let mut current = vec![0usize; new.len() + 1];
        for (j, new_line) in new.iter().enumerate() {
            current[j + 1] = if old_line == new_line {
                previous[j] + 1
            } else {
                previous[j + 1].max(current[j])
            };
        }
        previous = current;
    }
    previous[new.len()]
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
