//! The chat stages' line protocol as the tester sees it: text lines, each ending
//! in `\n` alone (the server never sends `\r\n`).

use crate::escape::escape_shortened;
use crate::frame::{Frame, Parsed};

/// The longest line the tester waits for before calling it broken.
const MAX_LINE: usize = 64 * 1024;

/// One line, without its `\n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line(pub Vec<u8>);

impl Line {
    pub fn new(text: impl AsRef<[u8]>) -> Line {
        Line(text.as_ref().to_vec())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl Frame for Line {
    const PROTOCOL: &'static str = "line";
    const ONE_REPLY_PER_REQUEST: bool = false;

    fn parse(buffer: &[u8]) -> Parsed<Line> {
        match buffer.iter().position(|&byte| byte == b'\n') {
            Some(end) if end > 0 && buffer[end - 1] == b'\r' => Parsed::Invalid {
                at: end - 1,
                reason: "the server's lines end with \\n alone, not \\r\\n".to_string(),
            },
            Some(end) => Parsed::Complete {
                value: Line(buffer[..end].to_vec()),
                length: end + 1,
            },
            None if buffer.len() > MAX_LINE => Parsed::Invalid {
                at: MAX_LINE,
                reason: "a line of over 64 KB with no end".to_string(),
            },
            None => Parsed::Incomplete,
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut bytes = self.0.clone();
        bytes.push(b'\n');
        bytes
    }

    fn kind(&self) -> &'static str {
        "line"
    }

    fn describe(&self) -> String {
        format!("the line \"{}\"", escape_shortened(&self.0, 60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_end_in_a_newline_alone() {
        assert_eq!(
            Line::parse(b"* bye\nrest"),
            Parsed::Complete {
                value: Line::new("* bye"),
                length: 6
            }
        );
        assert_eq!(Line::parse(b"* by"), Parsed::Incomplete);
        assert!(matches!(
            Line::parse(b"* bye\r\n"),
            Parsed::Invalid { at: 5, .. }
        ));
    }
}
