//! What a line says: a chat message, or one of the slash commands, checked.
//!
//! The line has been cleaned already: `/ni\x01ck bob` is `/nick bob`.
//! Parsing needs nothing but the line; whether a nick is free, or whom
//! `/msg` names, depends on who is connected: that is `chat.rs`'s job.

use std::fmt;

/// A line, understood.
#[derive(Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// Nothing left after cleaning: ignored.
    Nothing,
    /// Not a command: a message for everyone else.
    Chat(&'a str),
    /// `/nick NAME`: whether NAME may be a nick is `chat.rs`'s to say.
    Nick(&'a str),
    Who,
    Msg {
        to: &'a str,
        text: &'a str,
    },
    Me(&'a str),
    Help,
    Quit,
}

/// A command that cannot run. Its `Display` is the sender's error line.
#[derive(Debug, PartialEq, Eq)]
pub enum CommandError<'a> {
    MsgUsage,
    MeUsage,
    /// The first word, without its slash.
    Unknown(&'a str),
}

impl fmt::Display for CommandError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
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
*   /me action      an action: NICK> *wave*
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
        "nick" => Ok(Input::Nick(argument)),
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

#[cfg(test)]
mod tests;
