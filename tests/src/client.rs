//! A test client: one TCP connection to the server under test, with a
//! timeout on every connect and read, and expectations that judge replies
//! byte by byte.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::check::Failure;
use crate::escape::{caret_diff, escape_shortened};
use crate::frame::{Frame, Parsed};
use crate::resp::{self, Reply};

/// How long a reply may take before the check fails.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// The most the tester buffers from one connection: a server that streams
/// without end is reported, not followed into the tester's memory.
pub const MAX_RECEIVED: usize = 64 * 1024 * 1024;
/// How long the tester listens for bytes that should not come.
pub const EXTRA_DATA_WAIT: Duration = Duration::from_millis(100);

pub struct Client {
    stream: TcpStream,
    /// "client 2": how reports name this connection.
    pub name: String,
    /// Bytes received and not yet matched to an expectation.
    received: Vec<u8>,
    /// What was sent since the last reply was matched, for reports.
    sent: Vec<u8>,
    /// How it was sent: "in one write", "in 14 writes".
    writes: usize,
    /// A reply to what was sent has been matched.
    answered: bool,
    /// How many replies (or lines) this connection has received whole.
    taken: usize,
    /// The protocol of that reply has one reply per request: bytes still
    /// here when the next request goes are a reply too many.
    one_reply_per_request: bool,
}

/// Why no whole reply could be taken off the buffer.
enum Missing {
    /// The bytes are not valid in the protocol: why.
    Invalid(String),
    /// The bytes already differ from the exact reply expected.
    Diverged,
    TimedOut,
    /// Closed by the server, or broken: how.
    Closed(String),
}

/// What one read brought.
enum Arrival {
    Bytes,
    Closed(String),
    TimedOut,
}

impl Client {
    pub fn connect(address: SocketAddr, name: String) -> Result<Client, Failure> {
        let stream = TcpStream::connect_timeout(&address, REPLY_TIMEOUT).map_err(|error| {
            let failure = Failure::new(format!("{name} could not connect to {address}: {error}"));
            // EMFILE: this process may open no more files (sockets are files).
            if error.raw_os_error() == Some(24) {
                failure.hint(
                    "The tester itself ran out of file descriptors. Raise the limit in this shell \
                     (`ulimit -n 4096`) and run again.",
                )
            } else {
                failure.hint(
                    "The server accepted connections when it started; has it stopped, or stopped \
                     accepting (out of file descriptors? `ulimit -n`)? See its output below.",
                )
            }
        })?;
        // Send each write at once: a check that splits a command into pieces
        // means it.
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(REPLY_TIMEOUT));
        Ok(Client {
            stream,
            name,
            received: Vec::new(),
            sent: Vec::new(),
            writes: 0,
            answered: false,
            taken: 0,
            one_reply_per_request: false,
        })
    }

    /// Sends `bytes` in one write.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        if self.answered {
            if self.one_reply_per_request {
                self.expect_no_more_replies()?;
            }
            self.sent.clear();
            self.writes = 0;
            self.answered = false;
        }
        self.sent.extend_from_slice(bytes);
        self.writes += 1;
        self.stream.write_all(bytes).map_err(|error| {
            Failure::new(format!("{} could not send: {error}", self.name))
                .detail("sending", escape_shortened(bytes, 60))
                .hint(
                    "The server closed the connection (or crashed) before the tester had sent \
                     everything: see its output below.",
                )
        })
    }

    /// Sends `bytes` in pieces of the given sizes, pausing between them so
    /// that each piece arrives on its own.
    pub fn send_in_pieces(
        &mut self,
        bytes: &[u8],
        sizes: &[usize],
        pause: Duration,
    ) -> Result<(), Failure> {
        let mut offset = 0;
        for (i, &size) in sizes.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(pause);
            }
            let end = (offset + size).min(bytes.len());
            self.send(&bytes[offset..end])?;
            offset = end;
        }
        if offset < bytes.len() {
            self.send(&bytes[offset..])?;
        }
        Ok(())
    }

    /// Expects exactly `expected` as the next reply.
    pub fn expect<F: Frame>(&mut self, expected: &F) -> Result<(), Failure> {
        self.expect_numbered(expected, None)
    }

    /// Expects these replies, in order (e.g. one per pipelined command).
    pub fn expect_all<F: Frame>(&mut self, expected: &[F]) -> Result<(), Failure> {
        for (i, reply) in expected.iter().enumerate() {
            self.expect_numbered(reply, Some((i + 1, expected.len())))?;
        }
        Ok(())
    }

    fn expect_numbered<F: Frame>(
        &mut self,
        expected: &F,
        position: Option<(usize, usize)>,
    ) -> Result<(), Failure> {
        // "reply 2 of 5: " when several replies are expected together.
        let which = match position {
            Some((n, of)) if of > 1 => format!("reply {n} of {of}: "),
            _ => String::new(),
        };
        let expected_bytes = expected.encode();
        let (reply, length) = self
            .next_frame::<F>(Some(&expected_bytes))
            .map_err(|missing| {
                self.missing_reply::<F>(
                    missing,
                    &which,
                    &expected.describe(),
                    Some(&expected_bytes),
                )
            })?;
        let got_bytes = self.received[..length].to_vec();
        if reply == *expected && got_bytes == expected_bytes {
            self.take::<F>(length);
            return Ok(());
        }
        if reply == *expected {
            // The same value, written otherwise (`$05` for `$5`).
            return Err(self
                .failure_with_sent(format!(
                    "{which}the right value, {}, but not written byte for byte as expected",
                    expected.describe()
                ))
                .block(caret_diff(&expected_bytes, &got_bytes)));
        }
        let problem = if reply.kind() != expected.kind() {
            format!(
                "{which}expected {}, got {}",
                expected.describe(),
                reply.describe()
            )
        } else {
            format!(
                "{which}wrong reply: expected {}, got {}",
                expected.describe(),
                reply.describe()
            )
        };
        let mut failure = self
            .failure_with_sent(problem)
            .block(caret_diff(&expected_bytes, &got_bytes));
        if let Some(hint) = F::mismatch_hint(expected, &reply) {
            failure = failure.hint(hint);
        }
        Err(failure)
    }

    /// Reads until the buffer starts with a whole reply: the reply and its
    /// length (still in the buffer). With `expected`, bytes that already
    /// differ from it end the wait at once: they cannot become it, and
    /// there is no point in waiting for (or buffering) the rest.
    fn next_frame<F: Frame>(&mut self, expected: Option<&[u8]>) -> Result<(F, usize), Missing> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            match F::parse(&self.received) {
                Parsed::Complete { value, length } => return Ok((value, length)),
                Parsed::Invalid { reason, .. } => return Err(Missing::Invalid(reason)),
                Parsed::Incomplete => {
                    if let Some(expected) = expected {
                        if let Some(at) = crate::escape::first_difference(expected, &self.received)
                        {
                            if at < self.received.len() && at < expected.len() {
                                return Err(Missing::Diverged);
                            }
                        }
                    }
                }
            }
            match self.read_more(deadline) {
                Arrival::Bytes => {}
                Arrival::TimedOut => return Err(Missing::TimedOut),
                Arrival::Closed(how) => return Err(Missing::Closed(how)),
            }
        }
    }

    /// Takes a matched reply off the buffer.
    fn take<F: Frame>(&mut self, length: usize) {
        self.received.drain(..length);
        self.answered = true;
        self.taken += 1;
        self.one_reply_per_request = F::ONE_REPLY_PER_REQUEST;
    }

    /// Before the next request: the bytes that arrived after the last reply
    /// (without waiting for more) must be none, or they would be taken for
    /// the next request's reply and blamed on it.
    fn expect_no_more_replies(&mut self) -> Result<(), Failure> {
        if self.received.is_empty() && self.stream.set_nonblocking(true).is_ok() {
            let mut chunk = [0u8; 64 * 1024];
            while self.received.len() < MAX_RECEIVED {
                match self.stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => self.received.extend_from_slice(&chunk[..n]),
                }
            }
            let _ = self.stream.set_nonblocking(false);
        }
        if self.received.is_empty() {
            return Ok(());
        }
        Err(self
            .failure_with_sent(format!(
                "your server sent more than one reply to {}: these bytes came after its reply, \
                 before the next command was sent",
                self.sent_summary()
            ))
            .detail(
                "extra",
                format!(
                    "{}{}",
                    escape_shortened(&self.received, 60),
                    describe_replies(&self.received)
                ),
            )
            .hint(
                "One command, one reply. A reader that splits the stream into lines takes each \
                 line of a value that holds \\n for a command of its own: read a bulk string's \
                 declared number of bytes, whatever they hold.",
            ))
    }

    /// The failure for a reply that never arrived whole: broken, diverging,
    /// late, or cut off by a close. `wanted` says what was due in words;
    /// `expected_bytes` are its exact bytes, when the check knows them.
    fn missing_reply<F: Frame>(
        &self,
        missing: Missing,
        which: &str,
        wanted: &str,
        expected_bytes: Option<&[u8]>,
    ) -> Failure {
        // What arrived, set against what was due when that is known.
        let with_received = |failure: Failure| match expected_bytes {
            Some(bytes) => {
                let end = self.received.len().min(bytes.len() + 40);
                failure.block(caret_diff(bytes, &self.received[..end]))
            }
            None => failure.detail("got", escape_shortened(&self.received, 60)),
        };
        let expected_line = match expected_bytes {
            Some(bytes) => format!("{wanted} ({})", escape_shortened(bytes, 60)),
            None => wanted.to_string(),
        };
        match missing {
            Missing::Invalid(reason) => {
                let failure = with_received(
                    self.failure_with_sent(format!(
                        "{which}the reply is not valid {}: {reason}",
                        F::PROTOCOL
                    ))
                    .detail("wanted", wanted.to_string()),
                );
                match F::PROTOCOL {
                    "RESP" if reason.contains("\\n alone") => failure.cause(
                        "Every line of a RESP reply ends with \\r\\n, and this one ends with \\n \
                         alone: write \"\\r\\n\" yourself (print() and println add \\n only).",
                    ),
                    "RESP" => failure.cause(
                        "These bytes are not a RESP reply at all: compare them with the expected \
                         bytes, from the caret on.",
                    ),
                    _ => failure,
                }
            }
            Missing::Diverged => with_received(self.failure_with_sent(format!(
                "{which}wrong reply: expected {wanted}, and these bytes differ"
            ))),
            // A connection that has received before, with nothing asked
            // since (or where lines come unasked): it stopped receiving.
            Missing::TimedOut
                if self.received.is_empty()
                    && self.taken > 0
                    && (self.sent.is_empty() || !F::ONE_REPLY_PER_REQUEST) =>
            {
                let mut failure = Failure::new(format!(
                    "{which}nothing more arrived within {} s: {} had received {} {}{} before",
                    REPLY_TIMEOUT.as_secs(),
                    self.name,
                    self.taken,
                    F::PROTOCOL,
                    if F::PROTOCOL == "line" {
                        "s"
                    } else {
                        " replies"
                    },
                ))
                .detail("expected", expected_line)
                .detail("got", "nothing");
                failure.timed_out = true;
                failure
            }
            Missing::TimedOut if self.received.is_empty() && self.sent.is_empty() => self
                .failure_with_sent(format!(
                    "{which}nothing arrived within {} s of connecting (the client sent nothing)",
                    REPLY_TIMEOUT.as_secs()
                ))
                .detail("expected", expected_line)
                .detail("got", "nothing")
                .hint(
                    "A server that speaks first must write as soon as it accepts the client. \
                     Did it write to this connection, and flush?",
                ),
            Missing::TimedOut if self.received.is_empty() => self
                .failure_with_sent(format!(
                    "{which}no reply within {} s after sending {}",
                    REPLY_TIMEOUT.as_secs(),
                    self.sent_summary()
                ))
                .detail("expected", expected_line)
                .detail("got", "nothing")
                .hint(
                    "Did your server read the whole command, and write its reply to this \
                     connection? If it buffers its writes, does it flush them?",
                ),
            Missing::TimedOut => with_received(self.failure_with_sent(format!(
                "{which}incomplete reply: {} s after sending, these bytes had arrived and no more",
                REPLY_TIMEOUT.as_secs()
            )))
            .hint("Does every line of your reply end with \r\n? Is a length prefix right?"),
            Missing::Closed(how) => {
                let failure = if self.received.is_empty() {
                    self.failure_with_sent(format!(
                        "{which}the connection was {how} before any reply arrived"
                    ))
                    .detail("expected", expected_line)
                } else {
                    with_received(self.failure_with_sent(format!(
                        "{which}the connection was {how} in the middle of a reply"
                    )))
                };
                failure.hint(
                    "Your program closed the connection, or crashed (see its output below), or \
                     sent only part of its reply.",
                )
            }
        }
    }

    /// Sends a command as redis-cli would (an array of bulk strings) and
    /// expects `expected` back.
    pub fn command(&mut self, args: &[&[u8]], expected: &Reply) -> Result<(), Failure> {
        self.send(&resp::command(args))?;
        self.expect(expected)
    }

    /// Expects a reply that `accepts` takes (for replies whose exact bytes
    /// are the server's own business, such as `COMMAND DOCS`), described in
    /// words by `wanted`.
    pub fn expect_matching<F: Frame>(
        &mut self,
        wanted: &str,
        accepts: fn(&F) -> bool,
    ) -> Result<F, Failure> {
        let (reply, length) = self
            .next_frame::<F>(None)
            .map_err(|missing| self.missing_reply::<F>(missing, "", wanted, None))?;
        if !accepts(&reply) {
            return Err(self
                .failure_with_sent(format!("expected {wanted}, got {}", reply.describe()))
                .detail("got", escape_shortened(&self.received[..length], 60)));
        }
        self.take::<F>(length);
        Ok(reply)
    }

    /// Expects an array holding exactly `expected`, in any order (KEYS
    /// answers in the order of the server's own hash table).
    pub fn expect_unordered(&mut self, expected: &[Reply]) -> Result<(), Failure> {
        let reply =
            self.expect_matching("an array", |reply: &Reply| matches!(reply, Reply::Array(_)))?;
        let Reply::Array(mut got) = reply else {
            return Ok(());
        };
        let mut missing = Vec::new();
        for item in expected {
            match got.iter().position(|g| g == item) {
                Some(i) => {
                    got.swap_remove(i);
                }
                None => missing.push(item.describe()),
            }
        }
        if missing.is_empty() && got.is_empty() {
            return Ok(());
        }
        let list = |items: Vec<String>| {
            let first_five: Vec<String> = items.iter().take(5).cloned().collect();
            let more = items.len().saturating_sub(5);
            if more > 0 {
                format!("{} (and {more} more)", first_five.join(", "))
            } else if first_five.is_empty() {
                "none".to_string()
            } else {
                first_five.join(", ")
            }
        };
        Err(self
            .failure_with_sent(format!(
                "the array holds the wrong elements: {} missing, {} unexpected (order does not matter)",
                missing.len(),
                got.len()
            ))
            .detail("expected", format!("{} elements", expected.len()))
            .detail("missing", list(missing))
            .detail("unexpected", list(got.iter().map(Reply::describe).collect())))
    }

    /// Expects an integer reply from `low` to `high`, for values that
    /// depend on the clock (TTL).
    pub fn expect_integer_between(&mut self, low: i64, high: i64) -> Result<i64, Failure> {
        let reply = self.expect_matching("an integer", |reply: &Reply| {
            matches!(reply, Reply::Integer(_))
        })?;
        match reply {
            Reply::Integer(n) if (low..=high).contains(&n) => Ok(n),
            other => Err(self.failure_with_sent(format!(
                "expected an integer from {low} to {high}, got {}",
                other.describe()
            ))),
        }
    }

    /// Expects the server to close the connection (after a protocol error,
    /// or QUIT), with no more bytes before it does.
    pub fn expect_closed(&mut self) -> Result<(), Failure> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            if !self.received.is_empty() {
                return Err(self
                    .failure_with_sent(
                        "expected the server to close the connection, but more bytes came"
                            .to_string(),
                    )
                    .detail("extra", escape_shortened(&self.received, 60)));
            }
            match self.read_more(deadline) {
                Arrival::Bytes => {}
                Arrival::Closed(_) => return Ok(()),
                Arrival::TimedOut => {
                    return Err(self
                        .failure_with_sent(format!(
                            "the connection was still open {} s after the reply: the server must close it",
                            REPLY_TIMEOUT.as_secs()
                        ))
                        .hint(
                            "After a protocol error the server cannot know where the next command \
                             starts: it replies with the error, then closes the connection.",
                        ));
                }
            }
        }
    }

    /// Fails if any byte arrives in the next moment, or is already here:
    /// the server must send exactly the replies asked for.
    pub fn expect_nothing_more(&mut self) -> Result<(), Failure> {
        let deadline = Instant::now() + EXTRA_DATA_WAIT;
        while self.received.is_empty() {
            match self.read_more(deadline) {
                Arrival::Bytes => {}
                Arrival::TimedOut | Arrival::Closed(_) => break,
            }
        }
        if self.received.is_empty() {
            return Ok(());
        }
        let extra = describe_replies(&self.received);
        Err(self
            .failure_with_sent("found extra data after the expected reply".to_string())
            .detail(
                "extra",
                format!("{}{extra}", escape_shortened(&self.received, 60)),
            )
            .hint(
                "Your server sent more than the commands asked for: more than one reply to one \
                 command, or a reply to nothing.",
            ))
    }

    /// Fails if the server sends anything or closes the connection during
    /// `how_long`.
    pub fn expect_open_and_quiet(&mut self, how_long: Duration) -> Result<(), Failure> {
        let deadline = Instant::now() + how_long;
        match self.read_more(deadline) {
            Arrival::TimedOut => Ok(()),
            Arrival::Bytes => Err(Failure::new(format!(
                "the server sent bytes that nobody asked for to {}",
                self.name
            ))
            .detail("got", escape_shortened(&self.received, 60))
            .hint("A Redis server speaks only when spoken to: it sends nothing until a command arrives.")),
            Arrival::Closed(how) => Err(Failure::new(format!(
                "the connection of {} was {how} while the client was still there",
                self.name
            ))
            .hint(
                "Keep each connection open until the client leaves: read from it in a loop until \
                 a read returns 0 bytes (end of stream), and only then close it.",
            )),
        }
    }

    fn read_more(&mut self, deadline: Instant) -> Arrival {
        let now = Instant::now();
        if now >= deadline || self.received.len() >= MAX_RECEIVED {
            // Past the cap: stop reading, and let the expectation report
            // what it has (an incomplete or endless reply).
            return Arrival::TimedOut;
        }
        let _ = self.stream.set_read_timeout(Some(deadline - now));
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => Arrival::Closed("closed by the server".to_string()),
            Ok(n) => {
                self.received.extend_from_slice(&chunk[..n]);
                Arrival::Bytes
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Arrival::TimedOut
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => Arrival::Bytes,
            Err(error) => Arrival::Closed(format!("broken ({error})")),
        }
    }

    /// "PING", "ECHO (1048602 bytes)" or "70 bytes" for a one-line problem
    /// statement.
    fn sent_summary(&self) -> String {
        match resp::describe_commands(&self.sent) {
            Some(commands) if commands.len() <= 60 => commands,
            _ => match resp::command_names(&self.sent) {
                Some(names) if names.len() <= 60 => {
                    format!("{names} ({} bytes)", self.sent.len())
                }
                _ => format!("{} bytes", self.sent.len()),
            },
        }
    }

    /// A failure that says what this client sent.
    fn failure_with_sent(&self, problem: String) -> Failure {
        let how = match self.writes {
            0 => "nothing yet".to_string(),
            1 => "in one write".to_string(),
            n => format!("in {n} writes"),
        };
        let mut sent = format!(
            "{} ({}, {how})",
            escape_shortened(&self.sent, 80),
            self.name
        );
        if let Some(commands) = resp::describe_commands(&self.sent) {
            sent.push_str(&format!("\nas redis-cli: {commands}"));
        }
        Failure::new(problem).detail("sent", sent)
    }
}

/// " (12 replies: simple string "PONG" (x12))" for bytes that hold whole
/// replies, so that a learner sees at once how many too many there were.
fn describe_replies(mut bytes: &[u8]) -> String {
    let mut described = Vec::new();
    while let Parsed::Complete {
        value: reply,
        length,
    } = resp::parse(bytes)
    {
        described.push(reply.describe());
        bytes = &bytes[length..];
    }
    let total = described.len();
    if total == 0 {
        return String::new();
    }
    let noun = if total == 1 {
        "1 whole reply".to_string()
    } else {
        format!("{total} whole replies")
    };
    let rest = if bytes.is_empty() {
        String::new()
    } else {
        format!(", then {} more bytes", bytes.len())
    };
    format!(
        "\n({noun}: {}{rest})",
        resp::count_runs(described).join(", ")
    )
}
