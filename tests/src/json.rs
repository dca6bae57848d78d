//! Just enough JSON to read what stage 21's server sends its web page:
//! `{"type":"line","text":"..."}` and `{"type":"members","nicks":[...]}`,
//! written by a learner's program in any language, so with any spacing and
//! key order, and any escapes JSON allows.

use std::fmt::Write as _;

/// A JSON value. Numbers are kept as their text: the chat sends none.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Its keys in the order they came.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Reads one JSON value, the whole of `text` (spaces around it aside).
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut parser = Parser {
            text: text.as_bytes(),
            at: 0,
        };
        let value = parser.value(0)?;
        parser.skip_spaces();
        if parser.at < parser.text.len() {
            return Err(format!("more after the JSON value, at byte {}", parser.at));
        }
        Ok(value)
    }

    /// The value of `key`, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.iter().find(|(name, _)| name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }
}

/// `text` as a JSON string, quotes included: what a check sends or shows.
pub fn quote(text: &str) -> String {
    let mut json = String::from("\"");
    for char in text.chars() {
        match char {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            '\n' => json.push_str("\\n"),
            '\0'..='\x1f' => {
                let _ = write!(json, "\\u{:04x}", char as u32);
            }
            _ => json.push(char),
        }
    }
    json.push('"');
    json
}

/// Nesting deeper than this is refused: no frame of the chat's is near it,
/// and a parser that recurses must not be led to overflow its stack.
const MAX_DEPTH: usize = 32;

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_spaces(&mut self) {
        while self
            .text
            .get(self.at)
            .is_some_and(|byte| b" \t\r\n".contains(byte))
        {
            self.at += 1;
        }
    }

    fn error(&self, what: &str) -> String {
        format!("{what} at byte {}", self.at)
    }

    fn eat(&mut self, byte: u8) -> Result<(), String> {
        self.skip_spaces();
        if self.text.get(self.at) == Some(&byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected '{}'", byte as char)))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deep"));
        }
        self.skip_spaces();
        match self.text.get(self.at) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Json::String),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'n') => self.word("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.at;
                while self
                    .text
                    .get(self.at)
                    .is_some_and(|byte| b"+-.eE0123456789".contains(byte))
                {
                    self.at += 1;
                }
                let number = String::from_utf8_lossy(&self.text[start..self.at]);
                Ok(Json::Number(number.into_owned()))
            }
            Some(_) => Err(self.error("not a JSON value")),
            None => Err(self.error("the text ends where a value should be")),
        }
    }

    fn word(&mut self, word: &str, value: Json) -> Result<Json, String> {
        if self.text[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("not a JSON value"))
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, String> {
        self.eat(b'{')?;
        let mut fields = Vec::new();
        self.skip_spaces();
        if self.text.get(self.at) == Some(&b'}') {
            self.at += 1;
            return Ok(Json::Object(fields));
        }
        loop {
            self.skip_spaces();
            let key = self.string()?;
            self.eat(b':')?;
            fields.push((key, self.value(depth + 1)?));
            self.skip_spaces();
            match self.text.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Json::Object(fields));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, String> {
        self.eat(b'[')?;
        let mut items = Vec::new();
        self.skip_spaces();
        if self.text.get(self.at) == Some(&b']') {
            self.at += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_spaces();
            match self.text.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    /// A string, its escapes undone; `\u` escapes may be surrogate pairs.
    fn string(&mut self) -> Result<String, String> {
        if self.text.get(self.at) != Some(&b'"') {
            return Err(self.error("expected a string"));
        }
        self.at += 1;
        let mut bytes = Vec::new();
        loop {
            let Some(&byte) = self.text.get(self.at) else {
                return Err(self.error("a string that does not end"));
            };
            self.at += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    let Some(&escape) = self.text.get(self.at) else {
                        return Err(self.error("a string that does not end"));
                    };
                    self.at += 1;
                    let char = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\x08',
                        b'f' => '\x0c',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(self.error("an unknown escape")),
                    };
                    let mut buffer = [0; 4];
                    bytes.extend_from_slice(char.encode_utf8(&mut buffer).as_bytes());
                }
                0..=0x1f => return Err(self.error("a control character inside a string")),
                _ => bytes.push(byte),
            }
        }
        String::from_utf8(bytes).map_err(|_| self.error("a string that is not UTF-8"))
    }

    /// After `\u`: four hex digits, and for a high surrogate the `\uXXXX`
    /// of its low one.
    fn unicode_escape(&mut self) -> Result<char, String> {
        let first = self.hex4()?;
        let code = if (0xd800..0xdc00).contains(&first) {
            if !self.text[self.at..].starts_with(b"\\u") {
                return Err(self.error("a lone surrogate"));
            }
            self.at += 2;
            let second = self.hex4()?;
            if !(0xdc00..0xe000).contains(&second) {
                return Err(self.error("a lone surrogate"));
            }
            0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.error("a lone surrogate"))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| u32::from_str_radix(digits, 16).ok())
            .ok_or_else(|| self.error("\\u without four hex digits"))?;
        self.at += 4;
        Ok(digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chats_frames_with_any_spacing_and_key_order() {
        let line = Json::parse(r#" { "text" : "bob> hi", "type":"line" } "#).unwrap();
        assert_eq!(line.get("type").and_then(Json::as_str), Some("line"));
        assert_eq!(line.get("text").and_then(Json::as_str), Some("bob> hi"));
        let members = Json::parse(r#"{"type":"members","nicks":["a", "b"]}"#).unwrap();
        let nicks: Vec<&str> = members
            .get("nicks")
            .and_then(Json::as_array)
            .unwrap()
            .iter()
            .filter_map(Json::as_str)
            .collect();
        assert_eq!(nicks, ["a", "b"]);
    }

    #[test]
    fn escapes_are_undone() {
        let text = r#""q\" b\\ s\/ \n \u00e9 \ud83d\ude00 zoë""#;
        assert_eq!(
            Json::parse(text).unwrap(),
            Json::String("q\" b\\ s/ \n é 😀 zoë".to_string())
        );
        assert_eq!(
            Json::parse(&quote("a\"b\\c\u{1}")).unwrap(),
            Json::String("a\"b\\c\u{1}".to_string())
        );
    }

    #[test]
    fn what_is_not_json_is_refused() {
        for text in [
            "",
            "{",
            r#"{"a" 1}"#,
            r#"{"a":1,}"#,
            "[1 2]",
            r#""no end"#,
            "\"a\u{1}\"",
            r#""\ud800""#,
            "{} {}",
            "nul",
        ] {
            assert!(Json::parse(text).is_err(), "{text:?} was taken");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(Json::parse(&deep).is_err());
    }
}
