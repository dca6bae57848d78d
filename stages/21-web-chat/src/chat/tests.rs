//! The tests of `chat.rs` that need no Redis: a hub whose store is not
//! connected, fed messages as its subscription would, its outboxes read
//! directly.

use super::*;

fn hub() -> Hub {
    Hub::new(Store::new("redis://127.0.0.1:6379").unwrap())
}

/// A payload as the process `from` publishes it, for its client `client`.
fn payload(from: &str, client: u64, sequence: u64, line: &str) -> Bytes {
    Bytes::from(format!("{from}.{sequence}.{client} {line}\n"))
}

/// Registers a client and ends its joining with `history`.
fn joined(hub: &Hub, history: Vec<Bytes>) -> (ClientId, OutboxReceiver) {
    let (id, outbox) = hub.register();
    hub.set_nick(id, &format!("user{id}"));
    hub.end_holding(id, history);
    (id, outbox)
}

#[test]
fn a_message_reaches_every_client_of_the_process_but_its_sender() {
    let hub = hub();
    let mut outboxes: Vec<_> = (0..3).map(|_| joined(&hub, Vec::new()).1).collect();
    let own = payload(&hub.store.process, 2, 0, "user2> hello");
    hub.on_message(store::MESSAGES, own);
    let texts: Vec<String> = outboxes.iter_mut().map(|o| o.take_text()).collect();
    assert_eq!(texts, ["user2> hello\n", "", "user2> hello\n"]);
    // From another process: to every client here.
    hub.on_message(store::MESSAGES, payload("other", 2, 0, "bob> hi"));
    for outbox in &mut outboxes {
        assert_eq!(outbox.take_text(), "bob> hi\n");
    }
}

#[test]
fn a_private_message_reaches_the_nick_it_was_sent_to() {
    let hub = hub();
    let (_, mut first) = joined(&hub, Vec::new());
    let (_, mut second) = joined(&hub, Vec::new());
    let line = payload("other", 0, 4, "bob (private)> psst");
    hub.on_message(&store::user_channel("user2"), line);
    assert_eq!(first.take_text(), "");
    assert_eq!(second.take_text(), "bob (private)> psst\n");
    hub.on_message(&store::user_channel("nobody"), payload("other", 0, 5, "x"));
    assert_eq!(second.take_text(), "");
}

#[test]
fn a_newcomer_gets_the_history_then_what_came_meanwhile_once_each() {
    let hub = hub();
    let (id, mut outbox) = hub.register();
    hub.set_nick(id, "user1");
    let old = payload("other", 1, 1, "bob> old");
    let both = payload("other", 1, 2, "bob> in both");
    let new = payload("other", 1, 3, "bob> new");
    // Published while the history was read: held, not sent yet.
    hub.on_message(store::MESSAGES, both.clone());
    hub.on_message(store::MESSAGES, new);
    assert_eq!(outbox.take_text(), "");
    let late = payload("other", 1, 0, "bob> in the history, published late");
    hub.end_holding(id, vec![late.clone(), old, both]);
    assert_eq!(
        outbox.take_text(),
        "bob> in the history, published late\nbob> old\nbob> in both\nbob> new\n"
    );
    // ZADDed before the history was read, PUBLISHed after: sent once.
    hub.on_message(store::MESSAGES, late);
    assert_eq!(outbox.take_text(), "");
    hub.on_message(store::MESSAGES, payload("other", 1, 4, "bob> live"));
    assert_eq!(outbox.take_text(), "bob> live\n");
}

#[test]
fn a_reply_is_not_held_while_the_history_is_read_and_a_notice_of_before_is_skipped() {
    let hub = hub();
    let (id, mut outbox) = hub.register();
    hub.tell(To::One(id), "Welcome\n");
    assert_eq!(outbox.take_text(), "Welcome\n");
    // Of a join before this one: the newcomer was not in the chat yet.
    hub.on_message(store::PRESENCE, payload("other", 0, 1, "* bob joined"));
    // Its own join, published before its welcome: the notices after it
    // are held, as messages are.
    let process = hub.store.process.clone();
    hub.on_message(store::PRESENCE, payload(&process, id, 2, "* user1 joined"));
    hub.on_message(store::PRESENCE, payload("other", 0, 3, "* carol joined"));
    assert_eq!(outbox.take_text(), "");
    hub.end_holding(id, Vec::new());
    assert_eq!(outbox.take_text(), "* carol joined\n");
    hub.on_message(store::PRESENCE, payload("other", 0, 4, "* dave joined"));
    assert_eq!(outbox.take_text(), "* dave joined\n");
}

#[tokio::test]
async fn lines_that_need_the_store_say_it_is_unreachable_and_the_client_stays() {
    let hub = hub();
    let (id, mut outbox) = joined(&hub, Vec::new());
    for line in ["hello", "/who", "/nick alice", "/msg bob hi", "/me waves"] {
        assert_eq!(hub.handle_line(id, line).await, Flow::Continue);
        assert_eq!(
            outbox.take_text(),
            "! the chat store is unreachable: not done, try again\n",
            "{line}"
        );
    }
    // What needs no store still works.
    hub.handle_line(id, "/nick a b").await;
    assert_eq!(
        outbox.take_text(),
        "! a nick is 1-32 printable characters, without spaces\n"
    );
    assert_eq!(hub.handle_line(id, "/quit").await, Flow::Stop);
    assert_eq!(outbox.take_text(), "* bye\n");
}

#[tokio::test]
async fn a_client_that_does_not_read_is_disconnected() {
    let hub = hub();
    let (id, outbox) = joined(&hub, Vec::new());
    let long = "x".repeat(4000);
    let mut sequence = 0;
    while outbox.is_open() && sequence < 1000 {
        hub.on_message(store::MESSAGES, payload("other", 1, sequence, &long));
        sequence += 1;
    }
    assert!(!outbox.is_open(), "still registered after {sequence} lines");
    assert!(!hub.lock().clients.contains_key(&id));
}
