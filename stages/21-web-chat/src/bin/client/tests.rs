//! The tests of the client: the editor, the drawing, the reading of lines.

use super::*;

/// Feeds `keys` to a new editor: the actions and the editor.
fn type_keys(keys: &[u8]) -> (Vec<KeyAction>, Editor) {
    let mut editor = Editor::default();
    let actions = keys.iter().map(|&key| editor.apply_key(key)).collect();
    (actions, editor)
}

#[test]
fn printable_keys_are_appended_and_each_one_redraws() {
    let (actions, editor) = type_keys(b"hi there");
    assert_eq!(editor.line(), "hi there");
    assert!(actions.iter().all(|action| *action == KeyAction::Redraw));
}

#[test]
fn enter_sends_the_line_and_empties_the_editor() {
    let (actions, editor) = type_keys(b"hello\n");
    assert_eq!(actions.last(), Some(&KeyAction::Send("hello".to_string())));
    assert_eq!(editor.line(), "");
    let (actions, _) = type_keys(b"hello\r");
    assert_eq!(actions.last(), Some(&KeyAction::Send("hello".to_string())));
}

#[test]
fn enter_on_an_empty_line_sends_nothing() {
    let (actions, _) = type_keys(b"\n\r");
    assert_eq!(actions, [KeyAction::Nothing, KeyAction::Nothing]);
    // Nothing but an arrow key: nothing to send either.
    let (actions, _) = type_keys(b"\x1b[A\n");
    assert_eq!(actions.last(), Some(&KeyAction::Nothing));
}

#[test]
fn backspace_deletes_the_last_character_either_byte() {
    let (_, editor) = type_keys(b"abc\x7f");
    assert_eq!(editor.line(), "ab");
    let (_, editor) = type_keys(b"abc\x08\x08");
    assert_eq!(editor.line(), "a");
    let (actions, editor) = type_keys(b"\x7f");
    assert_eq!(actions, [KeyAction::Nothing]);
    assert_eq!(editor.line(), "");
}

#[test]
fn backspace_deletes_a_whole_multi_byte_character() {
    let (_, editor) = type_keys("caf\u{e9}\u{1f600}\x7f".as_bytes());
    assert_eq!(editor.line(), "caf\u{e9}");
    let (_, editor) = type_keys("caf\u{e9}\x7f".as_bytes());
    assert_eq!(editor.line(), "caf");
    // After an arrow key, Backspace deletes the character before it.
    let (_, editor) = type_keys(b"ab\x1b[D\x7f");
    assert_eq!(editor.line(), "a");
}

#[test]
fn utf8_characters_are_assembled_from_their_bytes() {
    let text = "h\u{e9}llo \u{4e16}\u{754c} \u{1f600}";
    let (_, editor) = type_keys(text.as_bytes());
    assert_eq!(editor.line(), text);
}

#[test]
fn ctrl_u_clears_the_line() {
    let (actions, editor) = type_keys(b"some text\x15");
    assert_eq!(actions.last(), Some(&KeyAction::Redraw));
    assert_eq!(editor.line(), "");
    let (actions, _) = type_keys(b"\x15");
    assert_eq!(actions, [KeyAction::Nothing]);
}

#[test]
fn ctrl_d_quits_on_an_empty_line_only() {
    let (actions, _) = type_keys(b"\x04");
    assert_eq!(actions, [KeyAction::Quit]);
    let (actions, editor) = type_keys(b"ab\x04");
    assert_eq!(actions.last(), Some(&KeyAction::Nothing));
    assert_eq!(editor.line(), "ab");
}

#[test]
fn ctrl_c_quits_even_with_text_typed() {
    let (actions, _) = type_keys(b"half a line\x03");
    assert_eq!(actions.last(), Some(&KeyAction::Quit));
}

#[test]
fn arrow_keys_and_alt_keys_are_cleaned_away() {
    // Up, Left (CSI), Alt+x, then F5 with parameters.
    let (actions, editor) = type_keys(b"a\x1b[A\x1b[Db\x1bxc\x1b[15~d\n");
    assert_eq!(actions.last(), Some(&KeyAction::Send("abcd".to_string())));
    assert_eq!(editor.line(), "");
}

#[test]
fn control_keys_are_not_shown_or_sent() {
    let (_, editor) = type_keys(b"a\tb\x07c\x01d");
    assert_eq!(editor.line(), "abcd");
    // U+009B typed as UTF-8 is a one-character ESC [, which the terminal
    // would obey: it goes with its parameters and final byte.
    let (_, editor) = type_keys("x\u{9b}31my".as_bytes());
    assert_eq!(editor.line(), "xy");
}

#[test]
fn the_line_stops_at_the_servers_limit() {
    let mut editor = Editor::default();
    for _ in 0..MAX_LINE {
        assert_eq!(editor.apply_key(b'x'), KeyAction::Redraw);
    }
    assert_eq!(editor.apply_key(b'y'), KeyAction::Nothing);
    assert_eq!(editor.line().len(), MAX_LINE);
}

#[test]
fn visible_tail_shows_the_end_of_a_long_line() {
    assert_eq!(visible_tail("short", 80), "short");
    // 10 columns: 2 for "> ", 1 kept free, 7 for the line.
    assert_eq!(visible_tail("0123456789", 10), "3456789");
    let accented = "\u{e9}".repeat(8);
    assert_eq!(visible_tail(&accented, 10), "\u{e9}".repeat(7));
    assert_eq!(visible_tail("abc", 1), "c");
}

#[test]
fn server_lines_are_split_and_long_ones_cut() {
    let long = "y".repeat(MAX_SERVER_LINE as usize + 3);
    let text = format!("one\ntwo\n{long}\nlast");
    let mut input = text.as_bytes();
    let mut lengths = Vec::new();
    while let Some(line) = read_server_line(&mut input).expect("in memory") {
        lengths.push(line.len());
    }
    let cap = MAX_SERVER_LINE as usize;
    assert_eq!(lengths, [3, 3, cap, 3, 4]);
}

#[test]
fn print_above_prompt_erases_the_row_and_redraws_what_was_typed() {
    let mut screen = Vec::new();
    print_above_prompt(&mut screen, "alice> hi", "half a li", 80).expect("in memory");
    assert_eq!(
        String::from_utf8(screen).expect("UTF-8"),
        "\r\x1b[2Kalice> hi\n\r\x1b[2K> half a li"
    );
}
