//! The tests of `outbox.rs`: the bound, the flush, and the writer.

use super::*;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

#[test]
fn the_bound_is_in_bytes_and_refuses_the_line_that_would_pass_it() {
    let (mut outbox, _receiver) = outbox();
    let line = Bytes::from(vec![b'x'; 1024]);
    for _ in 0..MAX_QUEUED / 1024 {
        assert!(outbox.send(&line, true));
    }
    // Gathered or queued, it counts the same.
    assert_eq!(outbox.queued(), MAX_QUEUED);
    outbox.flush();
    assert_eq!(outbox.queued(), MAX_QUEUED);
    assert!(!outbox.send(&Bytes::from_static(b"!\n"), true));
    assert_eq!(outbox.queued(), MAX_QUEUED);
}

#[test]
fn one_line_larger_than_the_bound_goes_into_an_empty_queue() {
    let (mut outbox, _receiver) = outbox();
    let huge = Bytes::from(vec![b'x'; MAX_QUEUED + 1]);
    assert!(outbox.send(&huge, true));
    assert!(!outbox.send(&Bytes::from_static(b"x"), true));
}

#[test]
fn a_flush_without_a_socket_queues_what_was_gathered_in_order() {
    let (mut outbox, mut receiver) = outbox();
    assert!(outbox.is_flushed());
    outbox.send(&Bytes::from_static(b"one\n"), true);
    outbox.send(&Bytes::from_static(b"two\n"), true);
    assert!(!outbox.is_flushed());
    assert_eq!(receiver.take_text(), "");
    outbox.flush();
    assert!(outbox.is_flushed());
    assert_eq!(receiver.take_text(), "one\ntwo\n");
}

/// A connected pair: the server's end, split, and the client's end.
async fn connection() -> (
    tokio::net::tcp::OwnedReadHalf,
    Arc<OwnedWriteHalf>,
    TcpStream,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let (read_half, write_half) = server.into_split();
    (read_half, Arc::new(write_half), client)
}

#[tokio::test]
async fn a_flush_writes_straight_to_the_socket_when_nothing_is_queued() {
    let (_read_half, socket, mut client) = connection().await;
    let (mut outbox, mut receiver) = outbox();
    outbox.attach(Arc::clone(&socket));
    outbox.send(&Bytes::from_static(b"hello\n"), true);
    outbox.flush();
    // Nothing went through the queue.
    assert_eq!(outbox.queued(), 0);
    assert_eq!(receiver.take_text(), "");
    let mut received = [0; 6];
    client.read_exact(&mut received).await.unwrap();
    assert_eq!(&received, b"hello\n");
    // Not gathered: queued at once, for the writer.
    outbox.send(&Bytes::from_static(b"notice\n"), false);
    assert_eq!(receiver.take_text(), "notice\n");
}

#[tokio::test]
async fn more_lines_than_one_write_takes_are_queued_after_it_in_order() {
    let (_read_half, socket, mut client) = connection().await;
    let (mut outbox, receiver) = outbox();
    outbox.attach(Arc::clone(&socket));
    let writer = tokio::spawn(write_outbox(socket, receiver));
    let mut expected = Vec::new();
    for number in 0..3 * MAX_SLICES {
        let line = Bytes::from(format!("line {number}\n"));
        expected.extend_from_slice(&line);
        outbox.send(&line, true);
    }
    outbox.flush();
    let mut received = vec![0; expected.len()];
    client.read_exact(&mut received).await.unwrap();
    assert_eq!(String::from_utf8(received), String::from_utf8(expected));
    drop(outbox);
    writer.await.unwrap().unwrap();
}

#[tokio::test]
async fn what_is_queued_goes_first_and_the_writer_counts_it_down() {
    let (_read_half, socket, mut client) = connection().await;
    let (mut outbox, receiver) = outbox();
    // Queued before the socket is known, as a welcome is.
    outbox.send(&Bytes::from_static(b"first\n"), true);
    outbox.flush();
    outbox.attach(Arc::clone(&socket));
    // Something is queued: this one must queue behind it, not jump ahead.
    outbox.send(&Bytes::from_static(b"second\n"), true);
    outbox.flush();
    assert_eq!(outbox.queued(), 13);
    let writer = tokio::spawn(write_outbox(socket, receiver));
    let mut received = [0; 13];
    client.read_exact(&mut received).await.unwrap();
    assert_eq!(&received, b"first\nsecond\n");
    // Written, so counted down (the writer subtracts just after its
    // write returns: give it a moment).
    for _ in 0..100 {
        if outbox.queued() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(outbox.queued(), 0);
    // Nothing queued now: straight to the socket.
    outbox.send(&Bytes::from_static(b"third\n"), true);
    outbox.flush();
    assert_eq!(outbox.queued(), 0);
    let mut received = [0; 6];
    client.read_exact(&mut received).await.unwrap();
    assert_eq!(&received, b"third\n");
    // The client leaves: the writer ends, and ends the connection.
    drop(outbox);
    writer.await.unwrap().unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
}
