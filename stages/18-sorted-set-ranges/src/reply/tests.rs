use super::*;

fn encode(reply: Reply) -> Vec<u8> {
    let mut out = BytesMut::new();
    reply.write_to(&mut out);
    out.to_vec()
}

#[test]
fn simple_strings_and_errors() {
    assert_eq!(encode(Reply::Simple("OK")), b"+OK\r\n");
    assert_eq!(
        encode(Reply::error("syntax error")),
        b"-ERR syntax error\r\n"
    );
}

#[test]
fn an_error_stays_on_one_line() {
    assert_eq!(encode(Reply::error("a\r\nb")), b"-ERR a  b\r\n");
}

#[test]
fn bulk_strings_hold_any_bytes() {
    assert_eq!(
        encode(Reply::Bulk(Bytes::from_static(b"a\r\nb"))),
        b"$4\r\na\r\nb\r\n"
    );
    assert_eq!(encode(Reply::Bulk(Bytes::new())), b"$0\r\n\r\n");
    assert_eq!(
        encode(Reply::Bulk(Bytes::from(vec![b'x'; 1234])))[..7],
        *b"$1234\r\n"
    );
}

#[test]
fn null_is_a_bulk_string_of_length_minus_one() {
    assert_eq!(encode(Reply::Null), b"$-1\r\n");
}

#[test]
fn integers() {
    assert_eq!(encode(Reply::Integer(0)), b":0\r\n");
    assert_eq!(encode(Reply::Integer(-42)), b":-42\r\n");
    assert_eq!(
        encode(Reply::Integer(i64::MIN)),
        b":-9223372036854775808\r\n"
    );
    assert_eq!(
        encode(Reply::Integer(i64::MAX)),
        b":9223372036854775807\r\n"
    );
}

#[test]
fn arrays_nest_replies() {
    assert_eq!(encode(Reply::Array(Vec::new())), b"*0\r\n");
    assert_eq!(
        encode(Reply::Array(vec![Reply::Integer(1), Reply::Null])),
        b"*2\r\n:1\r\n$-1\r\n"
    );
}
