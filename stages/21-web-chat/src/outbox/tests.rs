//! The tests of `outbox.rs`: the bound, and the writer.

use super::*;
use tokio::io::AsyncReadExt;

#[test]
fn the_bound_is_in_bytes_and_refuses_the_line_that_would_pass_it() {
    let (outbox, _receiver) = outbox();
    let line = Bytes::from(vec![b'x'; 1024]);
    for _ in 0..MAX_QUEUED / 1024 {
        assert!(outbox.send(&line));
    }
    assert_eq!(outbox.queued(), MAX_QUEUED);
    assert!(!outbox.send(&Bytes::from_static(b"!\n")));
    assert_eq!(outbox.queued(), MAX_QUEUED);
}

#[test]
fn one_line_larger_than_the_bound_goes_into_an_empty_queue() {
    let (outbox, _receiver) = outbox();
    let huge = Bytes::from(vec![b'x'; MAX_QUEUED + 1]);
    assert!(outbox.send(&huge));
    assert!(!outbox.send(&Bytes::from_static(b"x")));
}

#[tokio::test]
async fn the_writer_writes_everything_in_order_and_counts_it_down() {
    let (outbox, receiver) = outbox();
    // A pipe with room for 64 bytes: the writer has to wait for us.
    let (server_end, mut client_end) = tokio::io::duplex(64);
    let writer = tokio::spawn(write_outbox(server_end, receiver));
    let mut expected = Vec::new();
    for number in 0..1000 {
        let line = Bytes::from(format!("line {number}\n"));
        expected.extend_from_slice(&line);
        assert!(outbox.send(&line));
    }
    assert!(outbox.queued() > 0);
    let mut received = vec![0; expected.len()];
    client_end.read_exact(&mut received).await.unwrap();
    assert_eq!(received, expected);
    // Written, so counted down (the writer subtracts just after its
    // write returns: give it a moment).
    for _ in 0..100 {
        if outbox.queued() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(outbox.queued(), 0);
    // The client leaves: the writer ends, and ends the connection.
    drop(outbox);
    let mut rest = Vec::new();
    client_end.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    writer.await.unwrap().unwrap();
}
