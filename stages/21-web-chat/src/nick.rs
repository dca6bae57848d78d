//! What a nick may be. Every nick is shown on other people's screens, in
//! front of every line its owner sends, so it must be visible, short, and
//! not pass for someone else's.

/// The longest nick, in characters.
pub const MAX_NICK: usize = 32;

// ANCHOR: nick
/// 1 to 32 characters (not bytes: "zoë" is 3), every one of them visible:
/// no whitespace of any kind, and none of the invisible characters that
/// would let "bob" and "b\u{200b}ob" look like the same person. Control
/// characters are gone already: the line was cleaned.
pub fn is_valid(nick: &str) -> bool {
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
mod tests;
