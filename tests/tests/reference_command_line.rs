//! The reference servers' command line: `--port`, `--bind`, `--help`, and a
//! clear message (not a panic) when something is wrong.

use std::net::TcpListener;

use assert_cmd::Command;
use harness::check::Stage;
use harness::server::reference_binary;
use harness::stages;
use predicates::prelude::*;

fn each_reference() -> impl Iterator<Item = (&'static Stage, String, std::path::PathBuf)> {
    stages::all().iter().map(|&stage| {
        let package = stage.package();
        let binary = reference_binary(&package).unwrap_or_else(|error| panic!("{error}"));
        (stage, package, binary)
    })
}

#[test]
fn a_taken_port_is_explained_not_panicked_about() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    for (stage, package, binary) in each_reference() {
        // Stage 11 and the chat stages do not speak RESP: no Redis to blame.
        let suspect = match stage.number {
            11 => "another server",
            12..=14 | 19.. => "another chat server",
            _ => "a real Redis",
        };
        Command::new(&binary)
            .args(["--port", &port.to_string()])
            .timeout(std::time::Duration::from_secs(5))
            .assert()
            .code(1)
            .stdout("")
            .stderr(format!(
                "error: port {port} is in use: is {suspect} running? try --port {}\n",
                port + 1
            ))
            .stderr(predicate::str::contains("panicked").not());
        println!("{package}: ok");
    }
}

#[test]
fn bad_options_get_a_clear_message() {
    for (_, _, binary) in each_reference() {
        Command::new(&binary)
            .args(["--port", "sixty"])
            .assert()
            .code(1)
            .stderr(predicate::str::starts_with(
                "error: --port sixty: a port is a number from 0 to 65535",
            ));
        Command::new(&binary)
            .arg("--verbose")
            .assert()
            .code(1)
            .stderr("error: unknown option '--verbose' (try --help)\n");
        Command::new(&binary)
            .arg("--port")
            .assert()
            .code(1)
            .stderr("error: --port needs a number, e.g. --port 6380\n");
    }
}

#[test]
fn help_names_the_stage_and_its_options() {
    for (_, package, binary) in each_reference() {
        Command::new(&binary)
            .arg("--help")
            .assert()
            .success()
            .stdout(predicate::str::starts_with(format!("{package}: Stage ")))
            .stdout(
                predicate::str::contains("--port N").and(predicate::str::contains("--bind ADDR")),
            );
    }
}

#[test]
fn an_address_that_cannot_be_bound_is_named() {
    for (_, _, binary) in each_reference() {
        Command::new(&binary)
            .args(["--bind", "203.0.113.7", "--port", "0"])
            .timeout(std::time::Duration::from_secs(5))
            .assert()
            .code(1)
            // (The web chat binds its page's port first, and names that.)
            .stderr(
                predicate::str::starts_with("error: cannot listen on 203.0.113.7:0").or(
                    predicate::str::starts_with("error: cannot serve the page on 203.0.113.7:"),
                ),
            );
    }
}
