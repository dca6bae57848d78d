//! What a nick may be. Every nick is shown on other people's screens, in
//! front of every line its owner sends, so it must be visible, short, and
//! not pass for someone else's.

mod invisible;

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

#[cfg(test)]
mod tests;
