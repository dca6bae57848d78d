//! The tests of `command.rs`: every command, and every error line.

use super::*;

#[test]
fn plain_lines_are_chat() {
    assert_eq!(parse("hello"), Ok(Input::Chat("hello")));
    assert_eq!(parse("  spaced  "), Ok(Input::Chat("  spaced  ")));
    assert_eq!(parse("   "), Ok(Input::Chat("   ")));
    assert_eq!(parse("a /nick b"), Ok(Input::Chat("a /nick b")));
    assert_eq!(parse(""), Ok(Input::Nothing));
}

#[test]
fn nick_takes_the_rest_of_the_line() {
    assert_eq!(parse("/nick alice"), Ok(Input::Nick("alice")));
    assert_eq!(parse("/nick two words"), Ok(Input::Nick("two words")));
    assert_eq!(parse("/nick"), Ok(Input::Nick("")));
}

#[test]
fn msg() {
    assert_eq!(
        parse("/msg bob hi there "),
        Ok(Input::Msg {
            to: "bob",
            text: "hi there "
        })
    );
    assert_eq!(
        parse("/msg bob  x"),
        Ok(Input::Msg {
            to: "bob",
            text: " x"
        })
    );
    for usage in ["/msg", "/msg ", "/msg bob", "/msg bob ", "/msg  bob hi"] {
        assert_eq!(parse(usage), Err(CommandError::MsgUsage), "{usage:?}");
    }
}

#[test]
fn me() {
    assert_eq!(parse("/me waves"), Ok(Input::Me("waves")));
    assert_eq!(parse("/me  waves twice"), Ok(Input::Me(" waves twice")));
    assert_eq!(parse("/me"), Err(CommandError::MeUsage));
    assert_eq!(parse("/me "), Err(CommandError::MeUsage));
    assert_eq!(parse("/meow"), Err(CommandError::Unknown("meow")));
}

#[test]
fn commands_without_arguments_ignore_any() {
    assert_eq!(parse("/who"), Ok(Input::Who));
    assert_eq!(parse("/who is here"), Ok(Input::Who));
    assert_eq!(parse("/help"), Ok(Input::Help));
    assert_eq!(parse("/quit now"), Ok(Input::Quit));
}

#[test]
fn unknown_commands_and_case() {
    assert_eq!(parse("/NICK bob"), Err(CommandError::Unknown("NICK")));
    assert_eq!(parse("/Who"), Err(CommandError::Unknown("Who")));
    assert_eq!(parse("/dance now"), Err(CommandError::Unknown("dance")));
    assert_eq!(parse("/"), Err(CommandError::Unknown("")));
    assert_eq!(parse("//shrug"), Err(CommandError::Unknown("/shrug")));
}

#[test]
fn error_lines() {
    assert_eq!(
        CommandError::MsgUsage.to_string(),
        "! usage: /msg NAME text"
    );
    assert_eq!(CommandError::MeUsage.to_string(), "! usage: /me action");
    assert_eq!(
        CommandError::Unknown("x").to_string(),
        "! unknown command /x: /help lists the commands"
    );
    assert_eq!(HELP.lines().count(), 7);
    assert!(HELP.lines().all(|line| line.starts_with('*')));
}
