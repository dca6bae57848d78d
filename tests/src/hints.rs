//! Each stage's hints, from a question to a near-solution. They live in the
//! book (`tutorial/src/hints/NN-name.md`, each hint folded in a
//! `<details>` block) and `just hint N K` prints one in the terminal, so
//! there is one copy of each.

use std::path::{Path, PathBuf};

use crate::check::Stage;
use crate::learner::course_dir;

/// One hint: its label ("Hint 1 of 3: a question") and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    pub label: String,
    pub text: String,
}

/// `tutorial/src/hints/NN-name.md`, relative to the course's folder.
pub fn relative_path(stage: &Stage) -> String {
    format!("tutorial/src/hints/{:02}-{}.md", stage.number, stage.name)
}

pub fn path(stage: &Stage) -> PathBuf {
    course_dir().join(relative_path(stage))
}

/// The stage's hints, in order.
pub fn load(stage: &Stage) -> Result<Vec<Hint>, String> {
    load_from(&course_dir(), stage)
}

/// The stage's hints in the course at `root`.
pub fn load_from(root: &Path, stage: &Stage) -> Result<Vec<Hint>, String> {
    let text = std::fs::read_to_string(root.join(relative_path(stage)))
        .map_err(|error| format!("cannot read {}: {error}", relative_path(stage)))?;
    parse(&text).map_err(|problem| format!("{}: {problem}", relative_path(stage)))
}

/// The `<details><summary>LABEL</summary> TEXT </details>` blocks of a
/// hints page.
pub fn parse(text: &str) -> Result<Vec<Hint>, String> {
    let mut hints = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<details>") {
        let block = &rest[start + "<details>".len()..];
        let end = block
            .find("</details>")
            .ok_or("a <details> block has no </details>")?;
        let inside = &block[..end];
        let (label, body) = match (inside.find("<summary>"), inside.find("</summary>")) {
            (Some(open), Some(close)) if open < close => (
                inside[open + "<summary>".len()..close].trim(),
                &inside[close + "</summary>".len()..],
            ),
            _ => return Err(format!("hint {} has no <summary>", hints.len() + 1)),
        };
        if body.contains("{{#") {
            return Err(format!(
                "hint {} includes a file: `just hint` prints hints as they are written, so \
                 write the text out",
                hints.len() + 1
            ));
        }
        let body = body.trim_matches('\n');
        if body.trim().is_empty() {
            return Err(format!("hint {} is empty", hints.len() + 1));
        }
        hints.push(Hint {
            label: label.to_string(),
            text: body.to_string(),
        });
        rest = &block[end + "</details>".len()..];
    }
    Ok(hints)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_folded_hint() {
        let page = "# Hints\n\nIntro.\n\n<details>\n<summary>Hint 1 of 2: a question</summary>\n\n\
                    Why?\n\n</details>\n\n<details>\n<summary>Hint 2 of 2</summary>\n\n\
                    ```text\ncode\n```\n\n</details>\n";
        let hints = parse(page).unwrap();
        assert_eq!(hints.len(), 2);
        assert_eq!(hints[0].label, "Hint 1 of 2: a question");
        assert_eq!(hints[0].text, "Why?");
        assert_eq!(hints[1].text, "```text\ncode\n```");
        assert!(parse("<details>\n<summary>x</summary>\n").is_err());
        assert!(parse("<details>\n<summary>x</summary>\n\n</details>").is_err());
    }
}
