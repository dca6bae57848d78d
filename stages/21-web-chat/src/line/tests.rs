//! The tests of `line.rs`: framing at every split, the limit, the cleaning.

use super::*;

/// Feeds `input` in pieces of `piece` bytes, and collects every line.
fn lines_of(input: &[u8], piece: usize) -> Vec<Line> {
    let mut reader = LineReader::default();
    let mut lines = Vec::new();
    for chunk in input.chunks(piece.max(1)) {
        reader.buffer.extend_from_slice(chunk);
        while let Some(line) = reader.next_line() {
            lines.push(line);
        }
    }
    lines
}

fn text(line: &str) -> Line {
    Line::Text(Bytes::copy_from_slice(line.as_bytes()))
}

#[test]
fn lines_split_at_every_byte_or_all_in_one_read() {
    let input = "hello\nwörld\r\n\r\n\nlast one\n".as_bytes();
    let expected = vec![
        text("hello"),
        text("wörld"),
        text(""),
        text(""),
        text("last one"),
    ];
    for piece in 1..=input.len() {
        assert_eq!(lines_of(input, piece), expected, "pieces of {piece}");
    }
}

#[test]
fn every_split_of_a_two_line_input() {
    let input = b"one line\r\nand another\n";
    for cut in 0..=input.len() {
        let mut reader = LineReader::default();
        let mut lines = Vec::new();
        for piece in [&input[..cut], &input[cut..]] {
            reader.buffer.extend_from_slice(piece);
            while let Some(line) = reader.next_line() {
                lines.push(line);
            }
        }
        assert_eq!(
            lines,
            vec![text("one line"), text("and another")],
            "cut at {cut}"
        );
    }
}

#[test]
fn only_a_final_return_is_dropped() {
    // A "\r" elsewhere stays in the raw line (the stripping removes it).
    assert_eq!(lines_of(b"a\rb\r\r\n", 64), vec![text("a\rb\r")]);
}

#[test]
fn no_line_until_its_newline() {
    assert_eq!(lines_of(b"no end yet", 3), vec![]);
}

#[test]
fn the_limit_is_exact_and_does_not_count_the_line_end() {
    let longest = "x".repeat(MAX_LINE);
    for ending in ["\n", "\r\n"] {
        let input = format!("{longest}{ending}");
        for piece in [1, 7, 4096, 5000] {
            assert_eq!(lines_of(input.as_bytes(), piece), vec![text(&longest)]);
        }
    }
    let over = format!("{longest}y\nnext\n");
    for piece in [1, 7, 4096, 5000] {
        assert_eq!(
            lines_of(over.as_bytes(), piece),
            vec![Line::TooLong, text("next")],
            "pieces of {piece}"
        );
    }
}

#[test]
fn a_long_line_is_reported_once_and_discarded_to_its_end() {
    let input = format!("before\n{}\r\nafter\n", "z".repeat(3 * MAX_LINE));
    for piece in [1, 100, 4097, 10_000] {
        assert_eq!(
            lines_of(input.as_bytes(), piece),
            vec![text("before"), Line::TooLong, text("after")],
            "pieces of {piece}"
        );
    }
}

#[test]
fn a_line_that_never_ends_is_not_buffered() {
    let mut reader = LineReader::default();
    let chunk = vec![b'a'; 1000];
    let mut reports = 0;
    for _ in 0..10_000 {
        reader.buffer.extend_from_slice(&chunk);
        while let Some(line) = reader.next_line() {
            assert_eq!(line, Line::TooLong);
            reports += 1;
        }
        assert!(
            reader.buffer.len() <= MAX_LINE + 1,
            "{}",
            reader.buffer.len()
        );
    }
    // 10 MB of one line: one error, and at most a line's worth kept.
    assert_eq!(reports, 1);
    reader.buffer.extend_from_slice(b"end of it\nhi\n");
    assert_eq!(reader.next_line(), Some(text("hi")));
}

#[test]
fn a_return_at_the_limit_waits_for_its_newline() {
    // 4096 bytes and a "\r": it may yet be a line of 4096 and "\r\n".
    let mut reader = LineReader::default();
    reader.buffer.extend_from_slice(&[b'x'; MAX_LINE]);
    reader.buffer.extend_from_slice(b"\r");
    assert_eq!(reader.next_line(), None);
    reader.buffer.extend_from_slice(b"\n");
    assert!(matches!(reader.next_line(), Some(Line::Text(line)) if line.len() == MAX_LINE));
    // But 4096 bytes and anything else is already too long.
    reader.buffer.extend_from_slice(&[b'x'; MAX_LINE]);
    reader.buffer.extend_from_slice(b"\rx");
    assert_eq!(reader.next_line(), Some(Line::TooLong));
}

#[test]
fn invalid_utf8_becomes_the_replacement_character() {
    assert_eq!(clean(b"caf\xc3\xa9 \xff\xfe!"), "café \u{fffd}\u{fffd}!");
    // A C1 control sent as one raw byte is not UTF-8: it is replaced,
    // and U+FFFD is harmless.
    assert_eq!(clean(b"a\x9bb"), "a\u{fffd}b");
}

#[test]
fn control_characters_are_stripped() {
    assert_eq!(strip_controls("a\tb\x00c\x07d\x7fe\r"), "abcde");
    assert_eq!(strip_controls("\x01\x02\x1f"), "");
    // C1 controls, as UTF-8 characters: U+0080, U+0085, U+009F.
    assert_eq!(strip_controls("x\u{80}\u{85}y\u{9f}z"), "xyz");
    // Around the ranges: kept.
    assert_eq!(strip_controls(" ~\u{a0}\u{ff}é"), " ~\u{a0}\u{ff}é");
}

#[test]
fn spaces_are_kept_as_typed() {
    assert_eq!(strip_controls("  two  spaces  "), "  two  spaces  ");
    assert_eq!(strip_controls("   "), "   ");
}

#[test]
fn csi_sequences_are_stripped_whole() {
    assert_eq!(strip_controls("\x1b[31mred\x1b[0m"), "red");
    assert_eq!(strip_controls("\x1b[2J\x1b[Hhome"), "home");
    assert_eq!(strip_controls("a\x1b[?25lb"), "ab");
    // Parameters and intermediates of any kind, up to the final byte.
    assert_eq!(strip_controls("a\x1b[1;2 !@b"), "ab");
    // The final byte can be any of 0x40-0x7e: `~` ends this one.
    assert_eq!(strip_controls("\x1b[15~key"), "key");
    // Unfinished at the end of the line: dropped to the end.
    assert_eq!(strip_controls("text\x1b[12;3"), "text");
}

#[test]
fn c1_csi_and_osc_are_stripped_whole_as_their_esc_forms() {
    // U+009B is ESC [: its parameters and final byte go with it.
    assert_eq!(strip_controls("\u{9b}31mred\u{9b}0m!"), "red!");
    assert_eq!(strip_controls("a\u{9b}2J\u{9b}Hb"), "ab");
    assert_eq!(strip_controls("text\u{9b}12;3"), "text");
    // U+009D is ESC ]: up to BEL, ESC \, or U+009C.
    assert_eq!(strip_controls("\u{9d}0;title\x07hi"), "hi");
    assert_eq!(strip_controls("\u{9d}0;title\u{9c}hi"), "hi");
    assert_eq!(strip_controls("\x1b]0;title\u{9c}hi"), "hi");
    assert_eq!(strip_controls("\u{9d}8;;http://x\x1b\\link"), "link");
}

#[test]
fn osc_sequences_are_stripped_whole() {
    assert_eq!(strip_controls("\x1b]0;evil title\x07hi"), "hi");
    assert_eq!(
        strip_controls("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"),
        "link"
    );
    // An ESC inside that does not start ESC `\` does not end it.
    assert_eq!(strip_controls("\x1b]0;a\x1bb\x07c"), "c");
    assert_eq!(strip_controls("x\x1b]0;never ends"), "x");
}

#[test]
fn other_escapes_take_one_character() {
    assert_eq!(strip_controls("a\x1bcb"), "ab"); // ESC c: reset the terminal
    assert_eq!(strip_controls("a\x1b7b\x1b8"), "ab");
    assert_eq!(strip_controls("a\x1béb"), "ab");
    assert_eq!(strip_controls("\x1b\x1b[31mx"), "[31mx"); // ESC ESC, then text
    assert_eq!(strip_controls("end\x1b"), "end");
}
