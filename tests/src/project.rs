//! The learner's own Rust project, `my-server/`: created empty by
//! `just start`, or from a reference stage by `just checkpoint N`.
//!
//! The project is a workspace of its own (the course's workspace does not
//! build or lint it), lists its dependencies at the course's versions and
//! starts from the course's `Cargo.lock`, so that it builds offline once the
//! course has been built. It is registered as the learner's program, so that
//! `just test-stage N` tests it from then on.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::check::Stage;
use crate::learner::{PROJECT_FOLDER, Registration, course_dir, now_text, write_file};
use crate::stages;

/// The empty project's manifest, written as a workspace member would be
/// (`tokio.workspace = true`), so that [`standalone_manifest`] gives it the
/// course's versions exactly as it does a reference stage's.
const TEMPLATE_MANIFEST: &str = include_str!("../templates/my-server/Cargo.toml.template");
const TEMPLATE_MAIN: &str = include_str!("../templates/my-server/src/main.rs");

/// `just start`: an empty project in `my-server/`, registered. Refuses to
/// touch a project that is already there.
pub fn start(learner_dir: &Path) -> Result<String, String> {
    let project = learner_dir.join(PROJECT_FOLDER);
    if project.exists() {
        let registered = Registration::load(learner_dir)?;
        let mut message = format!(
            "{PROJECT_FOLDER}/ is there already: that is your project, and `just start` leaves it \
             alone.\n"
        );
        if registered.as_ref() != Some(&Registration::for_project()) {
            Registration::for_project().save(learner_dir, "just start")?;
            message.push_str(&format!(
                "It is now the registered program again: `just test-stage N` tests it.\n{}",
                Registration::for_project().describe()
            ));
        }
        message.push_str(
            "To start over from an empty project, `just checkpoint 1` (it moves yours aside first).",
        );
        return Ok(message);
    }
    let previous = Registration::load(learner_dir)?;
    write_template(&project)?;
    let registration = Registration::for_project();
    registration.save(learner_dir, "just start")?;
    let mut note = format!(
        "Created {PROJECT_FOLDER}/, your own server: a Rust project whose `main` reads `--port N` \
         and does nothing else yet.\n\n\
         It is registered as your program (in .course/server), so from now on the tests run \
         against it:\n{}",
        registration.describe()
    );
    if let Some(previous) = previous {
        let _ = writeln!(
            note,
            "(It replaces the program registered before, `{}`: `{}` goes back.)",
            previous.run,
            previous.register_command()
        );
    }
    note.push_str(
        "\nNext: read tutorial/src/01-bind-port.md (or `just tutorial`), write stage 1 in \
         my-server/src/main.rs, and run `just test-stage 1`. `just progress` shows how far you \
         are; `just watch` tests again each time you save.\n\
         Git ignores my-server/: `git init` inside it to keep your own history.",
    );
    Ok(note)
}

/// `just checkpoint N`: a new `my-server/` copied from the reference stage
/// N-1 (the empty project for N = 1), the learner's own moved aside first.
pub fn checkpoint(learner_dir: &Path, stage: &Stage, register: bool) -> Result<String, String> {
    let project = learner_dir.join(PROJECT_FOLDER);
    let moved_to = if project.exists() {
        let aside = free_name(
            learner_dir,
            &format!("{PROJECT_FOLDER}.before-checkpoint-{}", stage.number),
        );
        std::fs::rename(&project, &aside).map_err(|error| {
            format!(
                "cannot move {PROJECT_FOLDER}/ aside to {}: {error}",
                aside.display()
            )
        })?;
        Some(aside)
    } else {
        None
    };
    let previous = Registration::load(learner_dir)?;
    // The stage this one builds on: N-1, or stage 4 for the first chat stage.
    let from = stages::find(stage.base);
    match from {
        Some(from) => copy_reference(from, &project)?,
        None => write_template(&project)?,
    }
    let registration = Registration::for_project();
    let written_by = format!("just checkpoint {}", stage.number);
    // A program of the learner's own, not my-server/ (another language,
    // most likely), stays registered unless they ask: the checkpoint is
    // then the reference to read and diff against.
    let keeps_own = previous
        .as_ref()
        .is_some_and(|previous| *previous != registration && !register);
    if !keeps_own {
        registration.save(learner_dir, &written_by)?;
    }

    let mut replaced = Vec::new();
    match &moved_to {
        Some(aside) => replaced.push(format!(
            "Your previous {PROJECT_FOLDER}/ is now {}/, untouched: copy back what you want to \
             keep, or delete it.",
            aside.file_name().unwrap_or_default().to_string_lossy()
        )),
        None => replaced.push(format!("There was no {PROJECT_FOLDER}/ before.")),
    }
    match previous {
        Some(previous) if keeps_own => replaced.push(format!(
            "Your registered program stays `{}`: the tests still run it, not this project. \
             This project is the reference in Rust, to read and diff against yours while you \
             write stage {} in your own language. `just checkpoint {} --register` would make \
             this project the one tested instead.",
            previous.run, stage.number, stage.number
        )),
        Some(previous) if previous != registration => replaced.push(format!(
            "The registered program was `{}`; it is now this project. `{}` goes back.",
            previous.run,
            previous.register_command()
        )),
        Some(_) => replaced.push("The registered program was this project already.".to_string()),
        None => replaced.push(
            "This project is now the registered program: `just test-stage N` tests it.".to_string(),
        ),
    }
    let chapter = format!("tutorial/src/{:02}-{}.md", stage.number, stage.name);
    let (origin, what) = match from {
        Some(from) => (
            format!(
                "a copy of the course's reference stage {} (`stages/{:02}-{}/`)",
                from.number, from.number, from.name
            ),
            format!(
                "The code is the reference's, unchanged: it passes stage {}'s checks (and the \
                 earlier ones that still apply). Cargo.toml names the package `{PROJECT_FOLDER}` \
                 and lists its dependencies itself, where the reference takes them from the \
                 course's workspace; Cargo.lock is the course's, so it builds offline. Names in the \
                 code and its comments (`stage-{:02}-{}`) are still the reference's.",
                from.number, from.number, from.name
            ),
        ),
        None => (
            "the empty project of `just start`".to_string(),
            "Its `main` reads `--port N` and does nothing else yet.".to_string(),
        ),
    };
    let mut note = format!(
        "# This project starts from stage {}'s checkpoint\n\n\
         On {}, `{written_by}` made {PROJECT_FOLDER}/ {origin}, so that you can go on with \
         stage {}: {}.\n\n## What was replaced\n\n",
        stage.number,
        now_text(),
        stage.number,
        stage.summary
    );
    for line in &replaced {
        let _ = writeln!(note, "- {line}");
    }
    let tests_here = if keeps_own {
        format!(
            "`just test-stage {} {}` runs its checks against this project (after `cargo build \
             --manifest-path {PROJECT_FOLDER}/Cargo.toml`)",
            stage.number, registration.run
        )
    } else {
        format!(
            "`just test-stage {}` runs its checks against this project",
            stage.number
        )
    };
    let _ = write!(
        note,
        "\n## What is here\n\n{what}\n\n## Next\n\nRead {chapter}; {tests_here}, `just hint \
         {n}` gives a hint, and `just diff {n}` shows how the reference does it.\n",
        n = stage.number
    );
    write_file(&project.join("CHECKPOINT.md"), &note)?;
    Ok(format!(
        "{note}\n(This note is saved as {PROJECT_FOLDER}/CHECKPOINT.md.)"
    ))
}

fn write_template(project: &Path) -> Result<(), String> {
    let manifest = standalone_manifest(TEMPLATE_MANIFEST, None)?;
    write_file(&project.join("Cargo.toml"), &manifest)?;
    write_file(&project.join("src").join("main.rs"), TEMPLATE_MAIN)?;
    finish_project(project)
}

fn copy_reference(from: &Stage, project: &Path) -> Result<(), String> {
    let source = course_dir()
        .join("stages")
        .join(format!("{:02}-{}", from.number, from.name));
    copy_folder(&source, project)?;
    let manifest_path = project.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path)
        .map_err(|error| format!("cannot read {}: {error}", manifest_path.display()))?;
    let description = format!(
        "My own server for the course, started from the reference stage {}.",
        from.number
    );
    let mut standalone = standalone_manifest(&manifest, Some(&description))?;
    if project.join("src").join("lib.rs").is_file() && !manifest.contains("[lib]") {
        // The package becomes `my-server`; its library keeps the crate name
        // the reference's code uses (`use stage_12_chat_broadcast::...`).
        standalone.push_str(&format!(
            "\n[lib]\nname = \"{}\"\n",
            from.package().replace('-', "_")
        ));
    }
    write_file(&manifest_path, &standalone)?;
    finish_project(project)
}

/// The course's `Cargo.lock` (so that the versions it has are the ones
/// used, offline) and a `.gitignore` for the build folder.
fn finish_project(project: &Path) -> Result<(), String> {
    let lock = course_dir().join("Cargo.lock");
    if lock.is_file() {
        std::fs::copy(&lock, project.join("Cargo.lock"))
            .map_err(|error| format!("cannot copy Cargo.lock: {error}"))?;
    }
    write_file(&project.join(".gitignore"), "/target\n")
}

/// A package manifest that stands alone: `name` becomes `my-server`, each
/// `X.workspace = true` takes the course workspace's value, and an empty
/// `[workspace]` table makes it a workspace of its own.
pub fn standalone_manifest(manifest: &str, description: Option<&str>) -> Result<String, String> {
    let workspace_path = course_dir().join("Cargo.toml");
    let workspace = std::fs::read_to_string(&workspace_path)
        .map_err(|error| format!("cannot read {}: {error}", workspace_path.display()))?;
    let inherited = workspace_values(&workspace);
    let mut out = String::new();
    let mut section = String::new();
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.trim_matches(|c| c == '[' || c == ']').to_string();
        }
        let key = if trimmed.starts_with('#') {
            ""
        } else {
            trimmed
                .split_once('=')
                .map(|(key, _)| key.trim())
                .unwrap_or_default()
        };
        let replaced = if section == "package" && key == "name" {
            format!("name = \"{PROJECT_FOLDER}\"")
        } else if section == "package" && key == "default-run" {
            format!("default-run = \"{PROJECT_FOLDER}\"")
        } else if section == "package" && key == "description" && description.is_some() {
            format!("description = {:?}", description.unwrap_or_default())
        } else if let Some(features) = inherited_with_features(trimmed) {
            // `tokio = { workspace = true, features = ["sync"] }`: the
            // workspace's value, with these features added to its own.
            let value = inherited
                .get(&("workspace.dependencies", key.to_string()))
                .ok_or_else(|| {
                    format!("`{trimmed}`: the course's Cargo.toml has no `{key}` in [workspace.dependencies]")
                })?;
            format!("{key} = {}", with_features(value, &features))
        } else if let Some(name) = key.strip_suffix(".workspace") {
            let table = if section == "package" {
                "workspace.package"
            } else {
                "workspace.dependencies"
            };
            let value = inherited.get(&(table, name.to_string())).ok_or_else(|| {
                format!("`{trimmed}` in [{section}]: the course's Cargo.toml has no `{name}` in [{table}]")
            })?;
            format!("{name} = {value}")
        } else {
            line.to_string()
        };
        out.push_str(&replaced);
        out.push('\n');
    }
    out.push_str(
        "\n# A workspace of its own: the course's workspace neither builds nor lints it.\n\
         [workspace]\n",
    );
    Ok(out)
}

/// The features of a dependency written `name = { workspace = true,
/// features = [...] }`, or `None` for any other line.
fn inherited_with_features(line: &str) -> Option<Vec<String>> {
    let (_, value) = line.split_once('=')?;
    let table = value.trim().strip_prefix('{')?.strip_suffix('}')?;
    if !table.replace(' ', "").contains("workspace=true") {
        return None;
    }
    Some(features_of(table))
}

/// The quoted words of a `features = [...]` list in `text`.
fn features_of(text: &str) -> Vec<String> {
    let Some((_, list)) = text.split_once("features") else {
        return Vec::new();
    };
    let list = list
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .map_or("", |(inside, _)| inside);
    list.split(',')
        .map(|word| word.trim().trim_matches('"').to_string())
        .filter(|word| !word.is_empty())
        .collect()
}

/// A workspace dependency's value (`"1"` or `{ version = "1", features =
/// [...] }`) with `extra` features added; `default-features = false` kept
/// (the `redis` crate's defaults need crates the course does not have).
fn with_features(value: &str, extra: &[String]) -> String {
    let version = match value.strip_prefix('{') {
        None => value.to_string(),
        Some(table) => table
            .split(',')
            .find_map(|part| {
                let (key, version) = part.split_once('=')?;
                (key.trim() == "version").then(|| version.trim().to_string())
            })
            .unwrap_or_default(),
    };
    let mut features = features_of(value);
    for feature in extra {
        if !features.contains(feature) {
            features.push(feature.clone());
        }
    }
    let quoted: Vec<String> = features.iter().map(|f| format!("\"{f}\"")).collect();
    let defaults = if value.replace(' ', "").contains("default-features=false") {
        ", default-features = false"
    } else {
        ""
    };
    format!(
        "{{ version = {version}{defaults}, features = [{}] }}",
        quoted.join(", ")
    )
}

/// `key = value` lines of `[workspace.package]` and
/// `[workspace.dependencies]` (one line each, as the course writes them).
fn workspace_values(workspace: &str) -> std::collections::HashMap<(&'static str, String), String> {
    let mut values = std::collections::HashMap::new();
    let mut table = None;
    for line in workspace.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            table = match trimmed {
                "[workspace.package]" => Some("workspace.package"),
                "[workspace.dependencies]" => Some("workspace.dependencies"),
                _ => None,
            };
            continue;
        }
        if let (Some(table), Some((key, value))) = (table, trimmed.split_once('='))
            && !trimmed.starts_with('#')
        {
            values.insert((table, key.trim().to_string()), value.trim().to_string());
        }
    }
    values
}

/// `base` in `dir`, or `base-2`, `base-3`... when taken.
fn free_name(dir: &Path, base: &str) -> PathBuf {
    let mut candidate = dir.join(base);
    let mut number = 1;
    while candidate.exists() {
        number += 1;
        candidate = dir.join(format!("{base}-{number}"));
    }
    candidate
}

/// Copies a folder and everything in it, leaving out build output
/// (`target/`).
pub fn copy_folder(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to)
        .map_err(|error| format!("cannot create {}: {error}", to.display()))?;
    let entries = std::fs::read_dir(from)
        .map_err(|error| format!("cannot read {}: {error}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|error| format!("cannot read {}: {error}", from.display()))?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            if entry.file_name() != "target" {
                copy_folder(&path, &target)?;
            }
        } else {
            std::fs::copy(&path, &target)
                .map_err(|error| format!("cannot copy {}: {error}", path.display()))?;
        }
    }
    Ok(())
}
