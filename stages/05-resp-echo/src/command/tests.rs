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

/// Parses and runs one command; it must parse.
fn run(words: &[&str]) -> Reply {
    Command::parse(args(words)).unwrap().execute()
}

fn bulk(text: &'static str) -> Reply {
    Reply::Bulk(Bytes::from_static(text.as_bytes()))
}

#[test]
fn ping_and_echo_in_any_case() {
    assert_eq!(run(&["PING"]), Reply::Simple("PONG"));
    assert_eq!(run(&["ping", "hi"]), bulk("hi"));
    assert_eq!(run(&["eChO", "a b"]), bulk("a b"));
    assert_eq!(run(&["ECHO", ""]), bulk(""));
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
}

#[test]
fn an_unknown_command_quotes_its_name_and_arguments_whole() {
    let long = "x".repeat(200);
    assert_eq!(
        error_of(&[&long, "a\0b"]),
        format!("ERR unknown command '{long}', with args beginning with: 'a\0b' ")
    );
}
