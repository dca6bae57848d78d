//! The book's code is included from the stages, never pasted (habit 9),
//! so a renamed file or a moved anchor must fail the course lint. mdbook
//! itself does not fail: a missing file is only logged, and a missing anchor
//! silently includes nothing, leaving an empty code block in the book.
//!
//! [`include_problems`] reads every `tutorial/src/**/*.md`, finds each
//! `{{#include PATH}}`, `{{#include PATH:ANCHOR}}`, `{{#include PATH:N:M}}`
//! (and the same forms of `{{#rustdoc_include ...}}`), resolves PATH from the
//! chapter's folder as mdbook does, and reports every include that is broken
//! or would include nothing. [`missing_chapters`] reports chapters that
//! `SUMMARY.md` names and that are not there.

use std::fs;
use std::path::{Component, Path, PathBuf};

use harness::learner::course_dir;

/// `tutorial/src`.
pub fn tutorial_src() -> PathBuf {
    course_dir().join("tutorial").join("src")
}

/// Every broken include of the book's chapters, as `file:line: directive`
/// and the problem, and how many includes there are in all.
pub fn include_problems(src: &Path) -> (Vec<String>, usize) {
    let mut chapters = Vec::new();
    let mut problems = Vec::new();
    if let Err(problem) = markdown_files(src, &mut chapters) {
        problems.push(problem);
    }
    chapters.sort();
    let mut includes_checked = 0;
    for chapter in &chapters {
        let text = match fs::read_to_string(chapter) {
            Ok(text) => text,
            Err(error) => {
                problems.push(format!("cannot read {}: {error}", course_relative(chapter)));
                continue;
            }
        };
        for include in find_includes(&text) {
            includes_checked += 1;
            if let Err(problem) = check_include(chapter, &include) {
                problems.push(format!(
                    "{}:{}: {}\n    {problem}",
                    course_relative(chapter),
                    include.line,
                    include.directive
                ));
            }
        }
    }
    (problems, includes_checked)
}

/// The chapters `SUMMARY.md` names that do not exist (mdbook would create
/// them empty).
pub fn missing_chapters(src: &Path) -> Vec<String> {
    let summary_path = src.join("SUMMARY.md");
    let Ok(summary) = fs::read_to_string(&summary_path) else {
        return vec![format!("{} cannot be read", course_relative(&summary_path))];
    };
    let mut missing = Vec::new();
    for (line_number, target) in summary_links(&summary) {
        // mdbook resolves chapters from `src`, and ignores a `#fragment`.
        let file = target.split('#').next().unwrap_or_default();
        if !src.join(file).is_file() {
            missing.push(format!(
                "{}:{line_number}: chapter `{file}` does not exist",
                course_relative(&summary_path)
            ));
        }
    }
    missing
}

/// One `{{#include ...}}` (or `{{#rustdoc_include ...}}`) found in a chapter.
#[derive(Debug, PartialEq)]
struct Include {
    /// 1-based line of the chapter where it starts.
    line: usize,
    /// The whole directive as written, for messages.
    directive: String,
    /// The path, as written (relative to the chapter's folder).
    path: String,
    /// Which part of the file.
    part: Part,
}

/// Which part of the file an include takes, with mdbook's meaning.
#[derive(Debug, PartialEq)]
enum Part {
    /// `PATH:name`: the lines between `ANCHOR: name` and `ANCHOR_END: name`.
    Anchor(String),
    /// `PATH`, `PATH:N`, `PATH:N:M`, `PATH:N:`, `PATH::M`: lines as a
    /// 0-based, end-exclusive range, `None` meaning "from the start" or
    /// "to the end".
    Lines {
        start: Option<usize>,
        end: Option<usize>,
    },
}

/// Every include directive in a chapter's text. A directive escaped with a
/// backslash (`\{{#include ...}}`) is shown literally by mdbook, so it is
/// skipped here too.
fn find_includes(text: &str) -> Vec<Include> {
    let mut includes = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("{{") {
        let open = from + found;
        from = open + 2;
        let Some(length) = text[open..].find("}}") else {
            break;
        };
        let close = open + length;
        if open > 0 && text.as_bytes()[open - 1] == b'\\' {
            continue;
        }
        let inner = text[open + 2..close].trim_start();
        let Some(directive) = inner.strip_prefix('#') else {
            continue;
        };
        let (keyword, arguments) = directive
            .split_once(char::is_whitespace)
            .unwrap_or((directive, ""));
        if keyword != "include" && keyword != "rustdoc_include" {
            continue;
        }
        let (path, part) = parse_arguments(arguments.trim());
        includes.push(Include {
            line: text[..open].matches('\n').count() + 1,
            directive: text[open..close + 2].to_string(),
            path,
            part,
        });
        from = close + 2;
    }
    includes
}

/// Splits `PATH[:REST]` and reads REST as mdbook does: a number (or
/// nothing) before the first colon makes a line range, anything else is an
/// anchor name. `PATH:N` alone is the single line N.
fn parse_arguments(arguments: &str) -> (String, Part) {
    let (path, rest) = match arguments.split_once(':') {
        Some((path, rest)) => (path.trim(), Some(rest.trim())),
        None => (arguments.trim(), None),
    };
    let whole_file = Part::Lines {
        start: None,
        end: None,
    };
    let Some(rest) = rest else {
        return (path.to_string(), whole_file);
    };
    let mut fields = rest.splitn(2, ':');
    let first = fields.next().unwrap_or_default();
    let second = fields.next();
    let start = if first.is_empty() {
        None
    } else if let Ok(number) = first.parse::<usize>() {
        // Lines are numbered from 1 in the directive.
        Some(number.saturating_sub(1))
    } else {
        return (path.to_string(), Part::Anchor(first.to_string()));
    };
    let end = second.map(|text| text.parse::<usize>());
    let part = match (start, end) {
        (Some(start), None) => Part::Lines {
            start: Some(start),
            end: Some(start + 1),
        },
        (start, Some(Ok(end))) => Part::Lines {
            start,
            end: Some(end),
        },
        (start, Some(Err(_))) => Part::Lines { start, end: None },
        (None, None) => whole_file,
    };
    (path.to_string(), part)
}

/// Resolves the include from the chapter's folder and checks that it takes
/// at least one line.
fn check_include(chapter: &Path, include: &Include) -> Result<(), String> {
    let folder = chapter.parent().expect("a chapter is inside a folder");
    let file = folder.join(&include.path);
    if include.path.is_empty() {
        return Err("no path given".to_string());
    }
    let Ok(source) = fs::read_to_string(&file) else {
        return Err(format!(
            "the file {} does not exist (or cannot be read); the path is relative to {}",
            course_relative(&file),
            course_relative(folder)
        ));
    };
    let lines: Vec<&str> = source.lines().collect();
    match &include.part {
        Part::Anchor(name) => anchored_lines(&lines, name)
            .map_err(|problem| format!("{}: {problem}", course_relative(&file))),
        Part::Lines { start, end } => {
            let start = start.unwrap_or(0);
            let end = end.unwrap_or(lines.len()).min(lines.len());
            if start >= end {
                Err(format!(
                    "the line range is empty: {} has {} lines",
                    course_relative(&file),
                    lines.len()
                ))
            } else {
                Ok(())
            }
        }
    }
}

/// Checks that `ANCHOR: name` and `ANCHOR_END: name` are both there, in
/// that order, with at least one line of code between them. (mdbook drops
/// lines that mark other anchors from what it includes, so they do not
/// count.)
fn anchored_lines(lines: &[&str], name: &str) -> Result<(), String> {
    let Some(start) = lines
        .iter()
        .position(|line| anchor_name(line, "ANCHOR:") == Some(name))
    else {
        return Err(format!(
            "no `ANCHOR: {name}` line, so mdbook would include nothing"
        ));
    };
    let Some(length) = lines[start + 1..]
        .iter()
        .position(|line| anchor_name(line, "ANCHOR_END:") == Some(name))
    else {
        return Err(format!(
            "`ANCHOR: {name}` (line {}) has no matching `ANCHOR_END: {name}` after it",
            start + 1
        ));
    };
    let body = &lines[start + 1..start + 1 + length];
    let has_code = body.iter().any(|line| {
        !line.trim().is_empty()
            && anchor_name(line, "ANCHOR:").is_none()
            && anchor_name(line, "ANCHOR_END:").is_none()
    });
    if has_code {
        Ok(())
    } else {
        Err(format!(
            "anchor `{name}` (lines {}-{}) holds no code",
            start + 1,
            start + length + 2
        ))
    }
}

/// The anchor name after `marker` on this line, if the line has one: the
/// word characters after the marker and any spaces, as mdbook reads them.
fn anchor_name<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let after = line[line.find(marker)? + marker.len()..].trim_start();
    let length = after
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(after.len());
    (length > 0).then(|| &after[..length])
}

/// The link targets of SUMMARY.md's chapters, with their line numbers.
/// A draft chapter, `[Title]()`, has no file and is skipped.
pub fn summary_links(summary: &str) -> Vec<(usize, String)> {
    let mut links = Vec::new();
    for (index, line) in summary.lines().enumerate() {
        let mut rest = line;
        while let Some(open) = rest.find("](") {
            let after = &rest[open + 2..];
            let Some(close) = after.find(')') else {
                break;
            };
            let target = after[..close].trim();
            if !target.is_empty() && !target.contains("://") {
                links.push((index + 1, target.to_string()));
            }
            rest = &after[close + 1..];
        }
    }
    links
}

fn markdown_files(folder: &Path, found: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = fs::read_dir(folder)
        .map_err(|error| format!("cannot list {}: {error}", folder.display()))?;
    for entry in entries {
        let path = entry
            .map_err(|error| format!("cannot list {}: {error}", folder.display()))?
            .path();
        if path.is_dir() {
            markdown_files(&path, found)?;
        } else if path.extension().is_some_and(|extension| extension == "md") {
            found.push(path);
        }
    }
    Ok(())
}

/// A path as the learner would type it: relative to the repository root,
/// with `..` resolved (by reading the path, not the disk, so that it works
/// for files that do not exist too).
fn course_relative(path: &Path) -> String {
    let root = normalized(&course_dir());
    let path = normalized(path);
    path.strip_prefix(&root)
        .map(|relative| relative.display().to_string())
        .unwrap_or_else(|_| path.display().to_string())
}

fn normalized(path: &Path) -> PathBuf {
    let mut result = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !result.pop() {
                    result.push("..");
                }
            }
            other => result.push(other),
        }
    }
    result
}

// The checker is checked: mdbook's include syntax, read the way mdbook
// reads it.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_of_include_as_mdbook_does() {
        let lines = |start, end| Part::Lines { start, end };
        let cases = [
            ("a.rs", lines(None, None)),
            ("a.rs:serve", Part::Anchor("serve".to_string())),
            (
                "a.rs:handle_client",
                Part::Anchor("handle_client".to_string()),
            ),
            ("a.rs:3", lines(Some(2), Some(3))),
            ("a.rs:3:7", lines(Some(2), Some(7))),
            ("a.rs:3:", lines(Some(2), None)),
            ("a.rs::7", lines(None, Some(7))),
        ];
        for (arguments, expected) in cases {
            let (path, part) = parse_arguments(arguments);
            assert_eq!(path, "a.rs", "{arguments}");
            assert_eq!(part, expected, "{arguments}");
        }
    }

    #[test]
    fn finds_includes_and_skips_escaped_ones_and_other_directives() {
        let text = "# Title\n\n```rust\n{{#include ../x.rs:serve}}\n```\n\
                \\{{#include not/this.rs}}\n{{#title Other}}\n\
                {{ #rustdoc_include y.rs:2:4 }}\n";
        let found = find_includes(text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].line, 4);
        assert_eq!(found[0].path, "../x.rs");
        assert_eq!(found[0].part, Part::Anchor("serve".to_string()));
        assert_eq!(found[1].line, 8);
        assert_eq!(found[1].path, "y.rs");
    }

    #[test]
    fn an_anchor_needs_its_start_its_end_and_some_code() {
        let good = ["// ANCHOR: serve", "fn serve() {}", "// ANCHOR_END: serve"];
        assert_eq!(anchored_lines(&good, "serve"), Ok(()));
        // `serve` is not `serve_all`, nor the other way round.
        let other = [
            "// ANCHOR: serve_all",
            "fn f() {}",
            "// ANCHOR_END: serve_all",
        ];
        assert!(anchored_lines(&other, "serve").is_err());
        let no_end = ["// ANCHOR: serve", "fn serve() {}"];
        assert!(
            anchored_lines(&no_end, "serve")
                .unwrap_err()
                .contains("ANCHOR_END")
        );
        let empty = ["// ANCHOR: serve", "", "// ANCHOR_END: serve"];
        assert!(
            anchored_lines(&empty, "serve")
                .unwrap_err()
                .contains("no code")
        );
        let end_first = ["// ANCHOR_END: serve", "fn f() {}", "// ANCHOR: serve"];
        assert!(anchored_lines(&end_first, "serve").is_err());
    }

    #[test]
    fn reads_chapter_links_and_skips_drafts() {
        let summary = "# Summary\n\n[Introduction](introduction.md)\n\n\
                   - [Stage 1](01-bind-port.md)\n- [Stage 5: coming]()\n";
        assert_eq!(
            summary_links(summary),
            vec![
                (3, "introduction.md".to_string()),
                (5, "01-bind-port.md".to_string())
            ]
        );
    }
}
