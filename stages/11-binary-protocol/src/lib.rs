//! Stage 11's wire format, shared by its two programs: the server
//! (`main.rs`) reads requests and writes replies with it, the client
//! (`bin/stage-11-binary-protocol-client`) writes requests and reads
//! replies. One definition, so the two cannot disagree on a tag or a
//! limit.

pub mod protocol;
pub mod reply;
