use super::*;

#[test]
fn set_then_get() {
    let db = Db::default();
    assert_eq!(db.get(b"k"), None);
    db.set(b"k", b"v");
    assert_eq!(db.get(b"k").as_deref(), Some(&b"v"[..]));
}

#[test]
fn set_replaces_the_value() {
    let db = Db::default();
    db.set(b"k", b"v");
    db.set(b"k", b"w");
    assert_eq!(db.get(b"k").as_deref(), Some(&b"w"[..]));
    assert_eq!(db.lock().len(), 1);
}

#[test]
fn every_clone_shares_one_key_space() {
    let db = Db::default();
    let other = db.clone();
    other.set(b"k", b"v");
    assert_eq!(db.get(b"k").as_deref(), Some(&b"v"[..]));
}

#[test]
fn keys_and_values_are_any_bytes() {
    let db = Db::default();
    let every_byte: Vec<u8> = (0..=255).collect();
    db.set(&every_byte, b"\0\r\n");
    assert_eq!(db.get(&every_byte).as_deref(), Some(&b"\0\r\n"[..]));
    db.set(b"", b"");
    assert_eq!(db.get(b"").as_deref(), Some(&b""[..]));
}
