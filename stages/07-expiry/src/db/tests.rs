use super::*;

#[test]
fn set_then_get() {
    let db = Db::default();
    assert_eq!(db.get(b"k"), None);
    assert_eq!(
        db.set(b"k", b"v", Expiry::Never, Condition::Always),
        (true, None)
    );
    assert_eq!(db.get(b"k").as_deref(), Some(&b"v"[..]));
}

#[test]
fn every_clone_shares_one_key_space() {
    let db = Db::default();
    let other = db.clone();
    other.set(b"k", b"v", Expiry::Never, Condition::Always);
    assert_eq!(db.get(b"k").as_deref(), Some(&b"v"[..]));
}

#[test]
fn keys_and_values_are_any_bytes() {
    let db = Db::default();
    let every_byte: Vec<u8> = (0..=255).collect();
    db.set(&every_byte, b"\0\r\n", Expiry::Never, Condition::Always);
    assert_eq!(db.get(&every_byte).as_deref(), Some(&b"\0\r\n"[..]));
    db.set(b"", b"", Expiry::Never, Condition::Always);
    assert_eq!(db.get(b"").as_deref(), Some(&b""[..]));
}

#[test]
fn nx_and_xx() {
    let db = Db::default();
    assert!(!db.set(b"k", b"v", Expiry::Never, Condition::IfPresent).0);
    assert!(db.set(b"k", b"v", Expiry::Never, Condition::IfAbsent).0);
    let (set, old) = db.set(b"k", b"w", Expiry::Never, Condition::IfAbsent);
    assert!(!set);
    assert_eq!(old.as_deref(), Some(&b"v"[..]));
}

#[test]
fn an_expired_key_is_never_returned() {
    let db = Db::default();
    let past = Instant::now() - Duration::from_millis(1);
    db.set(b"k", b"v", Expiry::At(past), Condition::Always);
    assert_eq!(db.get(b"k"), None);
    assert_eq!(db.len(), 0, "reading it deleted it");
    // And NX sees it as absent.
    assert!(db.set(b"k", b"v", Expiry::Never, Condition::IfAbsent).0);
}

#[test]
fn expired_keys_nobody_reads_are_purged() {
    let db = Db::default();
    let soon = Instant::now() + Duration::from_secs(60);
    for i in 0..2_500 {
        db.set(
            format!("k{i}").as_bytes(),
            b"v",
            Expiry::At(soon),
            Condition::Always,
        );
    }
    db.set(b"stays", b"v", Expiry::Never, Condition::Always);
    assert_eq!(db.purge_expired(Instant::now(), usize::MAX), 0);
    let later = soon + Duration::from_millis(1);
    assert_eq!(db.purge_expired(later, 1_000), 1_000, "bounded slices");
    assert_eq!(db.purge_expired(later, usize::MAX), 1_500);
    assert_eq!(db.len(), 1);
}

#[test]
fn overwriting_drops_or_keeps_the_old_expiry() {
    let db = Db::default();
    let soon = Instant::now() + Duration::from_millis(5);
    db.set(b"k", b"v", Expiry::At(soon), Condition::Always);
    db.set(b"k", b"w", Expiry::Never, Condition::Always);
    assert_eq!(
        db.purge_expired(soon + Duration::from_secs(1), usize::MAX),
        0
    );
    assert_eq!(db.lock().expirations.len(), 0);
    db.set(b"k", b"v", Expiry::At(soon), Condition::Always);
    db.set(b"k", b"x", Expiry::Keep, Condition::Always);
    assert_eq!(
        db.purge_expired(soon + Duration::from_secs(1), usize::MAX),
        1
    );
}

#[test]
fn time_to_live_of_missing_lasting_and_expiring_keys() {
    let db = Db::default();
    assert_eq!(db.time_to_live(b"k"), TimeToLive::Missing);
    db.set(b"k", b"v", Expiry::Never, Condition::Always);
    assert_eq!(db.time_to_live(b"k"), TimeToLive::Forever);
    let in_a_minute = Instant::now() + Duration::from_secs(60);
    db.set(b"k", b"v", Expiry::At(in_a_minute), Condition::Always);
    let TimeToLive::Left(left) = db.time_to_live(b"k") else {
        panic!("k has an expiry time");
    };
    assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(59));
    let past = Instant::now() - Duration::from_millis(1);
    db.set(b"k", b"v", Expiry::At(past), Condition::Always);
    assert_eq!(db.time_to_live(b"k"), TimeToLive::Missing);
}

#[test]
fn len_counts_expired_keys_until_they_are_deleted() {
    let db = Db::default();
    let soon = Instant::now() + Duration::from_millis(1);
    db.set(b"a", b"v", Expiry::At(soon), Condition::Always);
    db.set(b"b", b"v", Expiry::Never, Condition::Always);
    assert_eq!(db.len(), 2);
    let later = soon + Duration::from_millis(1);
    assert_eq!(db.purge_expired(later, usize::MAX), 1);
    assert_eq!(db.len(), 1);
}
