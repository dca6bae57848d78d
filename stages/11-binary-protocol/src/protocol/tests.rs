use proptest::prelude::*;

use super::*;

fn parse_all(bytes: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
    let mut buffer = BytesMut::from(bytes);
    let mut parser = Parser;
    let mut requests = Vec::new();
    while let Some(request) = parser.next_command(&mut buffer)? {
        requests.push(request);
    }
    Ok(requests)
}

#[test]
fn a_request_as_bytes() {
    let bytes = encode_request(&[b"get", b"foo"]);
    assert_eq!(
        bytes,
        b"\x00\x00\x00\x0f\x02\x00\x00\x00\x03get\x00\x00\x00\x03foo"
    );
    assert_eq!(
        parse_all(&bytes).unwrap(),
        vec![vec![Bytes::from("get"), Bytes::from("foo")]]
    );
}

#[test]
fn split_at_every_byte_and_many_in_one_buffer() {
    let one = encode_request(&[b"set", b"k", b"v\r\n\0"]);
    let many = one.repeat(3);
    let mut parser = Parser;
    let mut buffer = BytesMut::new();
    let mut seen = 0;
    for byte in &many {
        buffer.extend_from_slice(&[*byte]);
        while parser.next_command(&mut buffer).unwrap().is_some() {
            seen += 1;
        }
    }
    assert_eq!(seen, 3);
    assert!(buffer.is_empty(), "every byte was taken");
    assert_eq!(parse_all(&many).unwrap().len(), 3);
}

#[test]
fn zero_strings_is_a_request_with_no_command() {
    assert_eq!(
        parse_all(b"\x00\x00\x00\x01\x00").unwrap(),
        vec![Vec::<Bytes>::new()]
    );
}

#[test]
fn the_most_strings_a_request_holds() {
    let strings = vec![&b"x"[..]; MAX_STRINGS];
    assert_eq!(parse_all(&encode_request(&strings)).unwrap()[0].len(), 255);
}

#[test]
fn broken_messages() {
    let too_long = (MAX_MESSAGE as u32 + 1).to_be_bytes();
    assert_eq!(
        parse_all(&too_long),
        Err(ProtocolError::TooLong(MAX_MESSAGE + 1))
    );
    assert_eq!(parse_all(b"\x00\x00\x00\x00"), Err(ProtocolError::NoCount));
    // Count 2, one string.
    assert_eq!(
        parse_all(b"\x00\x00\x00\x08\x02\x00\x00\x00\x03get"),
        Err(ProtocolError::StringPastEnd { index: 1 })
    );
    // A string of 9 bytes in a message with 3 left.
    assert_eq!(
        parse_all(b"\x00\x00\x00\x08\x01\x00\x00\x00\x09get"),
        Err(ProtocolError::StringPastEnd { index: 0 })
    );
    // Count 1, then 2 bytes too many.
    assert_eq!(
        parse_all(b"\x00\x00\x00\x0a\x01\x00\x00\x00\x03getxx"),
        Err(ProtocolError::CountMismatch { count: 1, extra: 2 })
    );
}

#[test]
fn a_declared_length_allocates_nothing() {
    let mut buffer = BytesMut::from(&(MAX_MESSAGE as u32).to_be_bytes()[..]);
    let capacity = buffer.capacity();
    assert_eq!(Parser.next_command(&mut buffer), Ok(None));
    assert!(buffer.capacity() <= capacity);
}

#[test]
fn integers_are_read_as_redis_reads_them() {
    assert_eq!(parse_integer(b"0"), Some(0));
    assert_eq!(parse_integer(b"-12"), Some(-12));
    assert_eq!(parse_integer(b"9223372036854775807"), Some(i64::MAX));
    assert_eq!(parse_integer(b"-9223372036854775808"), Some(i64::MIN));
    for bad in [
        &b""[..],
        b"-",
        b"+1",
        b"01",
        b"-0",
        b" 1",
        b"1 ",
        b"9223372036854775808",
        b"1e3",
    ] {
        assert_eq!(parse_integer(bad), None, "{bad:?}");
    }
}

proptest! {
    /// Whatever bytes arrive, split however, the reader never panics,
    /// and it either waits, yields requests, or reports an error.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), cut in 0usize..512) {
        let mut parser = Parser;
        let mut buffer = BytesMut::new();
        let cut = cut.min(bytes.len());
        for piece in [&bytes[..cut], &bytes[cut..]] {
            buffer.extend_from_slice(piece);
            while let Ok(Some(_)) = parser.next_command(&mut buffer) {}
        }
    }

    /// Any list of up to 255 strings survives encoding and decoding.
    #[test]
    fn requests_round_trip(strings in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..20)) {
        let borrowed: Vec<&[u8]> = strings.iter().map(|s| s.as_slice()).collect();
        let parsed = parse_all(&encode_request(&borrowed)).unwrap();
        prop_assert_eq!(parsed.len(), 1);
        let got: Vec<Vec<u8>> = parsed[0].iter().map(|s| s.to_vec()).collect();
        prop_assert_eq!(got, strings);
    }
}
