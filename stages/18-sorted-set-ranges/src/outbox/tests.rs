use super::*;

/// Takes what waits, as the connection would, and returns it as text.
fn take_text(outbox: &Outbox) -> String {
    let mut batch = BytesMut::new();
    outbox.take(&mut batch).expect("not cut off");
    String::from_utf8(batch.to_vec()).unwrap()
}

#[test]
fn replies_and_messages_leave_in_the_order_they_came() {
    let outbox = Outbox::default();
    outbox.queue(&Reply::Simple("OK"));
    outbox.push(b"<message 1>");
    outbox.queue(&Reply::Integer(2));
    outbox.push(b"<message 2>");
    assert_eq!(outbox.queued(), 31);
    assert_eq!(take_text(&outbox), "+OK\r\n<message 1>:2\r\n<message 2>");
    assert_eq!(outbox.queued(), 0);
    assert_eq!(take_text(&outbox), "");
}

#[tokio::test]
async fn a_push_to_an_empty_outbox_wakes_the_connection() {
    let outbox = Outbox::default();
    outbox.push(b"x");
    // The wake-up was kept for whoever waits next.
    tokio::time::timeout(Duration::from_secs(1), outbox.ready())
        .await
        .expect("woken");
    // A push behind one not yet taken does not wake it again: the
    // connection will find both.
    outbox.push(b"y");
    let waited = tokio::time::timeout(Duration::from_millis(50), outbox.ready()).await;
    assert!(waited.is_err(), "no second wake-up");
    assert_eq!(take_text(&outbox), "xy");
}

#[test]
fn past_the_hard_limit_the_client_is_cut_off_and_its_output_dropped() {
    let outbox = Outbox::default();
    let message = vec![b'm'; 1024 * 1024];
    for _ in 0..HARD_LIMIT / message.len() {
        outbox.push(&message);
    }
    outbox.push(b"one byte too many");
    assert_eq!(outbox.queued(), 0, "the memory goes at once");
    let mut batch = BytesMut::new();
    assert!(outbox.take(&mut batch).is_err());
    // Pushes that were on their way are dropped.
    outbox.push(b"late");
    assert_eq!(outbox.queued(), 0);
}

#[test]
fn what_the_connection_is_still_writing_counts_as_unsent() {
    let outbox = Outbox::default();
    let message = vec![b'm'; HARD_LIMIT / 2];
    outbox.push(&message);
    let mut batch = BytesMut::new();
    outbox.take(&mut batch).unwrap();
    outbox.push(&message);
    outbox.push(b"over: half written, half waiting, and more");
    assert!(outbox.take(&mut batch).is_err());
}

#[test]
fn over_the_soft_limit_for_a_minute_the_client_is_cut_off() {
    let outbox = Outbox::default();
    outbox.push(&vec![b'm'; SOFT_LIMIT + 1]);
    outbox.push(b"still within the minute");
    assert!(outbox.take(&mut BytesMut::new()).is_ok());
    let earlier = Instant::now() - SOFT_LIMIT_TIME;
    outbox.lock().over_soft_limit_since = Some(earlier);
    outbox.push(b"a minute later");
    assert!(outbox.take(&mut BytesMut::new()).is_err());
}

#[test]
fn back_under_the_soft_limit_the_clock_starts_again() {
    let outbox = Outbox::default();
    outbox.push(&vec![b'm'; SOFT_LIMIT + 1]);
    assert!(outbox.lock().over_soft_limit_since.is_some());
    let mut batch = BytesMut::new();
    outbox.take(&mut batch).unwrap();
    batch.clear();
    outbox.take(&mut batch).unwrap(); // All written: nothing unsent.
    outbox.push(b"small");
    assert!(outbox.lock().over_soft_limit_since.is_none());
}
