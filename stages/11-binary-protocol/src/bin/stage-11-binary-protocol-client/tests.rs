use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use binary_protocol::reply::{MAX_DEPTH, Reply, TAG_ARR, TAG_NIL};
use bytes::{Bytes, BytesMut};

use super::*;

/// A reply as the server writes it, and the message after its prefix.
fn message_of(reply: &Reply) -> Vec<u8> {
    let mut wire = BytesMut::new();
    reply.write_to(&mut wire);
    wire[4..].to_vec()
}

/// What the client prints for `reply`.
fn shown(reply: &Reply) -> String {
    let message = message_of(reply);
    let mut out = Vec::new();
    write_value(decode_reply(&message).unwrap(), &mut Vec::new(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn bulk(text: &'static str) -> Reply {
    Reply::Bulk(Bytes::from_static(text.as_bytes()))
}

#[test]
fn prints_like_redis_cli() {
    assert_eq!(shown(&Reply::Null), "(nil)\n");
    assert_eq!(shown(&Reply::Integer(3)), "(integer) 3\n");
    assert_eq!(shown(&Reply::Simple("OK")), "\"OK\"\n");
    assert_eq!(shown(&Reply::error("no")), "(error) ERR no\n");
    assert_eq!(shown(&bulk("a\"b\n\x01")), "\"a\\\"b\\n\\x01\"\n");
    assert_eq!(shown(&Reply::Array(vec![])), "(empty array)\n");
    let nested = Reply::Array(vec![
        Reply::Array(vec![bulk("a"), Reply::Null]),
        Reply::Integer(1),
    ]);
    assert_eq!(shown(&nested), "1) 1) \"a\"\n   2) (nil)\n2) (integer) 1\n");
    let deeper = Reply::Array(vec![Reply::Null, nested]);
    assert_eq!(
        shown(&deeper),
        "1) (nil)\n2) 1) 1) \"a\"\n      2) (nil)\n   2) (integer) 1\n"
    );
    let ten = Reply::Array((0..10).map(Reply::Integer).collect());
    let shown = shown(&ten);
    assert!(shown.starts_with(" 1) (integer) 0\n"));
    assert!(shown.ends_with("10) (integer) 9\n"));
}

#[test]
fn error_text_is_escaped_like_strings() {
    // A server could otherwise clear the screen, retitle the terminal or
    // start a line of its own.
    let error = Reply::Error(b"ERR \x1b[2J\x1b]0;title\x07\r\nfake".to_vec());
    assert_eq!(
        shown(&error),
        "(error) ERR \\x1b[2J\\x1b]0;title\\a\\r\\nfake\n"
    );
}

/// Counts the bytes each thread allocates, so that a test can see what
/// printing costs.
struct CountingAllocator;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|allocated| allocated.set(allocated.get() + layout.size()));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// A writer that keeps only the count of what it is given.
#[derive(Default)]
struct Counter(usize);

impl Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The two hostile shapes: an array of `count` NILs, inside `depth - 1`
/// arrays of one item.
fn nils(depth: usize, count: u32) -> Vec<u8> {
    let mut message = b"\x04\x00\x00\x00\x01".repeat(depth - 1);
    message.push(TAG_ARR);
    message.extend_from_slice(&count.to_be_bytes());
    message.resize(message.len() + count as usize, TAG_NIL);
    message
}

/// Prints `message` into a counter: (bytes printed, bytes allocated).
fn print_cost(message: &[u8]) -> (usize, usize) {
    let value = decode_reply(message).unwrap();
    let mut out = Counter::default();
    let before = ALLOCATED.with(Cell::get);
    write_value(value, &mut Vec::new(), &mut out).unwrap();
    (out.0, ALLOCATED.with(Cell::get) - before)
}

#[test]
fn memory_and_output_stay_linear_in_the_reply() {
    // The counter counts (else the test below would prove nothing).
    let before = ALLOCATED.with(Cell::get);
    drop(std::hint::black_box(vec![0u8; 4096]));
    assert!(ALLOCATED.with(Cell::get) - before >= 4096);
    for message in [nils(1, 1 << 20), nils(MAX_DEPTH, 1 << 16)] {
        let (printed, allocated) = print_cost(&message);
        // Decoding borrows, printing streams: the few bytes allocated are
        // the indentation and the width of each array's numbers.
        assert!(allocated < 1024, "{allocated} bytes allocated");
        // Each NIL is a line, indented at most MAX_DEPTH levels deep.
        assert!(
            printed < 40 * message.len(),
            "{printed} bytes printed for {}",
            message.len()
        );
    }
}

#[test]
fn splits_typed_lines() {
    assert_eq!(
        split_words(r#"set k "a b\n" 'it\'s'"#).unwrap(),
        vec![
            b"set".to_vec(),
            b"k".to_vec(),
            b"a b\n".to_vec(),
            b"it's".to_vec()
        ]
    );
    assert!(split_words("get \"open").is_err());
}
