//! What a line says: a chat message, or one of the slash commands, checked.
//!
//! The line has been cleaned already (`line::clean`): every rule here works
//! on the text as others would see it, so `/ni\x01ck bob` is `/nick bob`,
//! and a nick cannot hide an escape sequence.
//!
//! Parsing needs nothing but the line. Whether a nick is taken, or whom
//! `/msg` names, depends on who is connected: that is `chat.rs`'s job.

use std::fmt;

/// The longest nick, in characters.
pub const MAX_NICK: usize = 32;

/// A line, understood.
#[derive(Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// Nothing left after cleaning: ignored.
    Nothing,
    /// Not a command: a message for everyone else.
    Chat(&'a str),
    /// `/nick NAME`, with a valid name.
    Nick(&'a str),
    /// `/who`
    Who,
    /// `/msg NAME text`
    Msg { to: &'a str, text: &'a str },
    /// `/me action`
    Me(&'a str),
    /// `/help`
    Help,
    /// `/quit`
    Quit,
}

/// A command that cannot run, whoever is connected. Its `Display` is the
/// error line the sender receives, without its `\n`.
#[derive(Debug, PartialEq, Eq)]
pub enum CommandError<'a> {
    BadNick,
    MsgUsage,
    MeUsage,
    /// The first word, without its slash.
    Unknown(&'a str),
}

impl fmt::Display for CommandError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            CommandError::BadNick => write!(
                f,
                "! a nick is 1-{MAX_NICK} printable characters, without spaces"
            ),
            CommandError::MsgUsage => f.write_str("! usage: /msg NAME text"),
            CommandError::MeUsage => f.write_str("! usage: /me action"),
            CommandError::Unknown(word) => {
                write!(f, "! unknown command /{word}: /help lists the commands")
            }
        }
    }
}

/// What `/help` sends, line for line.
pub const HELP: &str = "\
* commands:
*   /nick NAME      change your name
*   /who            who is online
*   /msg NAME text  a private message
*   /me action      an action: * you wave
*   /help           this list
*   /quit           leave
";

// ANCHOR: parse
/// Reads a cleaned line. Commands are case-sensitive, and their words are
/// separated by one space: the argument of `/me` and the text of `/msg`
/// keep their spaces as typed.
pub fn parse(line: &str) -> Result<Input<'_>, CommandError<'_>> {
    let Some(command) = line.strip_prefix('/') else {
        return Ok(if line.is_empty() {
            Input::Nothing
        } else {
            Input::Chat(line)
        });
    };
    let (word, argument) = command.split_once(' ').unwrap_or((command, ""));
    match word {
        "nick" if is_valid_nick(argument) => Ok(Input::Nick(argument)),
        "nick" => Err(CommandError::BadNick),
        "who" => Ok(Input::Who),
        "msg" => match argument.split_once(' ') {
            Some((to, text)) if !to.is_empty() && !text.is_empty() => Ok(Input::Msg { to, text }),
            _ => Err(CommandError::MsgUsage),
        },
        "me" if !argument.is_empty() => Ok(Input::Me(argument)),
        "me" => Err(CommandError::MeUsage),
        "help" => Ok(Input::Help),
        "quit" => Ok(Input::Quit),
        _ => Err(CommandError::Unknown(word)),
    }
}
// ANCHOR_END: parse

// ANCHOR: nick
/// 1 to 32 characters (not bytes: "zoë" is 3), every one of them visible:
/// no whitespace of any kind, and none of the invisible characters that
/// would let "bob" and "b\u{200b}ob" look like the same person. Control
/// characters are gone already: the line was cleaned.
pub fn is_valid_nick(nick: &str) -> bool {
    let length = nick.chars().count();
    (1..=MAX_NICK).contains(&length)
        && nick
            .chars()
            .all(|char| !char.is_whitespace() && !char.is_control() && !is_invisible(char))
}

/// Characters that take no room on screen: zero-width spaces and joiners,
/// the marks and overrides that change the direction of text, the word
/// joiner and invisible operators, and the byte-order mark. (The Unicode
/// "format" category, Cf, holds these and a few more; std cannot tell us a
/// character's category, so we list the ones that matter for a name.)
fn is_invisible(char: char) -> bool {
    matches!(char,
        '\u{00ad}'                // soft hyphen
        | '\u{034f}'              // combining grapheme joiner
        | '\u{061c}'              // Arabic letter mark
        | '\u{115f}' | '\u{1160}' // Hangul fillers
        | '\u{180e}'              // Mongolian vowel separator
        | '\u{200b}'..='\u{200f}' // zero-width space, joiners, direction marks
        | '\u{202a}'..='\u{202e}' // direction embeddings and overrides
        | '\u{2060}'..='\u{206f}' // word joiner, invisible operators, isolates
        | '\u{3164}'              // Hangul filler
        | '\u{fe00}'..='\u{fe0f}' // variation selectors
        | '\u{feff}'              // byte-order mark
        | '\u{ffa0}'              // halfwidth Hangul filler
    )
}
// ANCHOR_END: nick

#[cfg(test)]
mod tests {
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
    fn nick() {
        assert_eq!(parse("/nick alice"), Ok(Input::Nick("alice")));
        assert_eq!(parse("/nick zoë"), Ok(Input::Nick("zoë")));
        assert_eq!(parse("/nick /slash"), Ok(Input::Nick("/slash")));
        assert_eq!(parse("/nick"), Err(CommandError::BadNick));
        assert_eq!(parse("/nick "), Err(CommandError::BadNick));
        assert_eq!(parse("/nick two words"), Err(CommandError::BadNick));
        assert_eq!(parse("/nick  alice"), Err(CommandError::BadNick));
        assert_eq!(parse("/nick alice "), Err(CommandError::BadNick));
    }

    #[test]
    fn nick_rules() {
        assert!(is_valid_nick("a"));
        assert!(is_valid_nick(&"x".repeat(32)));
        assert!(!is_valid_nick(&"x".repeat(33)));
        // Characters, not bytes: 32 of 2 bytes each is fine.
        assert!(is_valid_nick(&"é".repeat(32)));
        assert!(!is_valid_nick(&"é".repeat(33)));
        assert!(is_valid_nick("名前"));
        assert!(is_valid_nick("\u{fffd}"));
        assert!(!is_valid_nick(""));
        for bad in [
            "a b",
            "a\u{a0}b",
            "a\u{3000}b",
            "a\tb",
            "a\u{85}b",
            "b\u{200b}ob",
            "\u{202e}evil",
            "\u{feff}",
        ] {
            assert!(!is_valid_nick(bad), "{bad:?}");
        }
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
            CommandError::BadNick.to_string(),
            "! a nick is 1-32 printable characters, without spaces"
        );
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
}
