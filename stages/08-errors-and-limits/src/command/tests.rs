use super::*;

fn args(words: &[&str]) -> Vec<Bytes> {
    words
        .iter()
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

fn error_of(words: &[&str]) -> String {
    match Command::parse(args(words)) {
        Err(Reply::Error(text)) => String::from_utf8(text).unwrap(),
        other => panic!("{words:?}: {other:?}"),
    }
}

/// Parses and runs one command against `db`; it must parse.
fn run(db: &Db, words: &[&str]) -> Reply {
    Command::parse(args(words))
        .unwrap()
        .execute(db, &mut Session::default())
}

fn bulk(text: &'static str) -> Reply {
    Reply::Bulk(Bytes::from_static(text.as_bytes()))
}

#[test]
fn ping_and_echo_in_any_case() {
    let db = Db::default();
    assert_eq!(run(&db, &["PING"]), Reply::Simple("PONG"));
    assert_eq!(run(&db, &["ping", "hi"]), bulk("hi"));
    assert_eq!(run(&db, &["eChO", "a b"]), bulk("a b"));
    assert_eq!(run(&db, &["ECHO", ""]), bulk(""));
}

#[test]
fn errors_as_redis_words_them() {
    assert_eq!(
        error_of(&["FOO", "a", "b"]),
        "ERR unknown command 'FOO', with args beginning with: 'a' 'b' "
    );
    assert_eq!(
        error_of(&["foo"]),
        "ERR unknown command 'foo', with args beginning with: "
    );
    assert_eq!(
        error_of(&["ECHO"]),
        "ERR wrong number of arguments for 'echo' command"
    );
    assert_eq!(
        error_of(&["echo", "a", "b"]),
        "ERR wrong number of arguments for 'echo' command"
    );
    assert_eq!(
        error_of(&["PING", "a", "b"]),
        "ERR wrong number of arguments for 'ping' command"
    );
    assert_eq!(
        error_of(&["gEt"]),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        error_of(&["SET", "k"]),
        "ERR wrong number of arguments for 'set' command"
    );
}

#[test]
fn an_unknown_command_quotes_at_most_128_bytes_of_arguments() {
    let long = "x".repeat(200);
    let text = error_of(&["nope", &long, "more"]);
    let quoted = text.split_once("beginning with: ").unwrap().1;
    assert_eq!(quoted, format!("'{}' ", "x".repeat(128)));
    // The list stops once it reaches 128 bytes; the last one is cut to fit.
    let twenty = "y".repeat(20);
    let text = error_of(&["nope", &long[..100], &twenty, &twenty, &twenty]);
    let quoted = text.split_once("beginning with: ").unwrap().1;
    assert_eq!(quoted, format!("'{}' '{twenty}' 'yy' ", &long[..100]));
    // The name is cut at 128 bytes too.
    let text = error_of(&[&long]);
    assert_eq!(
        text,
        format!(
            "ERR unknown command '{}', with args beginning with: ",
            "x".repeat(128)
        )
    );
}

#[test]
fn an_unknown_command_ends_each_string_at_a_nul_byte() {
    assert_eq!(
        error_of(&["no\0pe", "a\0b"]),
        "ERR unknown command 'no', with args beginning with: 'a' "
    );
}

#[test]
fn set_and_get_run_against_the_db() {
    let db = Db::default();
    assert_eq!(run(&db, &["GET", "k"]), Reply::Null);
    assert_eq!(run(&db, &["SET", "k", "v"]), Reply::Simple("OK"));
    assert_eq!(run(&db, &["get", "k"]), bulk("v"));
    assert_eq!(run(&db, &["SET", "k", "w"]), Reply::Simple("OK"));
    assert_eq!(run(&db, &["GET", "k"]), bulk("w"));
}

#[test]
fn set_option_errors_in_redis_order() {
    for (words, expected) in [
        (&["SET", "k", "v", "FOO"][..], "ERR syntax error"),
        (&["SET", "k", "v", "EX"], "ERR syntax error"),
        (&["SET", "k", "v", "NX", "XX"], "ERR syntax error"),
        (&["SET", "k", "v", "EX", "1", "PX", "5"], "ERR syntax error"),
        (&["SET", "k", "v", "KEEPTTL", "EX", "1"], "ERR syntax error"),
        (&["SET", "k", "v", "EX", "1", "KEEPTTL"], "ERR syntax error"),
        // The shape is checked before the number.
        (&["SET", "k", "v", "EX", "abc", "FOO"], "ERR syntax error"),
        (
            &["SET", "k", "v", "EX", "abc"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["SET", "k", "v", "EX", "0"],
            "ERR invalid expire time in 'set' command",
        ),
        (
            &["SET", "k", "v", "PX", "-5"],
            "ERR invalid expire time in 'set' command",
        ),
        (
            &["SET", "k", "v", "EX", "9223372036854775"],
            "ERR invalid expire time in 'set' command",
        ),
        (
            &["SET", "k", "v", "PXAT", "0"],
            "ERR invalid expire time in 'set' command",
        ),
    ] {
        assert_eq!(error_of(words), expected, "{words:?}");
    }
}

#[test]
fn set_options_in_any_case_and_order() {
    let command = Command::parse(args(&["set", "k", "v", "nx", "px", "100", "get"])).unwrap();
    let Command::Set {
        condition,
        expiry,
        return_old,
        ..
    } = command
    else {
        panic!("{command:?}");
    };
    assert_eq!(condition, Condition::IfAbsent);
    assert!(return_old);
    assert!(matches!(expiry, Expiry::At(_)));
    // The same time option twice: the last one counts.
    assert!(Command::parse(args(&["SET", "k", "v", "EX", "1", "ex", "2"])).is_ok());
    let keep = Command::parse(args(&["SET", "k", "v", "KEEPTTL"])).unwrap();
    assert!(matches!(
        keep,
        Command::Set {
            expiry: Expiry::Keep,
            ..
        }
    ));
}

#[test]
fn set_options_run_against_the_db() {
    let db = Db::default();
    assert_eq!(run(&db, &["SET", "k", "v", "XX"]), Reply::Null);
    assert_eq!(run(&db, &["SET", "k", "v", "NX"]), Reply::Simple("OK"));
    assert_eq!(run(&db, &["SET", "k", "w", "NX"]), Reply::Null);
    assert_eq!(run(&db, &["SET", "k", "w", "GET"]), bulk("v"));
    assert_eq!(run(&db, &["SET", "new", "w", "GET"]), Reply::Null);
    assert_eq!(run(&db, &["GET", "k"]), bulk("w"));
    assert_eq!(
        run(&db, &["SET", "gone", "v", "PXAT", "1"]),
        Reply::Simple("OK")
    );
    assert_eq!(run(&db, &["GET", "gone"]), Reply::Null);
}

#[test]
fn ttl_and_pttl_round_as_redis_does() {
    let db = Db::default();
    assert_eq!(run(&db, &["TTL", "missing"]), Reply::Integer(-2));
    assert_eq!(run(&db, &["pttl", "missing"]), Reply::Integer(-2));
    run(&db, &["SET", "forever", "v"]);
    assert_eq!(run(&db, &["TTL", "forever"]), Reply::Integer(-1));
    assert_eq!(run(&db, &["PTTL", "forever"]), Reply::Integer(-1));
    // 2.6 s left is 3 s to TTL (rounded to the nearest second), and PTTL
    // counts a started millisecond as a whole one.
    run(&db, &["SET", "k", "v", "PX", "2600"]);
    assert_eq!(run(&db, &["TTL", "k"]), Reply::Integer(3));
    let Reply::Integer(left) = run(&db, &["PTTL", "k"]) else {
        panic!("PTTL answers an integer");
    };
    assert!((2590..=2600).contains(&left), "{left}");
    run(&db, &["SET", "k", "v", "PX", "2400"]);
    assert_eq!(run(&db, &["TTL", "k"]), Reply::Integer(2));
    run(&db, &["SET", "k", "w", "KEEPTTL"]);
    assert_eq!(run(&db, &["TTL", "k"]), Reply::Integer(2));
    run(&db, &["SET", "k", "v"]);
    assert_eq!(run(&db, &["TTL", "k"]), Reply::Integer(-1));
    assert_eq!(whole_milliseconds(Duration::from_nanos(1)), 1);
    assert_eq!(whole_milliseconds(Duration::from_millis(1500)), 1500);
    assert_eq!(
        error_of(&["TTL"]),
        "ERR wrong number of arguments for 'ttl' command"
    );
    assert_eq!(
        error_of(&["PTTL", "a", "b"]),
        "ERR wrong number of arguments for 'pttl' command"
    );
}

#[test]
fn dbsize_counts_the_keys() {
    let db = Db::default();
    assert_eq!(run(&db, &["DBSIZE"]), Reply::Integer(0));
    run(&db, &["SET", "a", "1"]);
    run(&db, &["SET", "b", "2", "EX", "100"]);
    run(&db, &["SET", "a", "3"]);
    assert_eq!(run(&db, &["dbsize"]), Reply::Integer(2));
    assert_eq!(
        error_of(&["DBSIZE", "x"]),
        "ERR wrong number of arguments for 'dbsize' command"
    );
}

#[test]
fn quit_answers_ok_whatever_its_arguments() {
    let db = Db::default();
    assert_eq!(Command::parse(args(&["quit", "now"])), Ok(Command::Quit));
    assert_eq!(run(&db, &["QUIT"]), Reply::Simple("OK"));
}

#[test]
fn a_connection_keeps_its_name() {
    let db = Db::default();
    let (mut one, mut other) = (Session::default(), Session::default());
    let run_in = |session: &mut Session, words: &[&str]| {
        Command::parse(args(words)).unwrap().execute(&db, session)
    };
    assert_eq!(
        run_in(&mut one, &["CLIENT", "SETNAME", "bob"]),
        Reply::Simple("OK")
    );
    assert_eq!(run_in(&mut one, &["CLIENT", "GETNAME"]), bulk("bob"));
    assert_eq!(run_in(&mut other, &["CLIENT", "GETNAME"]), Reply::Null);
    // An empty name clears it.
    run_in(&mut one, &["CLIENT", "SETNAME", ""]);
    assert_eq!(run_in(&mut one, &["CLIENT", "GETNAME"]), Reply::Null);
}

#[test]
fn what_clients_send_when_they_connect() {
    let db = Db::default();
    assert_eq!(run(&db, &["COMMAND", "DOCS"]), Reply::Array(Vec::new()));
    assert_eq!(run(&db, &["COMMAND"]), Reply::Array(Vec::new()));
    assert_eq!(run(&db, &["command", "count"]), Reply::Integer(12));
    assert_eq!(
        run(&db, &["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]),
        Reply::Simple("OK")
    );
    assert_eq!(run(&db, &["client", "setname", "me"]), Reply::Simple("OK"));
    assert_eq!(run(&db, &["CLIENT", "GETNAME"]), Reply::Null);
    // Named as asked, once each.
    assert_eq!(
        run(
            &db,
            &["CONFIG", "GET", "SAVE", "appendonly", "other", "save"]
        ),
        Reply::Array(vec![bulk("SAVE"), bulk(""), bulk("appendonly"), bulk("no")])
    );
    assert_eq!(run(&db, &["SELECT", "0"]), Reply::Simple("OK"));
    for (words, expected) in [
        (
            &["CLIENT", "FOO"][..],
            "ERR unknown subcommand 'FOO'. Try CLIENT HELP.",
        ),
        (
            &["CLIENT"],
            "ERR wrong number of arguments for 'client' command",
        ),
        (
            &["CLIENT", "SETNAME"],
            "ERR wrong number of arguments for 'client|setname' command",
        ),
        (
            &["COMMAND", "COUNT", "x"],
            "ERR wrong number of arguments for 'command|count' command",
        ),
        (
            &["COMMAND", "FOO"],
            "ERR unknown subcommand 'FOO'. Try COMMAND HELP.",
        ),
        (
            &["CONFIG", "SET", "save", ""],
            "ERR unknown subcommand 'SET'. Try CONFIG HELP.",
        ),
        (
            &["CONFIG", "GET"],
            "ERR wrong number of arguments for 'config|get' command",
        ),
        (&["SELECT", "1"], "ERR DB index is out of range"),
        (
            &["SELECT", "2147483648"],
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ),
        (
            &["CLIENT", "SETNAME", "a b"],
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ),
        (
            &["CLIENT", "GETNAME", "x"],
            "ERR wrong number of arguments for 'client|getname' command",
        ),
        (
            &["SELECT", "x"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["SELECT"],
            "ERR wrong number of arguments for 'select' command",
        ),
    ] {
        assert_eq!(error_of(words), expected, "{words:?}");
    }
}

#[test]
fn nothing_a_client_sends_panics_a_command() {
    let words = [
        "SET",
        "GET",
        "k",
        "v",
        "NX",
        "XX",
        "EX",
        "PX",
        "EXAT",
        "PXAT",
        "KEEPTTL",
        "0",
        "1",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "abc",
        "TTL",
        "PTTL",
        "DBSIZE",
        "PING",
        "ECHO",
        "",
    ];
    let db = Db::default();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut below = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for _ in 0..20_000 {
        let command: Vec<&str> = (0..below(8)).map(|_| words[below(words.len())]).collect();
        if let Ok(command) = Command::parse(args(&command)) {
            command.execute(&db, &mut Session::default());
        }
    }
}
