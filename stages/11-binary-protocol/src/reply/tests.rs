use super::*;

fn encode(reply: Reply) -> Vec<u8> {
    let mut out = BytesMut::new();
    reply.write_to(&mut out);
    out.to_vec()
}

#[test]
fn every_type_as_bytes() {
    assert_eq!(encode(Reply::Null), b"\x00\x00\x00\x01\x00");
    assert_eq!(
        encode(Reply::Simple("OK")),
        b"\x00\x00\x00\x07\x02\x00\x00\x00\x02OK"
    );
    assert_eq!(
        encode(Reply::error("no")),
        b"\x00\x00\x00\x0b\x01\x00\x00\x00\x06ERR no"
    );
    assert_eq!(
        encode(Reply::Integer(-2)),
        b"\x00\x00\x00\x09\x03\xff\xff\xff\xff\xff\xff\xff\xfe"
    );
    assert_eq!(
        encode(Reply::Array(vec![
            Reply::Bulk(Bytes::from_static(b"a")),
            Reply::Null
        ])),
        b"\x00\x00\x00\x0c\x04\x00\x00\x00\x02\x02\x00\x00\x00\x01a\x00"
    );
}

#[test]
fn a_reply_over_the_limit_becomes_an_error() {
    let big = Reply::Bulk(Bytes::from(vec![b'x'; MAX_MESSAGE]));
    let bytes = encode(big);
    assert_eq!(bytes[4], TAG_ERR);
    assert!(bytes.ends_with(b"is over the limit of 33554432"));
}

#[test]
fn the_client_decodes_what_the_server_encodes() {
    let wire = encode(Reply::Array(vec![
        Reply::Bulk(Bytes::from_static(b"a")),
        Reply::Integer(7),
        Reply::Null,
        Reply::error("no"),
        Reply::Array(vec![Reply::Simple("OK")]),
    ]));
    let Value::Array(items) = decode_reply(&wire[4..]).unwrap() else {
        panic!("not an array");
    };
    let items: Vec<Value> = items.collect();
    assert_eq!(
        items[..4],
        [
            Value::Str(b"a"),
            Value::Int(7),
            Value::Nil,
            Value::Error(b"ERR no")
        ]
    );
    let Value::Array(inner) = items[4].clone() else {
        panic!("not an array");
    };
    assert_eq!(inner.collect::<Vec<_>>(), [Value::Str(b"OK")]);
}

#[test]
fn replies_the_client_refuses() {
    let refused = |message: &[u8]| decode_reply(message).unwrap_err();
    assert_eq!(refused(b""), DecodeError::Truncated);
    assert_eq!(refused(b"\x07"), DecodeError::UnknownTag(7));
    assert_eq!(refused(b"\x00\x00"), DecodeError::LeftOver(1));
    assert_eq!(refused(b"\x03\x00\x00"), DecodeError::Truncated);
    // A string of 9 bytes where 3 are left.
    assert_eq!(refused(b"\x02\x00\x00\x00\x09abc"), DecodeError::Truncated);
    // Four billion items claimed, none sent: refused, nothing allocated.
    assert_eq!(refused(b"\x04\xff\xff\xff\xff"), DecodeError::Truncated);
    // Arrays nested one level too deep, around a NIL.
    let mut deep = b"\x04\x00\x00\x00\x01".repeat(MAX_DEPTH + 1);
    deep.push(TAG_NIL);
    assert_eq!(refused(&deep), DecodeError::TooDeep);
    assert!(decode_reply(&deep[5..]).is_ok());
}
