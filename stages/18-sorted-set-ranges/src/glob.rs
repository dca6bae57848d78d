//! Redis's glob patterns, for KEYS and PSUBSCRIBE: `*` any run of bytes,
//! `?` any one byte, `[abc]` one of a set, `[^abc]` none of it, `[a-z]` a
//! range, `\` escapes.
//!
//! A port of Redis's `stringmatchlen`, edge cases included (`[b-a]` is the
//! range a-b; a `[` that never closes matches what it has), so that KEYS
//! answers exactly as Redis does. Two protections Redis also has: once the
//! rest of a pattern after a `*` has failed to match anywhere, earlier `*`s
//! stop trying longer matches (without that, `*a*a*a*a*b` takes exponential
//! time); and `*`s nested deeper than a limit are not followed, so a pattern
//! of thousands of `*`s cannot overflow the stack.

#[cfg(test)]
mod tests;

/// How many `*`s deep the matcher follows a pattern.
const MAX_NESTING: usize = 1_000;

// ANCHOR: matches
/// Whether `text` matches `pattern`.
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    let mut skip_longer_matches = false;
    match_from(pattern, text, &mut skip_longer_matches, 0)
}
// ANCHOR_END: matches

fn match_from(
    mut pattern: &[u8],
    mut text: &[u8],
    skip_longer_matches: &mut bool,
    nesting: usize,
) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    // Redis's patterns are C strings: reading past the end gives 0.
    let at = |pattern: &[u8], i: usize| pattern.get(i).copied().unwrap_or(0);
    while !pattern.is_empty() && !text.is_empty() {
        match pattern[0] {
            b'*' => {
                while pattern.len() > 1 && pattern[1] == b'*' {
                    pattern = &pattern[1..];
                }
                if pattern.len() == 1 {
                    return true;
                }
                while !text.is_empty() {
                    if match_from(&pattern[1..], text, skip_longer_matches, nesting + 1) {
                        return true;
                    }
                    if *skip_longer_matches {
                        return false;
                    }
                    text = &text[1..];
                }
                *skip_longer_matches = true;
                return false;
            }
            b'?' => text = &text[1..],
            b'[' => {
                pattern = &pattern[1..];
                let negate = at(pattern, 0) == b'^';
                if negate {
                    pattern = &pattern[1..];
                }
                let byte = text[0];
                let mut matched = false;
                loop {
                    if at(pattern, 0) == b'\\' && pattern.len() >= 2 {
                        pattern = &pattern[1..];
                        if pattern[0] == byte {
                            matched = true;
                        }
                    } else if at(pattern, 0) == b']' {
                        break;
                    } else if pattern.is_empty() {
                        // An unclosed `[`: Redis steps back one byte, so
                        // the loop below ends on the pattern's last byte.
                        break;
                    } else if pattern.len() >= 3 && pattern[1] == b'-' {
                        // C's `char` is signed on the machines Redis runs
                        // on: bytes over 127 compare as negative numbers.
                        let (mut start, mut end) = (pattern[0] as i8, pattern[2] as i8);
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if (start..=end).contains(&(byte as i8)) {
                            matched = true;
                        }
                        pattern = &pattern[2..];
                    } else if pattern[0] == byte {
                        matched = true;
                    }
                    pattern = &pattern[1..];
                }
                if negate {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                text = &text[1..];
                if pattern.is_empty() {
                    // The unclosed `[` case: nothing left to step past.
                    break;
                }
            }
            b'\\' if pattern.len() >= 2 => {
                pattern = &pattern[1..];
                if pattern[0] != text[0] {
                    return false;
                }
                text = &text[1..];
            }
            literal => {
                if literal != text[0] {
                    return false;
                }
                text = &text[1..];
            }
        }
        pattern = &pattern[1..];
        if text.is_empty() {
            while !pattern.is_empty() && pattern[0] == b'*' {
                pattern = &pattern[1..];
            }
            break;
        }
    }
    pattern.is_empty() && text.is_empty()
}
