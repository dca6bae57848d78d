use super::*;

/// Each pair was read off redis-server 7.0.15: ZADD, then ZSCORE.
#[test]
fn prints_as_redis_7_0() {
    for (score, printed) in [
        (1.0, "1"),
        (1.5, "1.5"),
        (0.5, "0.5"),
        (0.1, "0.10000000000000001"),
        (1e100, "1e+100"),
        (123456789012345678.0, "1.2345678901234568e+17"),
        (16.0, "16"),
        (-2.25, "-2.25"),
        (f64::from_bits(1), "4.9406564584124654e-324"),
        (0.0001, "0.0001"),
        (0.00001, "1.0000000000000001e-05"),
        (1e16, "10000000000000000"),
        (1e17, "1e+17"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
        (-0.0, "-0"),
    ] {
        assert_eq!(format_score(score), printed, "{score:e}");
    }
}

#[test]
fn parses_as_redis_7_0() {
    for (text, score) in [
        ("1", 1.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("+1.5e3", 1500.0),
        ("inf", f64::INFINITY),
        ("+inf", f64::INFINITY),
        ("-inf", f64::NEG_INFINITY),
        ("INF", f64::INFINITY),
        ("-Infinity", f64::NEG_INFINITY),
        ("4.9e-324", f64::from_bits(1)),
        ("-0", -0.0),
    ] {
        assert_eq!(parse_score(text.as_bytes()), Some(score), "{text}");
    }
    // Refused by Redis: `ERR value is not a valid float`.
    for text in [
        "", "x", "nan", "NaN", "-nan", "1e400", "-1e400", "1e-400", " 1", "1 ", "1e", "e5", ".",
        "1,5", "\u{0}1",
    ] {
        assert_eq!(parse_score(text.as_bytes()), None, "{text:?}");
    }
    assert_eq!(parse_score(b"\xff"), None);
}

#[test]
fn every_printed_score_reads_back_the_same() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..10_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let score = f64::from_bits(x);
        if score.is_finite() {
            let printed = format_score(score);
            assert_eq!(parse_score(printed.as_bytes()), Some(score), "{printed}");
        }
    }
}

/// Each read off redis-server 7.0.15 with ZCOUNT: a range's ends are read
/// by plain `strtod`, more leniently than scores.
#[test]
fn reads_range_bounds_as_redis_7_0() {
    for (text, bound) in [
        ("1", (1.0, false)),
        ("(1", (1.0, true)),
        ("", (0.0, false)),
        ("(", (0.0, true)),
        (" 1", (1.0, false)),
        ("( 1", (1.0, true)),
        ("\t1", (1.0, false)),
        ("1e-400", (0.0, false)),
        ("1e400", (f64::INFINITY, false)),
        ("-1e400", (f64::NEG_INFINITY, false)),
        ("(-inf", (f64::NEG_INFINITY, true)),
        ("+inf", (f64::INFINITY, false)),
        ("Infinity", (f64::INFINITY, false)),
    ] {
        assert_eq!(parse_bound(text.as_bytes()), Some(bound), "{text:?}");
    }
    // Refused by Redis: `ERR min or max is not a float`.
    for text in [" ", "1 ", "1e", ".", "((1", "(x", "nan", "(nan", "1,5", "x"] {
        assert_eq!(parse_bound(text.as_bytes()), None, "{text:?}");
    }
}
