use super::*;

#[test]
fn set_then_get() {
    let db = Db::default();
    assert_eq!(db.get(b"k").unwrap(), None);
    assert_eq!(
        db.set(b"k", b"v", Expiry::Never, Condition::Always, false)
            .unwrap(),
        (true, None)
    );
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn nx_and_xx() {
    let db = Db::default();
    assert!(
        !db.set(b"k", b"v", Expiry::Never, Condition::IfPresent, false)
            .unwrap()
            .0
    );
    assert!(
        db.set(b"k", b"v", Expiry::Never, Condition::IfAbsent, false)
            .unwrap()
            .0
    );
    let (set, old) = db
        .set(b"k", b"w", Expiry::Never, Condition::IfAbsent, false)
        .unwrap();
    assert!(!set);
    assert_eq!(old.as_deref(), Some(&b"v"[..]));
}

#[test]
fn an_expired_key_is_never_returned() {
    let db = Db::default();
    let past = Instant::now() - Duration::from_millis(1);
    db.set(b"k", b"v", Expiry::At(past), Condition::Always, false)
        .unwrap();
    assert_eq!(db.get(b"k").unwrap(), None);
    assert_eq!(db.len(), 0, "reading it deleted it");
    assert!(db.lock().expires.is_empty(), "and its expiry time");
    // And NX sees it as absent.
    assert!(
        db.set(b"k", b"v", Expiry::Never, Condition::IfAbsent, false)
            .unwrap()
            .0
    );
}

#[test]
fn active_expiry_samples_until_few_are_expired() {
    let db = Db::default();
    let past = Instant::now() - Duration::from_millis(1);
    let future = Instant::now() + Duration::from_secs(60);
    for i in 0..2_000 {
        let key = format!("dead{i}");
        db.set(
            key.as_bytes(),
            b"v",
            Expiry::At(past),
            Condition::Always,
            false,
        )
        .unwrap();
    }
    for i in 0..100 {
        let key = format!("alive{i}");
        db.set(
            key.as_bytes(),
            b"v",
            Expiry::At(future),
            Condition::Always,
            false,
        )
        .unwrap();
        let key = format!("plain{i}");
        db.set(
            key.as_bytes(),
            b"v",
            Expiry::Never,
            Condition::Always,
            false,
        )
        .unwrap();
    }
    let mut random = Random::new();
    let mut rounds = 0;
    while db.len() > 200 && rounds < 100 {
        db.expire_sample(&mut random, Duration::from_millis(25));
        db.maintain_tables();
        rounds += 1;
    }
    // Sampling stops once a quarter or fewer of a sample are expired, so a
    // few dead keys may remain until a later round or a read.
    assert!(
        db.len() < 260,
        "{} keys left after {rounds} rounds",
        db.len()
    );
    for i in 0..100 {
        assert!(db.get(format!("plain{i}").as_bytes()).unwrap().is_some());
        assert!(db.get(format!("alive{i}").as_bytes()).unwrap().is_some());
    }
}

#[test]
fn overwriting_drops_or_keeps_the_old_expiry() {
    let db = Db::default();
    let soon = Instant::now() + Duration::from_secs(60);
    db.set(b"k", b"v", Expiry::At(soon), Condition::Always, false)
        .unwrap();
    assert_eq!(db.lock().expires.len(), 1);
    db.set(b"k", b"w", Expiry::Never, Condition::Always, false)
        .unwrap();
    assert_eq!(db.lock().expires.len(), 0);
    assert_eq!(db.time_to_live(b"k"), TimeToLive::Forever);
    db.set(b"k", b"v", Expiry::At(soon), Condition::Always, false)
        .unwrap();
    db.set(b"k", b"x", Expiry::Keep, Condition::Always, false)
        .unwrap();
    assert!(matches!(db.time_to_live(b"k"), TimeToLive::Left(_)));
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"x"[..]));
}

#[test]
fn time_to_live_of_missing_lasting_and_expiring_keys() {
    let db = Db::default();
    assert_eq!(db.time_to_live(b"k"), TimeToLive::Missing);
    db.set(b"k", b"v", Expiry::Never, Condition::Always, false)
        .unwrap();
    assert_eq!(db.time_to_live(b"k"), TimeToLive::Forever);
    let in_a_minute = Instant::now() + Duration::from_secs(60);
    db.set(
        b"k",
        b"v",
        Expiry::At(in_a_minute),
        Condition::Always,
        false,
    )
    .unwrap();
    let TimeToLive::Left(left) = db.time_to_live(b"k") else {
        panic!("k has an expiry time");
    };
    assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(59));
    let past = Instant::now() - Duration::from_millis(1);
    db.set(b"k", b"v", Expiry::At(past), Condition::Always, false)
        .unwrap();
    assert_eq!(db.time_to_live(b"k"), TimeToLive::Missing);
}

#[test]
fn len_counts_expired_keys_until_they_are_deleted() {
    let db = Db::default();
    let past = Instant::now() - Duration::from_millis(1);
    db.set(b"a", b"v", Expiry::At(past), Condition::Always, false)
        .unwrap();
    db.set(b"b", b"v", Expiry::Never, Condition::Always, false)
        .unwrap();
    assert_eq!(db.len(), 2);
    assert_eq!(db.expire_sample(&mut Random::new(), Duration::ZERO), 1);
    assert_eq!(db.len(), 1);
}

#[test]
fn hash_table_stats_describe_both_tables() {
    let db = Db::default();
    assert_eq!(
        db.hash_table_stats(),
        "[Dictionary HT]\n\
         Hash table 0 stats (main hash table):\n\
         No stats available for empty dictionaries\n\
         [Expires HT]\n\
         Hash table 0 stats (main hash table):\n\
         No stats available for empty dictionaries\n"
    );
    let later = Instant::now() + Duration::from_secs(60);
    db.set(b"a", b"v", Expiry::At(later), Condition::Always, false)
        .unwrap();
    let stats = db.hash_table_stats();
    let (keys, expires) = stats.split_once("[Expires HT]\n").expect("two sections");
    for section in [keys, expires] {
        assert!(section.contains(" table size: 4\n number of elements: 1\n"));
    }
}

#[test]
fn the_timer_finishes_a_resize_and_shrinks_a_sparse_table() {
    let db = Db::default();
    let soon = Instant::now() + Duration::from_millis(20);
    for i in 0..1_000 {
        let key = format!("k{i}");
        db.set(
            key.as_bytes(),
            b"v",
            Expiry::At(soon),
            Condition::Always,
            false,
        )
        .unwrap();
    }
    db.set(b"stays", b"v", Expiry::Never, Condition::Always, false)
        .unwrap();
    db.maintain_tables();
    assert!(!db.lock().entries.is_rehashing());
    assert!(db.hash_table_stats().contains(" table size: 1024\n"));
    std::thread::sleep(Duration::from_millis(30));
    let mut random = Random::new();
    while db.len() > 1 {
        db.expire_sample(&mut random, Duration::from_secs(1));
    }
    db.maintain_tables();
    let stats = db.hash_table_stats();
    let (keys, expires) = stats.split_once("[Expires HT]\n").expect("two sections");
    assert!(
        keys.contains(" table size: 4\n number of elements: 1\n"),
        "{keys}"
    );
    assert!(expires.contains("No stats available"), "{expires}");
}

fn bytes(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

#[test]
fn delete_and_count_existing() {
    let db = Db::default();
    db.set(b"a", b"1", Expiry::Never, Condition::Always, false)
        .unwrap();
    let later = Instant::now() + Duration::from_secs(60);
    db.set(b"b", b"2", Expiry::At(later), Condition::Always, false)
        .unwrap();
    let past = Instant::now() - Duration::from_millis(1);
    db.set(b"gone", b"3", Expiry::At(past), Condition::Always, false)
        .unwrap();
    assert_eq!(db.count_existing(&[bytes("a"), bytes("a"), bytes("zz")]), 2);
    assert_eq!(db.count_existing(&[bytes("gone")]), 0, "expired");
    assert_eq!(
        db.delete(&[bytes("a"), bytes("a"), bytes("b"), bytes("c")]),
        2
    );
    assert_eq!(db.len(), 0);
    assert!(db.lock().expires.is_empty(), "b's expiry time went with it");
}

#[test]
fn keys_with_a_pattern_and_never_an_expired_one() {
    let db = Db::default();
    for key in ["hello", "hallo", "hxllo", "other"] {
        db.set(
            key.as_bytes(),
            b"v",
            Expiry::Never,
            Condition::Always,
            false,
        )
        .unwrap();
    }
    let past = Instant::now() - Duration::from_millis(1);
    db.set(b"hbllo", b"v", Expiry::At(past), Condition::Always, false)
        .unwrap();
    let mut found = db.keys_matching(b"h[ae]llo");
    found.sort();
    assert_eq!(found, vec![bytes("hallo"), bytes("hello")]);
    assert_eq!(db.keys_matching(b"*").len(), 4);
    assert_eq!(db.keys_matching(b"h?llo").len(), 3);
    assert_eq!(
        db.len(),
        5,
        "KEYS lists an expired key as gone, and leaves it"
    );
}

#[test]
fn clear_empties_both_tables() {
    let db = Db::default();
    let later = Instant::now() + Duration::from_secs(60);
    for i in 0..100 {
        let key = format!("k{i}");
        db.set(
            key.as_bytes(),
            b"v",
            Expiry::At(later),
            Condition::Always,
            false,
        )
        .unwrap();
    }
    db.clear();
    assert_eq!(db.len(), 0);
    assert_eq!(db.keys_matching(b"*"), Vec::<Bytes>::new());
    assert!(db.hash_table_stats().matches("No stats available").count() == 2);
    db.set(b"k", b"v", Expiry::Never, Condition::Always, false)
        .unwrap();
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn a_set_holds_each_member_once_and_goes_when_emptied() {
    let db = Db::default();
    let members: Vec<Bytes> = (0..1_000).map(|i| bytes(&format!("m{i}"))).collect();
    assert_eq!(db.set_add(b"s", &members), Ok(1_000));
    assert_eq!(db.set_add(b"s", &members[..10]), Ok(0));
    assert_eq!(db.set_len(b"s"), Ok(1_000));
    assert_eq!(db.set_contains(b"s", b"m999"), Ok(true));
    assert_eq!(db.set_members(b"s").map(|found| found.len()), Ok(1_000));
    assert_eq!(db.set_remove(b"s", &members[..999]), Ok(999));
    assert_eq!(db.type_of(b"s"), "set");
    assert_eq!(db.set_remove(b"s", &members), Ok(1));
    assert_eq!(db.type_of(b"s"), "none");
    assert_eq!(db.len(), 0);
}

#[test]
fn an_expired_string_makes_room_for_a_set() {
    let db = Db::default();
    let past = Instant::now() - Duration::from_millis(1);
    db.set(b"k", b"v", Expiry::At(past), Condition::Always, false)
        .unwrap();
    assert_eq!(db.set_add(b"k", &[bytes("m")]), Ok(1));
    assert_eq!(db.type_of(b"k"), "set");
    assert_eq!(db.time_to_live(b"k"), TimeToLive::Forever);
    assert_eq!(db.get(b"k"), Err(WrongType));
}
