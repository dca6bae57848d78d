//! Stage 21's web port as the tester uses it: a plain HTTP GET (the page),
//! and a WebSocket client that sends lines as text frames and reads the
//! server's JSON frames, `{"type":"line","text":"..."}` and
//! `{"type":"members","nicks":[...]}`, with any spacing and key order.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tungstenite::{Message, WebSocket};

use crate::check::Failure;
use crate::client::REPLY_TIMEOUT;
use crate::escape::escape_shortened;
use crate::json::{Json, quote};

/// The most of a response the tester reads: a page is a few KiB.
const MAX_RESPONSE: usize = 1024 * 1024;

/// An HTTP response, as far as a check looks at it.
pub struct Response {
    /// `200` in `HTTP/1.1 200 OK`.
    pub status: u16,
    /// The status line and headers, as sent.
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    /// A header's value (names are case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// `GET path` on a connection of its own, read until the server closes it
/// or the body has its `Content-Length`.
pub fn get(address: SocketAddr, path: &str) -> Result<Response, Failure> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    let sent = || escape_shortened(request.as_bytes(), 200);
    let mut stream = TcpStream::connect_timeout(&address, REPLY_TIMEOUT).map_err(|error| {
        Failure::new(format!(
            "could not connect to the web port {address}: {error}"
        ))
        .hint("The server must serve its page on the port --web-port N names.")
    })?;
    let _ = stream.set_read_timeout(Some(REPLY_TIMEOUT));
    stream
        .write_all(request.as_bytes())
        .map_err(|error| Failure::new(format!("could not send a request: {error}")))?;
    let mut received = Vec::new();
    let mut chunk = [0u8; 8192];
    let deadline = Instant::now() + 2 * REPLY_TIMEOUT;
    let complete = |received: &[u8]| {
        let end = received.windows(4).position(|four| four == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&received[..end]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))?
            .trim()
            .parse()
            .ok()?;
        (received.len() >= end + 4 + length).then_some(())
    };
    while complete(&received).is_none() && received.len() < MAX_RESPONSE {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => received.extend_from_slice(&chunk[..read]),
            Err(error) if Instant::now() < deadline && error.kind() == ErrorKind::Interrupted => {}
            Err(error) => {
                return Err(Failure::new(format!(
                    "no whole HTTP response to GET {path} within {} s: {error}",
                    REPLY_TIMEOUT.as_secs()
                ))
                .detail("sent", sent())
                .detail("received", escape_shortened(&received, 200))
                .hint(
                    "Answer with a status line, headers, a blank line and the body; say the \
                     body's length (Content-Length) or close the connection after it.",
                ));
            }
        }
    }
    let Some(end) = received.windows(4).position(|four| four == b"\r\n\r\n") else {
        return Err(Failure::new(format!("no HTTP response to GET {path}"))
            .detail("sent", sent())
            .detail("received", escape_shortened(&received, 200))
            .hint("An HTTP response starts `HTTP/1.1 200 OK\\r\\n`, then headers, then \\r\\n."));
    };
    let head = String::from_utf8_lossy(&received[..end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .filter(|_| head.starts_with("HTTP/1."))
        .ok_or_else(|| {
            Failure::new(format!(
                "not an HTTP status line in the answer to GET {path}"
            ))
            .detail("received", escape_shortened(&received, 200))
        })?;
    Ok(Response {
        status,
        head,
        body: received[end + 4..].to_vec(),
    })
}

/// What the server sent in one text frame.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// `{"type":"line","text":"..."}`
    Line(String),
    /// `{"type":"members","nicks":[...]}`
    Members(Vec<String>),
}

/// A browser's part, without the browser: a WebSocket on `/ws`.
pub struct WebClient {
    socket: WebSocket<TcpStream>,
    /// "web client 2 (on A)": how reports name it.
    pub name: String,
    /// Line frames read while looking for a members frame: the next
    /// [`WebClient::expect_line`] takes them first.
    lines_aside: VecDeque<String>,
    /// Every frame received, as sent, for reports.
    received: Vec<String>,
}

impl WebClient {
    /// Opens a WebSocket to `ws://ADDRESS/ws`.
    pub fn connect(address: SocketAddr, name: String) -> Result<WebClient, Failure> {
        let stream = TcpStream::connect_timeout(&address, REPLY_TIMEOUT).map_err(|error| {
            Failure::new(format!(
                "{name} could not connect to the web port {address}: {error}"
            ))
        })?;
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(REPLY_TIMEOUT));
        let _ = stream.set_write_timeout(Some(REPLY_TIMEOUT));
        let url = format!("ws://{address}/ws");
        let (socket, _) = tungstenite::client(url.as_str(), stream).map_err(|error| {
            Failure::new(format!(
                "{name}: the WebSocket handshake on GET /ws failed: {error}"
            ))
            .hint(
                "GET /ws with `Upgrade: websocket` and a `Sec-WebSocket-Key` is answered \
                     `HTTP/1.1 101 Switching Protocols` with `Upgrade: websocket`, `Connection: \
                     Upgrade` and `Sec-WebSocket-Accept`: base64 of the SHA-1 of the key followed \
                     by 258EAFA5-E914-47DA-95CA-C5AB0DC85B11 (RFC 6455).",
            )
        })?;
        Ok(WebClient {
            socket,
            name,
            lines_aside: VecDeque::new(),
            received: Vec::new(),
        })
    }

    /// Sends `text` as one text frame, as the page sends a typed line.
    pub fn send(&mut self, text: &str) -> Result<(), Failure> {
        self.socket
            .send(Message::text(text))
            .map_err(|error| Failure::new(format!("{} could not send a frame: {error}", self.name)))
    }

    /// The next frame, within `wait`: `Ok(None)` when none came.
    fn next_frame(&mut self, wait: Duration) -> Result<Option<Frame>, Failure> {
        let deadline = Instant::now() + wait;
        loop {
            let message = match self.socket.read() {
                Ok(message) => message,
                Err(tungstenite::Error::Io(error))
                    if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                    continue;
                }
                Err(error) => {
                    return Err(self.failure(format!(
                        "{}'s WebSocket closed or broke: {error}",
                        self.name
                    )));
                }
            };
            let text = match message {
                Message::Text(text) => text.to_string(),
                Message::Close(_) => {
                    return Err(
                        self.failure(format!("the server closed {}'s WebSocket", self.name))
                    );
                }
                // Ping, pong: tungstenite answers; binary: not the chat's.
                _ => continue,
            };
            self.received.push(text.clone());
            return parse_frame(&text).map(Some).map_err(|problem| {
                self.failure(format!(
                    "{} received a frame that is not the chat's: {problem}",
                    self.name
                ))
                .hint(
                    "Every frame the server sends is a text frame of JSON: \
                         {\"type\":\"line\",\"text\":\"...\"} or \
                         {\"type\":\"members\",\"nicks\":[\"a\",\"b\"]}.",
                )
            });
        }
    }

    /// Expects the next line frame (members frames are skipped) to be
    /// `expected`.
    pub fn expect_line(&mut self, expected: &str) -> Result<(), Failure> {
        let line = match self.lines_aside.pop_front() {
            Some(line) => line,
            None => loop {
                match self.next_frame(REPLY_TIMEOUT)? {
                    Some(Frame::Line(line)) => break line,
                    Some(Frame::Members(_)) => continue,
                    None => {
                        return Err(self
                            .failure(format!(
                                "{} waited {} s for a line frame, and none came",
                                self.name,
                                REPLY_TIMEOUT.as_secs()
                            ))
                            .detail("expected", line_frame(expected)));
                    }
                }
            },
        };
        if line == expected {
            Ok(())
        } else {
            Err(self
                .failure(format!("{} received another line than expected", self.name))
                .detail("expected", line_frame(expected))
                .detail("got", line_frame(&line)))
        }
    }

    /// Expects the next line frame to start with `start`; returns it.
    pub fn expect_line_starting(&mut self, start: &str) -> Result<String, Failure> {
        let line = loop {
            if let Some(line) = self.lines_aside.pop_front() {
                break line;
            }
            match self.next_frame(REPLY_TIMEOUT)? {
                Some(Frame::Line(line)) => break line,
                Some(Frame::Members(_)) => continue,
                None => {
                    return Err(self.failure(format!(
                        "{} waited {} s for a line starting \"{start}\", and none came",
                        self.name,
                        REPLY_TIMEOUT.as_secs()
                    )));
                }
            }
        };
        if line.starts_with(start) {
            Ok(line)
        } else {
            Err(self
                .failure(format!("{} received another line than expected", self.name))
                .detail("expected", format!("a line starting {}", quote(start)))
                .detail("got", line_frame(&line)))
        }
    }

    /// Reads frames until a members frame lists exactly `expected` (in any
    /// order): the list may change in steps on the way. Line frames read
    /// meanwhile are kept for [`WebClient::expect_line`].
    pub fn expect_members(&mut self, expected: &[String]) -> Result<(), Failure> {
        let mut wanted = expected.to_vec();
        wanted.sort();
        let deadline = Instant::now() + 2 * REPLY_TIMEOUT;
        let mut last = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_frame(left)? {
                Some(Frame::Line(line)) => self.lines_aside.push_back(line),
                Some(Frame::Members(mut nicks)) => {
                    nicks.sort();
                    if nicks == wanted {
                        return Ok(());
                    }
                    last = Some(nicks);
                }
                None => {
                    let seen = match last {
                        Some(nicks) => members_frame(&nicks),
                        None => "no members frame".to_string(),
                    };
                    return Err(self
                        .failure(format!(
                            "{} waited {} s for a members frame that lists who is online",
                            self.name,
                            (2 * REPLY_TIMEOUT).as_secs()
                        ))
                        .detail("expected", members_frame(&wanted))
                        .detail("last seen", seen)
                        .hint(
                            "Send {\"type\":\"members\",\"nicks\":[...]} to each web client when \
                             it joins and after every notice of a join, a leave or a new nick, \
                             whichever process its user is on: every nick online, in any order.",
                        ));
                }
            }
        }
    }

    /// Expects the server to close the WebSocket (a close frame, or the
    /// connection's end) before any other frame.
    pub fn expect_closed(&mut self) -> Result<(), Failure> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            match self.socket.read() {
                Ok(Message::Close(_)) | Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
                Err(tungstenite::Error::Io(error))
                    if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    if Instant::now() >= deadline {
                        return Err(self.failure(format!(
                            "{}'s WebSocket is still open {} s later",
                            self.name,
                            REPLY_TIMEOUT.as_secs()
                        )));
                    }
                }
                // A reset or a cut connection: closed too.
                Err(_) => return Ok(()),
                Ok(Message::Text(text)) => {
                    self.received.push(text.to_string());
                    return Err(self.failure(format!(
                        "{} received a frame where the WebSocket should close",
                        self.name
                    )));
                }
                Ok(_) => {}
            }
        }
    }

    /// A failure that shows the last frames this client received.
    fn failure(&self, problem: String) -> Failure {
        let shown: Vec<String> = self
            .received
            .iter()
            .rev()
            .take(8)
            .rev()
            .map(|text| escape_shortened(text.as_bytes(), 120))
            .collect();
        let received = if shown.is_empty() {
            "(no frame)".to_string()
        } else {
            shown.join("\n")
        };
        Failure::new(problem).detail("frames", received)
    }
}

/// `{"type":"line","text":"..."}` as a check shows what it expects.
pub fn line_frame(text: &str) -> String {
    format!("{{\"type\":\"line\",\"text\":{}}}", quote(text))
}

/// `{"type":"members","nicks":[...]}` as a check shows it.
pub fn members_frame(nicks: &[String]) -> String {
    let quoted: Vec<String> = nicks.iter().map(|nick| quote(nick)).collect();
    format!("{{\"type\":\"members\",\"nicks\":[{}]}}", quoted.join(","))
}

/// A frame's JSON, read: a line or a member list, or what is wrong.
pub fn parse_frame(text: &str) -> Result<Frame, String> {
    let json = Json::parse(text)?;
    match json.get("type").and_then(Json::as_str) {
        Some("line") => json
            .get("text")
            .and_then(Json::as_str)
            .map(|text| Frame::Line(text.to_string()))
            .ok_or_else(|| "a line frame without a \"text\" string".to_string()),
        Some("members") => {
            let nicks = json
                .get("nicks")
                .and_then(Json::as_array)
                .ok_or("a members frame without a \"nicks\" array")?;
            let nicks: Option<Vec<String>> = nicks
                .iter()
                .map(|nick| nick.as_str().map(str::to_string))
                .collect();
            nicks
                .map(Frame::Members)
                .ok_or_else(|| "a \"nicks\" array with something not a string in it".to_string())
        }
        Some(other) => Err(format!("an unknown \"type\": {}", quote(other))),
        None => Err("no \"type\" string".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read_whatever_their_spacing() {
        assert_eq!(
            parse_frame(r#"{"type": "line", "text": "a \"b\""}"#),
            Ok(Frame::Line("a \"b\"".to_string()))
        );
        assert_eq!(
            parse_frame(r#"{"nicks":["x","y"],"type":"members"}"#),
            Ok(Frame::Members(vec!["x".to_string(), "y".to_string()]))
        );
        assert!(parse_frame(r#"{"type":"line"}"#).is_err());
        assert!(parse_frame(r#"{"type":"members","nicks":[1]}"#).is_err());
        assert!(parse_frame("Welcome, user1!").is_err());
    }

    #[test]
    fn what_a_check_expects_is_shown_as_json() {
        assert_eq!(line_frame("a\"b"), r#"{"type":"line","text":"a\"b"}"#);
        let nicks = ["a".to_string(), "b".to_string()];
        assert_eq!(
            members_frame(&nicks),
            r#"{"type":"members","nicks":["a","b"]}"#
        );
    }
}
