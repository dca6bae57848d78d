//! The tests of `chat.rs`: a hub whose outboxes are read directly, without
//! sockets.

use super::*;

/// The reader's way in, one line at a time: gathered, then flushed.
impl Hub {
    fn handle_line(&self, id: ClientId, line: &str) {
        let mut state = self.lock();
        state.gathering = true;
        state.handle_line(id, line);
        state.flush();
    }

    fn line_too_long(&self, id: ClientId) {
        let mut state = self.lock();
        state.gathering = true;
        state.line_too_long(id);
        state.flush();
    }
}

/// A hub, and `count` clients joined (ids 1 to count), with what they were
/// sent on joining read and thrown away.
fn chat_with(count: usize) -> (Hub, Vec<OutboxReceiver>) {
    let hub = Hub::default();
    let mut outboxes: Vec<OutboxReceiver> = (0..count).map(|_| hub.join().1).collect();
    for outbox in &mut outboxes {
        outbox.take_text();
    }
    (hub, outboxes)
}

#[test]
fn joining_sends_the_welcome_with_the_default_nick() {
    let hub = Hub::default();
    let (first, mut outbox) = hub.join();
    assert_eq!(first, 1);
    assert_eq!(
        outbox.take_text(),
        "Welcome, user1! Set your name with /nick NAME.\n"
    );
    let (second, mut outbox) = hub.join();
    assert_eq!(second, 2);
    assert!(outbox.take_text().starts_with("Welcome, user2!"));
}

#[test]
fn chat_goes_to_everyone_but_the_sender() {
    let (hub, mut outboxes) = chat_with(3);
    hub.handle_line(2, "  hello, all  ");
    assert_eq!(outboxes[0].take_text(), "user2>   hello, all  \n");
    assert_eq!(outboxes[1].take_text(), "");
    assert_eq!(outboxes[2].take_text(), "user2>   hello, all  \n");
    hub.handle_line(2, "");
    assert_eq!(outboxes[0].take_text(), "");
}

#[test]
fn nicks() {
    let (hub, mut outboxes) = chat_with(2);
    hub.handle_line(1, "/nick alice");
    assert_eq!(outboxes[0].take_text(), "* you are now alice\n");
    assert_eq!(outboxes[1].take_text(), "* user1 is now alice\n");
    // Again: no news for the others.
    hub.handle_line(1, "/nick alice");
    assert_eq!(outboxes[0].take_text(), "* you are now alice\n");
    assert_eq!(outboxes[1].take_text(), "");
    // Taken, exactly; another case is another nick.
    hub.handle_line(2, "/nick alice");
    assert_eq!(outboxes[1].take_text(), "! the nick alice is taken\n");
    hub.handle_line(2, "/nick Alice");
    assert_eq!(outboxes[1].take_text(), "* you are now Alice\n");
    assert_eq!(outboxes[0].take_text(), "* user2 is now Alice\n");
    for bad in [
        "/nick a b",
        "/nick",
        "/nick ",
        "/nick  alice",
        "/nick alice ",
    ] {
        hub.handle_line(2, bad);
        assert_eq!(
            outboxes[1].take_text(),
            "! a nick is 1-32 printable characters, without spaces\n",
            "{bad:?}"
        );
    }
    // A nick that is free again can be taken.
    hub.handle_line(1, "/nick bob");
    hub.handle_line(2, "/nick alice");
    assert_eq!(
        outboxes[1].take_text(),
        "* alice is now bob\n* you are now alice\n"
    );
}

#[test]
fn default_nicks_stay_unique() {
    let (hub, mut outboxes) = chat_with(2);
    // user3 is what the next client will be called.
    hub.handle_line(1, "/nick user3");
    assert_eq!(outboxes[0].take_text(), "! the nick user3 is taken\n");
    hub.handle_line(1, "/nick user2");
    assert_eq!(outboxes[0].take_text(), "! the nick user2 is taken\n");
    // Not a default nick: fine.
    hub.handle_line(1, "/nick user03");
    assert_eq!(outboxes[0].take_text(), "* you are now user03\n");
    // user1 is nobody's now, and nobody's to come.
    hub.handle_line(2, "/nick user1");
    assert_eq!(
        outboxes[1].take_text(),
        "* user1 is now user03\n* you are now user1\n"
    );
    let (id, mut third) = hub.join();
    assert!(third.take_text().starts_with("Welcome, user3!"));
    assert_eq!(id, 3);
}

#[test]
fn unknown_commands_long_lines_and_leaving() {
    let (hub, mut outboxes) = chat_with(2);
    hub.handle_line(1, "/who");
    assert_eq!(outboxes[0].take_text(), "! unknown command /who\n");
    hub.handle_line(1, "/NICK x");
    assert_eq!(outboxes[0].take_text(), "! unknown command /NICK\n");
    hub.line_too_long(1);
    assert_eq!(
        outboxes[0].take_text(),
        "! line too long (over 4096 bytes): not sent\n"
    );
    assert_eq!(outboxes[1].take_text(), "");
    hub.leave(1);
    // Gone: its lines go nowhere, and its nick is free.
    hub.handle_line(1, "hello?");
    assert_eq!(outboxes[1].take_text(), "");
    hub.handle_line(2, "/nick user1");
    assert_eq!(outboxes[1].take_text(), "* you are now user1\n");
}

#[test]
fn a_client_that_does_not_read_is_disconnected() {
    let (hub, mut outboxes) = chat_with(3);
    let line = "x".repeat(1000);
    // Client 1 talks; client 2 reads; client 3 never does.
    let mut received = String::new();
    for _ in 0..300 {
        hub.handle_line(1, &line);
        received.push_str(&outboxes[1].take_text());
    }
    let state = hub.lock();
    assert!(!state.clients.contains_key(&3));
    assert_eq!(state.clients.len(), 2);
    drop(state);
    // Client 2 got every line.
    assert_eq!(received.lines().count(), 300);
    assert!(outboxes[1].is_open());
    // Client 3's queue ends where the bound was: its outbox is closed.
    let text = outboxes[2].take_text();
    assert!(text.len() <= outbox::MAX_QUEUED, "{}", text.len());
    assert!(!outboxes[2].is_open());
    // And its nick is free.
    hub.handle_line(2, "/nick user3");
    assert_eq!(outboxes[1].take_text(), "* you are now user3\n");
}
