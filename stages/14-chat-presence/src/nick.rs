//! What a nick may be. Every nick is shown on other people's screens, in
//! front of every line its owner sends, so it must be visible, short, and
//! not pass for someone else's.

mod invisible;

use crate::chat::ClientId;

/// The longest nick, in characters.
pub const MAX_NICK: usize = 32;

// ANCHOR: nick
/// 1 to 32 characters (not bytes: "zoë" is 3), every one of them visible:
/// no space, control or format character, and none of the characters that
/// draw nothing, which would let "bob" and "b\u{200b}ob" look like the same
/// person (`invisible.rs` has them all, from Unicode's own classes).
pub fn is_valid(nick: &str) -> bool {
    let length = nick.chars().count();
    (1..=MAX_NICK).contains(&length) && !nick.chars().any(invisible::is_invisible)
}
// ANCHOR_END: nick

/// Is `nick` the default nick of a connection still to come ("user12"
/// when 11 have connected)? Such a nick is refused, or that connection
/// would get a nick someone else has. (The default nick of a connection
/// that has come already is an ordinary nick: taken while someone has it.)
pub fn is_future_default(nick: &str, last_id: ClientId) -> bool {
    let Some(digits) = nick.strip_prefix("user") else {
        return false;
    };
    match digits.parse::<ClientId>() {
        // "user012" or "user+12" is no connection's default nick.
        Ok(id) => id > last_id && id.to_string() == digits,
        // Too many digits for an id: no connection will ever have it.
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests;
