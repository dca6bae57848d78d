//! The tests of `nick.rs`.

use super::*;

#[test]
fn nick_rules() {
    assert!(is_valid("a"));
    assert!(is_valid(&"x".repeat(32)));
    assert!(!is_valid(&"x".repeat(33)));
    // Characters, not bytes: 32 of 2 bytes each is fine.
    assert!(is_valid(&"é".repeat(32)));
    assert!(!is_valid(&"é".repeat(33)));
    assert!(is_valid("名前"));
    assert!(is_valid("/slash"));
    assert!(is_valid("\u{fffd}"));
    assert!(!is_valid(""));
    for bad in [
        "a b",
        "a\u{a0}b",
        "a\u{3000}b",
        "a\tb",
        "a\u{85}b",
        "b\u{200b}ob",
        "\u{202e}evil",
        "\u{feff}",
        // Unicode's classes, not a list: a blank Braille cell, a format
        // character, a tag, a Khmer vowel that draws nothing, a Mongolian
        // variation selector, a musical format control.
        "bob\u{2800}",
        "bob\u{fff9}",
        "bob\u{e0062}",
        "bob\u{17b4}",
        "bob\u{180b}",
        "bob\u{1d173}",
    ] {
        assert!(!is_valid(bad), "{bad:?}");
    }
}
