use super::*;

fn names(words: &[&str]) -> Vec<Bytes> {
    words
        .iter()
        .map(|word| Bytes::copy_from_slice(word.as_bytes()))
        .collect()
}

/// What waits in the client's outbox, taken as the connection would take
/// it, with `\r\n` shown as spaces.
fn output(client: &Client) -> String {
    let mut batch = BytesMut::new();
    client.outbox.take(&mut batch).expect("not cut off");
    String::from_utf8(batch.to_vec())
        .unwrap()
        .replace("\r\n", " ")
}

#[test]
fn subscribe_confirms_each_name_with_the_count_of_channels_and_patterns() {
    let pubsub = PubSub::default();
    let mut client = pubsub.client();
    client.subscribe(Kind::Channel, &names(&["a", "b", "a"]));
    client.subscribe(Kind::Pattern, &names(&["n*"]));
    assert_eq!(
        output(&client),
        "*3 $9 subscribe $1 a :1 *3 $9 subscribe $1 b :2 *3 $9 subscribe $1 a :2 \
         *3 $10 psubscribe $2 n* :3 "
    );
    assert!(client.is_subscribed());
    assert_eq!(pubsub.subscribers(b"a"), 1);
    assert_eq!(pubsub.patterns(), 1);
}

#[test]
fn publish_reaches_channel_then_pattern_subscribers_and_counts_them() {
    let pubsub = PubSub::default();
    let mut both = pubsub.client();
    both.subscribe(Kind::Channel, &names(&["news"]));
    both.subscribe(Kind::Pattern, &names(&["n*", "x*"]));
    let mut other = pubsub.client();
    other.subscribe(Kind::Channel, &names(&["news"]));
    output(&both);
    output(&other);
    assert_eq!(pubsub.publish(b"news", b"hi"), 3);
    assert_eq!(
        output(&both),
        "*3 $7 message $4 news $2 hi *4 $8 pmessage $2 n* $4 news $2 hi "
    );
    assert_eq!(output(&other), "*3 $7 message $4 news $2 hi ");
    assert_eq!(pubsub.publish(b"nobody", b"hi"), 1, "n* matches");
    assert_eq!(pubsub.publish(b"zzz", b"hi"), 0);
}

#[test]
fn unsubscribe_with_names_without_and_with_nothing_to_leave() {
    let pubsub = PubSub::default();
    let mut client = pubsub.client();
    client.subscribe(Kind::Channel, &names(&["c", "a", "b"]));
    client.subscribe(Kind::Pattern, &names(&["p*"]));
    output(&client);
    client.unsubscribe(Kind::Channel, &names(&["a", "zz"]));
    assert_eq!(
        output(&client),
        "*3 $11 unsubscribe $1 a :3 *3 $11 unsubscribe $2 zz :3 "
    );
    // Every channel, in the order they were subscribed.
    client.unsubscribe(Kind::Channel, &[]);
    assert_eq!(
        output(&client),
        "*3 $11 unsubscribe $1 c :2 *3 $11 unsubscribe $1 b :1 "
    );
    client.unsubscribe(Kind::Channel, &[]);
    assert_eq!(output(&client), "*3 $11 unsubscribe $-1 :1 ");
    assert!(client.is_subscribed(), "p* is left");
    client.unsubscribe(Kind::Pattern, &[]);
    assert_eq!(output(&client), "*3 $12 punsubscribe $2 p* :0 ");
    assert!(!client.is_subscribed());
    assert!(pubsub.channels(None).is_empty());
    assert_eq!(pubsub.patterns(), 0);
}

#[test]
fn a_client_that_goes_leaves_nothing_behind() {
    let pubsub = PubSub::default();
    let mut stays = pubsub.client();
    stays.subscribe(Kind::Channel, &names(&["shared"]));
    {
        let mut goes = pubsub.client();
        goes.subscribe(Kind::Channel, &names(&["shared", "own"]));
        goes.subscribe(Kind::Pattern, &names(&["o*"]));
        assert_eq!(pubsub.subscribers(b"shared"), 2);
    }
    assert_eq!(pubsub.subscribers(b"shared"), 1);
    assert_eq!(pubsub.channels(None), names(&["shared"]));
    assert_eq!(pubsub.patterns(), 0);
}

#[test]
fn channels_lists_those_with_subscribers_matching_a_pattern() {
    let pubsub = PubSub::default();
    let mut client = pubsub.client();
    client.subscribe(Kind::Channel, &names(&["news.uk", "news.fr", "sport"]));
    let mut found = pubsub.channels(Some(b"news.*"));
    found.sort();
    assert_eq!(found, names(&["news.fr", "news.uk"]));
    assert_eq!(pubsub.channels(None).len(), 3);
    assert!(pubsub.channels(Some(b"x*")).is_empty());
}

#[test]
fn a_subscriber_over_its_limit_is_cut_off_others_go_on() {
    let pubsub = PubSub::default();
    let mut slow = pubsub.client();
    slow.subscribe(Kind::Channel, &names(&["ch", "other"]));
    slow.subscribe(Kind::Pattern, &names(&["c*"]));
    let mut reader = pubsub.client();
    reader.subscribe(Kind::Channel, &names(&["ch"]));
    output(&reader);
    let message = vec![b'm'; 1024 * 1024];
    let mut published = 0;
    loop {
        // Counted while it is cut off and not yet gone, as Redis does.
        assert_eq!(pubsub.publish(b"ch", &message), 3);
        published += 1;
        assert!(output(&reader).ends_with("mmm "));
        if slow.outbox.queued() == 0 {
            break; // Cut off: what waited for it is dropped.
        }
        assert!(published < 100, "never cut off");
    }
    // Two pushes a message (the channel and the pattern), each a little
    // over 1 MiB: the 16th takes it over 32 MiB.
    assert_eq!(published, 16);
    assert!(slow.outbox.take(&mut BytesMut::new()).is_err());
    // Its connection ends on the error, and drops its side.
    drop(slow);
    assert_eq!(pubsub.subscribers(b"other"), 0);
    assert_eq!(pubsub.patterns(), 0);
    assert_eq!(pubsub.publish(b"ch", b"on"), 1);
    assert!(output(&reader).ends_with("$2 on "));
}

#[test]
fn many_channels_come_and_go_in_linear_time() {
    let pubsub = PubSub::default();
    let mut client = pubsub.client();
    let many: Vec<Bytes> = (0..100_000)
        .map(|i| Bytes::from(format!("channel:{i}")))
        .collect();
    let started = std::time::Instant::now();
    client.subscribe(Kind::Channel, &many);
    output(&client);
    client.unsubscribe(Kind::Channel, &[]);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(pubsub.channels(None).is_empty());
}
