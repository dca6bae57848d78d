//! The tests of `chat.rs`: a hub whose outboxes are read directly, without
//! sockets.

use super::*;

/// The reader's way in, one line at a time: gathered, then flushed.
impl Hub {
    fn handle_line(&self, id: ClientId, line: &str) -> Flow {
        let mut state = self.lock();
        state.gathering = true;
        let flow = state.handle_line(id, line);
        state.flush();
        flow
    }

    fn line_too_long(&self, id: ClientId) {
        let mut state = self.lock();
        state.gathering = true;
        state.line_too_long(id);
        state.flush();
    }
}

/// A hub, and `count` clients joined (ids 1 to count), with what they
/// were sent on joining read and thrown away.
fn chat_with(count: usize) -> (Hub, Vec<OutboxReceiver>) {
    let hub = Hub::default();
    let mut outboxes: Vec<OutboxReceiver> = (0..count).map(|_| hub.join().1).collect();
    for outbox in &mut outboxes {
        outbox.take_text();
    }
    (hub, outboxes)
}

#[test]
fn joining_sends_the_welcome_then_the_history_and_tells_the_others() {
    let (hub, mut outboxes) = chat_with(1);
    assert_eq!(hub.handle_line(1, "hi"), Flow::Continue);
    assert_eq!(hub.handle_line(1, "/me waves"), Flow::Continue);
    let (id, mut new) = hub.join();
    assert_eq!(id, 2);
    assert_eq!(
        new.take_text(),
        "Welcome, user2! Set your name with /nick NAME; /help lists the commands.\n\
         user1> hi\n\
         user1> *waves*\n"
    );
    assert_eq!(outboxes[0].take_text(), "* user2 joined\n");
}

#[test]
fn the_history_keeps_the_last_20_chat_lines_oldest_first() {
    let (hub, _outboxes) = chat_with(1);
    for number in 1..=25 {
        hub.handle_line(1, &format!("message {number}"));
        // Not history: errors, notices, private messages.
        hub.handle_line(1, "/who");
        hub.handle_line(1, "/msg user1 secret");
    }
    hub.handle_line(1, "/nick alice");
    let (_, mut new) = hub.join();
    let text = new.take_text();
    let lines: Vec<&str> = text.lines().skip(1).collect();
    let expected: Vec<String> = (6..=25).map(|n| format!("user1> message {n}")).collect();
    assert_eq!(lines, expected);
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
    hub.handle_line(2, "/nick a b");
    assert_eq!(
        outboxes[1].take_text(),
        "! a nick is 1-32 printable characters, without spaces\n"
    );
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
fn who_lists_everyone_in_byte_order() {
    let (hub, mut outboxes) = chat_with(3);
    hub.handle_line(1, "/nick zoë");
    hub.handle_line(2, "/nick Bob");
    hub.handle_line(3, "/nick alice");
    for outbox in &mut outboxes {
        outbox.take_text();
    }
    hub.handle_line(2, "/who");
    assert_eq!(outboxes[1].take_text(), "* online (3): Bob, alice, zoë\n");
    hub.leave(1);
    hub.handle_line(2, "/who");
    assert_eq!(
        outboxes[1].take_text(),
        "* zoë left\n* online (2): Bob, alice\n"
    );
}

#[test]
fn private_messages_reach_one_client() {
    let (hub, mut outboxes) = chat_with(3);
    hub.handle_line(1, "/msg user3 just  you ");
    assert_eq!(outboxes[2].take_text(), "user1 (private)> just  you \n");
    assert_eq!(outboxes[0].take_text(), "");
    assert_eq!(outboxes[1].take_text(), "");
    hub.handle_line(1, "/msg nobody hi");
    assert_eq!(outboxes[0].take_text(), "! no one is called nobody\n");
    hub.handle_line(1, "/msg user3");
    assert_eq!(outboxes[0].take_text(), "! usage: /msg NAME text\n");
}

#[test]
fn actions_help_unknown_and_quit() {
    let (hub, mut outboxes) = chat_with(2);
    hub.handle_line(1, "/me waves");
    assert_eq!(outboxes[1].take_text(), "user1> *waves*\n");
    // Never the server's words: "/me left" is not a leave notice.
    hub.handle_line(1, "/me left");
    assert_eq!(outboxes[1].take_text(), "user1> *left*\n");
    assert_eq!(outboxes[0].take_text(), "");
    hub.handle_line(1, "/me");
    assert_eq!(outboxes[0].take_text(), "! usage: /me action\n");
    hub.handle_line(1, "/help");
    assert_eq!(outboxes[0].take_text(), HELP);
    hub.handle_line(1, "/NICK x");
    assert_eq!(
        outboxes[0].take_text(),
        "! unknown command /NICK: /help lists the commands\n"
    );
    hub.line_too_long(1);
    assert_eq!(
        outboxes[0].take_text(),
        "! line too long (over 4096 bytes): not sent\n"
    );
    assert_eq!(hub.handle_line(1, "/quit"), Flow::Stop);
    assert_eq!(outboxes[0].take_text(), "* bye\n");
    hub.leave(1);
    assert_eq!(outboxes[1].take_text(), "* user1 left\n");
    // Gone: nothing more happens for it.
    assert_eq!(hub.handle_line(1, "hello?"), Flow::Stop);
    assert_eq!(outboxes[1].take_text(), "");
}

#[test]
fn a_client_that_does_not_read_is_disconnected_and_the_others_are_told() {
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
    // Client 2 got every line, and the news, where it happened.
    let lines: Vec<&str> = received.lines().collect();
    assert_eq!(lines.len(), 301);
    let dropped_at = lines.iter().position(|line| *line == "* user3 left");
    assert_eq!(dropped_at, Some(261));
    assert!(outboxes[1].is_open());
    // Client 3's queue ends where the bound was: its outbox is closed.
    let text = outboxes[2].take_text();
    assert!(text.len() <= outbox::MAX_QUEUED, "{}", text.len());
    assert!(!outboxes[2].is_open());
}
