//! Bytes shown to a human: escaped the way Rust and RESP docs write them
//! (`\r\n`, `\0`, `\x07`), with a caret under the first byte that differs.

/// `+PONG\r\n` for the bytes `+PONG` CR LF: printable ASCII as itself,
/// everything else as an escape, so that a missing `\r` is visible.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        escape_byte_into(byte, &mut out);
    }
    out
}

fn escape_byte_into(byte: u8, out: &mut String) {
    match byte {
        b'\r' => out.push_str("\\r"),
        b'\n' => out.push_str("\\n"),
        b'\t' => out.push_str("\\t"),
        b'\0' => out.push_str("\\0"),
        b'\\' => out.push_str("\\\\"),
        b'"' => out.push_str("\\\""),
        0x20..=0x7e => out.push(byte as char),
        _ => out.push_str(&format!("\\x{byte:02x}")),
    }
}

/// Like [`escape`], but long input is cut in the middle so that a 1 MB value
/// does not fill the screen: the first and last `keep` bytes are shown.
pub fn escape_shortened(bytes: &[u8], keep: usize) -> String {
    if bytes.len() <= keep * 2 {
        return escape(bytes);
    }
    format!(
        "{} ... ({} bytes in all) ... {}",
        escape(&bytes[..keep]),
        bytes.len(),
        escape(&bytes[bytes.len() - keep..])
    )
}

/// The index of the first byte where `got` differs from `expected`, or
/// `None` when they are equal. A `got` that is a strict prefix of `expected`
/// (or the reverse) differs at the end of the shorter one.
pub fn first_difference(expected: &[u8], got: &[u8]) -> Option<usize> {
    if expected == got {
        return None;
    }
    let common = expected.iter().zip(got).take_while(|(e, g)| e == g).count();
    Some(common)
}

/// Two aligned lines, `expected:` and `got:`, and a caret under the first
/// wrong byte, e.g.
///
/// ```text
/// expected: +PONG\r\n
/// got:      +PONG\n
///                ^ first difference: byte 5, expected \r, got \n
/// ```
///
/// Both are cut to a window around the difference when they are long.
pub fn caret_diff(expected: &[u8], got: &[u8]) -> String {
    let Some(at) = first_difference(expected, got) else {
        return format!("expected: {}\ngot:      (the same)", escape(expected));
    };
    // Show from a little before the difference, so the caret stays on screen.
    const BEFORE: usize = 24;
    const AFTER: usize = 40;
    let start = at.saturating_sub(BEFORE);
    let window = |bytes: &[u8]| {
        let end = bytes.len().min(at + AFTER);
        let mut shown = String::new();
        if start > 0 {
            shown.push_str("...");
        }
        let body = if start < bytes.len() {
            escape(&bytes[start..end])
        } else {
            String::new()
        };
        shown.push_str(&body);
        if end < bytes.len() {
            shown.push_str("...");
        }
        shown
    };
    let prefix_width = if start > 0 { 3 } else { 0 } + escape(&got[start..at.min(got.len())]).len();
    let describe = |bytes: &[u8]| match bytes.get(at) {
        Some(&byte) => escape(&[byte]),
        None => "nothing (the bytes end here)".to_string(),
    };
    format!(
        "expected: {}\ngot:      {}\n          {}^ first difference: byte {}, expected {}, got {}",
        window(expected),
        window(got),
        " ".repeat(prefix_width),
        at,
        describe(expected),
        describe(got),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_bytes_and_keeps_text() {
        assert_eq!(escape(b"+PONG\r\n"), "+PONG\\r\\n");
        assert_eq!(escape(b"a\0\x07\xff\"\\"), "a\\0\\x07\\xff\\\"\\\\");
    }

    #[test]
    fn caret_points_at_the_missing_carriage_return() {
        let shown = caret_diff(b"+PONG\r\n", b"+PONG\n");
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines[0], "expected: +PONG\\r\\n");
        assert_eq!(lines[1], "got:      +PONG\\n");
        let caret = lines[2].find('^').unwrap();
        assert_eq!(&lines[1][caret..caret + 2], "\\n");
        assert!(lines[2].contains("byte 5, expected \\r, got \\n"));
    }

    #[test]
    fn caret_after_a_reply_that_stops_short() {
        let shown = caret_diff(b"+PONG\r\n", b"+PO");
        assert!(
            shown.contains("got nothing (the bytes end here)"),
            "{shown}"
        );
    }

    #[test]
    fn long_values_are_cut_around_the_difference() {
        let mut expected = vec![b'a'; 1000];
        let mut got = expected.clone();
        got[700] = b'b';
        expected.extend_from_slice(b"\r\n");
        got.extend_from_slice(b"\r\n");
        let shown = caret_diff(&expected, &got);
        assert!(shown.lines().all(|line| line.len() < 120), "{shown}");
        let lines: Vec<&str> = shown.lines().collect();
        let caret = lines[2].find('^').unwrap();
        assert_eq!(&lines[1][caret..caret + 1], "b");
    }

    #[test]
    fn no_difference_when_equal() {
        assert_eq!(first_difference(b"abc", b"abc"), None);
        assert_eq!(first_difference(b"abc", b"abd"), Some(2));
        assert_eq!(first_difference(b"abc", b"ab"), Some(2));
    }
}
