//! What the tester needs of a protocol to judge its replies: read one from
//! the front of a buffer, write it as bytes, and say it in words. RESP
//! (`resp.rs`, stages 2-10) and the binary protocol (`binary.rs`, stage 11)
//! each implement it, and one client (`client.rs`) judges both.

/// What the front of a buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A whole reply, `length` bytes long.
    Complete { value: T, length: usize },
    /// The start of a reply: more bytes are needed.
    Incomplete,
    /// Bytes that are not a valid reply: `at` is the offset of the first
    /// bad byte.
    Invalid { at: usize, reason: String },
}

/// A reply in some protocol.
pub trait Frame: Sized + PartialEq {
    /// The protocol's name, for reports: "RESP".
    const PROTOCOL: &'static str;
    /// True when a server speaks only to answer, one reply per request, so
    /// that bytes after a reply, before the next request, are a reply too
    /// many; false for the chat, where lines come unasked.
    const ONE_REPLY_PER_REQUEST: bool = true;
    /// Reads one reply from the front of `buffer`.
    fn parse(buffer: &[u8]) -> Parsed<Self>;
    /// The exact bytes of this reply.
    fn encode(&self) -> Vec<u8>;
    /// The kind of reply, without its value: "simple string".
    fn kind(&self) -> &'static str;
    /// The reply in words: `simple string "PONG"`.
    fn describe(&self) -> String;
    /// A word on why `got` is not `expected`, when there is a common cause.
    fn mismatch_hint(_expected: &Self, _got: &Self) -> Option<String> {
        None
    }
}
