use super::*;

const KEYS: [&str; 9] = [
    "hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "h]llo", "h-llo", "h\\llo",
];

fn keys_matching(pattern: &str) -> Vec<&'static str> {
    let mut found: Vec<&str> = KEYS
        .iter()
        .copied()
        .filter(|key| matches(pattern.as_bytes(), key.as_bytes()))
        .collect();
    found.sort();
    found
}

fn sorted(mut keys: Vec<&'static str>) -> Vec<&'static str> {
    keys.sort();
    keys
}

/// Each expectation was read off redis-server 7.0.15 with KEYS.
#[test]
fn matches_as_redis_does() {
    let all_five: Vec<&str> = KEYS.iter().copied().filter(|k| k.len() == 5).collect();
    assert_eq!(keys_matching("h?llo"), sorted(all_five.clone()));
    assert_eq!(keys_matching("h*llo"), sorted(KEYS.to_vec()));
    assert_eq!(keys_matching("h[ae]llo"), sorted(vec!["hallo", "hello"]));
    assert_eq!(
        keys_matching("h[^e]llo"),
        sorted(all_five.iter().copied().filter(|k| *k != "hello").collect())
    );
    assert_eq!(keys_matching("h[a-b]llo"), vec!["hallo"]);
    assert_eq!(keys_matching("h[b-a]llo"), vec!["hallo"]);
    assert_eq!(keys_matching("h\\*llo"), vec!["h*llo"]);
    assert_eq!(keys_matching("h[]]llo"), Vec::<&str>::new());
    assert_eq!(keys_matching("h[a-]llo"), Vec::<&str>::new());
    assert_eq!(keys_matching("h[\\]]llo"), vec!["h]llo"]);
    assert_eq!(keys_matching("h[\\\\]llo"), vec!["h\\llo"]);
    assert_eq!(keys_matching("h[x"), Vec::<&str>::new());
    assert_eq!(keys_matching("h\\"), Vec::<&str>::new());
    assert_eq!(keys_matching("H*"), Vec::<&str>::new());
    assert_eq!(keys_matching("*[]"), Vec::<&str>::new());
    assert_eq!(keys_matching("h[^]llo"), sorted(all_five));
    assert_eq!(keys_matching("*"), sorted(KEYS.to_vec()));
}

#[test]
fn simple_cases() {
    assert!(matches(b"", b""));
    assert!(!matches(b"", b"a"));
    // As in Redis: nothing matches an empty string but an empty pattern.
    // (KEYS * still lists an empty key: the database treats `*` as
    // "everything" before it matches anything, as Redis does.)
    assert!(!matches(b"*", b""));
    assert!(matches(b"a*", b"a"));
    assert!(matches(b"*b", b"aab"));
    assert!(!matches(b"?", b""));
    assert!(matches(b"a[x", b"ax"));
}

#[test]
fn a_pattern_built_to_backtrack_is_fast() {
    let text = vec![b'a'; 5_000];
    let pattern = b"*a*a*a*a*a*a*a*a*a*a*a*a*b";
    let started = std::time::Instant::now();
    assert!(!matches(pattern, &text));
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn thousands_of_stars_do_not_overflow_the_stack() {
    let pattern = b"*a".repeat(100_000);
    let text = vec![b'a'; 100_000];
    // Deeper than the limit: not followed, so no match (and no crash).
    assert!(!matches(&pattern, &text));
}
