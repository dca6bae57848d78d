//! The tests of `invisible.rs`.

use super::*;

#[test]
fn the_ranges_are_sorted_and_apart() {
    for pair in INVISIBLE.windows(2) {
        let ((first, last), (next, _)) = (pair[0], pair[1]);
        assert!(first <= last, "{first:X}..{last:X}");
        // Apart by at least one code point, or they would be one range.
        assert!(last + 1 < next, "{last:X} then {next:X}");
    }
}

#[test]
fn invisible_characters_the_old_list_missed() {
    for code in [0x2800, 0xFFF9, 0xE0062, 0x17B4, 0x180B, 0x1D173] {
        let char = char::from_u32(code).unwrap();
        assert!(is_invisible(char), "U+{code:04X}");
    }
}

#[test]
fn each_class_and_its_edges() {
    for char in [
        '\0',
        ' ',
        '\t',
        '\u{7f}',
        '\u{85}',
        '\u{9b}',
        '\u{a0}',
        '\u{ad}',
        '\u{200b}',
        '\u{200d}',
        '\u{202e}',
        '\u{2028}',
        '\u{2029}',
        '\u{2066}',
        '\u{3000}',
        '\u{3164}',
        '\u{fe0f}',
        '\u{feff}',
        '\u{e0001}',
        '\u{e01ef}',
        '\u{e0fff}',
    ] {
        assert!(is_invisible(char), "{char:?}");
    }
    for char in [
        '!',
        '~',
        'a',
        'é',
        '\u{a1}',
        '\u{ac}',
        '\u{ae}',
        '名',
        '\u{2027}',
        '\u{2030}',
        '\u{27ff}',
        '\u{2801}',
        '\u{fffc}',
        '\u{fffd}',
        '\u{1d172}',
        '\u{1d17b}',
        '\u{e1000}',
        '\u{10ffff}',
    ] {
        assert!(!is_invisible(char), "{char:?}");
    }
}
