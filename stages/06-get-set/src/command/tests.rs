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
    Command::parse(args(words)).unwrap().execute(db)
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
fn an_unknown_command_quotes_its_name_and_arguments_whole() {
    let long = "x".repeat(200);
    assert_eq!(
        error_of(&[&long, "a\0b"]),
        format!("ERR unknown command '{long}', with args beginning with: 'a\0b' ")
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
fn set_with_more_arguments_is_a_syntax_error() {
    assert_eq!(error_of(&["SET", "k", "v", "EX", "10"]), "ERR syntax error");
    assert_eq!(error_of(&["SET", "k", "v", "NX"]), "ERR syntax error");
}
