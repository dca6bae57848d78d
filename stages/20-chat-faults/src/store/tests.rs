//! The tests of `store.rs` that need no Redis: what a payload says.

use super::*;

#[test]
fn a_payload_names_its_sender_only_to_the_process_that_sent_it() {
    let payload = Bytes::from_static(b"41-7.000000000012.3 alice> hi there\n");
    let (sender, line) = untag(&payload, "41-7").unwrap();
    assert_eq!(sender, Some(3));
    assert_eq!(&line[..], b"alice> hi there\n");
    // Another process delivers it to everyone.
    assert_eq!(untag(&payload, "41-8").unwrap().0, None);
    // Client 0 is nobody: a notice the process sent for no one of its own.
    let notice = Bytes::from_static(b"41-7.000000000013.0 * bob left\n");
    assert_eq!(untag(&notice, "41-7").unwrap().0, None);
}

#[test]
fn a_payload_that_is_not_the_chats_is_ignored() {
    for payload in [
        &b"hello"[..],
        b"no-dots hello\n",
        b"a.b.c hello\n",
        b"\xff.1.2 x\n",
    ] {
        assert_eq!(
            untag(&Bytes::copy_from_slice(payload), "a"),
            None,
            "{payload:?}"
        );
    }
}

#[test]
fn what_one_process_publishes_is_unique_and_tagged() {
    let store = Store::new("redis://127.0.0.1:6379").unwrap();
    let first = Bytes::from(store.tagged(5, "alice> hi"));
    let second = Bytes::from(store.tagged(5, "alice> hi"));
    assert_ne!(first, second, "the history, a sorted set, would keep one");
    // In one millisecond, a sorted set orders them by their bytes.
    let tenth = Bytes::from((2..10).map(|_| store.tagged(5, "x")).last().unwrap());
    assert!(second < tenth, "{second:?} {tenth:?}");
    let (sender, line) = untag(&first, &store.process).unwrap();
    assert_eq!((sender, &line[..]), (Some(5), &b"alice> hi\n"[..]));
}

#[test]
fn a_url_that_is_not_redis_is_refused_at_start() {
    let error = Store::new("localhost:6379").err().unwrap();
    assert!(error.to_string().contains("not a Redis URL"), "{error}");
}
