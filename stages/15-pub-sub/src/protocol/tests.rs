use super::*;

fn parse_all(bytes: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
    let mut parser = Parser::default();
    let mut buffer = BytesMut::from(bytes);
    let mut commands = Vec::new();
    while let Some(command) = parser.next_command(&mut buffer)? {
        commands.push(command);
    }
    Ok(commands)
}

fn words(command: &[Bytes]) -> Vec<&[u8]> {
    command.iter().map(|arg| arg.as_ref()).collect()
}

/// Feeds `bytes` one at a time, taking every command as soon as it is whole.
fn parse_byte_by_byte(bytes: &[u8]) -> Vec<Vec<Bytes>> {
    let mut parser = Parser::default();
    let mut buffer = BytesMut::new();
    let mut commands = Vec::new();
    for &byte in bytes {
        buffer.extend_from_slice(&[byte]);
        while let Some(command) = parser.next_command(&mut buffer).unwrap() {
            commands.push(command);
        }
    }
    assert!(buffer.is_empty(), "every byte was taken");
    commands
}

#[test]
fn reads_a_command_split_at_every_byte() {
    let commands = parse_byte_by_byte(b"*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$0\r\n\r\n");
    assert_eq!(commands.len(), 1);
    assert_eq!(words(&commands[0]), [&b"SET"[..], b"k\r\n", b""]);
}

#[test]
fn reads_a_command_split_in_two_at_every_byte() {
    let bytes = b"*2\r\n$4\r\nECHO\r\n$11\r\nhello world\r\n";
    for split in 0..=bytes.len() {
        let mut parser = Parser::default();
        let mut buffer = BytesMut::from(&bytes[..split]);
        let mut commands = Vec::new();
        while let Some(command) = parser.next_command(&mut buffer).unwrap() {
            commands.push(command);
        }
        buffer.extend_from_slice(&bytes[split..]);
        while let Some(command) = parser.next_command(&mut buffer).unwrap() {
            commands.push(command);
        }
        assert_eq!(commands.len(), 1, "split at {split}");
        assert_eq!(words(&commands[0]), [&b"ECHO"[..], b"hello world"]);
    }
}

#[test]
fn reads_many_commands_from_one_buffer() {
    let one = b"*1\r\n$4\r\nPING\r\n";
    let commands = parse_all(&one.repeat(100)).unwrap();
    assert_eq!(commands.len(), 100);
}

#[test]
fn skips_empty_arrays_and_empty_lines() {
    let commands = parse_all(b"*0\r\n*-1\r\n\r\n\nPING\r\n").unwrap();
    assert_eq!(commands.len(), 1);
    assert_eq!(words(&commands[0]), [&b"PING"[..]]);
}

#[test]
fn protocol_errors_as_redis_words_them() {
    for (bytes, expected) in [
        (&b"*abc\r\n"[..], "Protocol error: invalid multibulk length"),
        (b"*1048577\r\n", "Protocol error: invalid multibulk length"),
        (b"*1\r\n$abc\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
        (
            b"*1\r\n$536870913\r\n",
            "Protocol error: invalid bulk length",
        ),
        (b"*2\r\n+foo\r\n", "Protocol error: expected '$', got '+'"),
        (
            b"SET a \"unbalanced\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
        (
            b"*1\r\n$4\r\nPINGxx",
            "Protocol error: expected '\\r\\n' after the bulk string data",
        ),
    ] {
        assert_eq!(
            parse_all(bytes).unwrap_err().to_string(),
            expected,
            "{bytes:?}"
        );
    }
}

#[test]
fn a_line_that_never_ends_is_cut_off() {
    let mut parser = Parser::default();
    let mut buffer = BytesMut::from(&vec![b'a'; MAX_INLINE_LENGTH + 1][..]);
    assert_eq!(
        parser.next_command(&mut buffer),
        Err(ProtocolError::TooBigInlineRequest)
    );
    let mut parser = Parser::default();
    let mut buffer =
        BytesMut::from(&[b"*1".as_slice(), &vec![b'1'; MAX_INLINE_LENGTH]].concat()[..]);
    assert_eq!(
        parser.next_command(&mut buffer),
        Err(ProtocolError::TooBigMultibulkCount)
    );
    let mut parser = Parser::default();
    let mut buffer =
        BytesMut::from(&[b"*1\r\n$1".as_slice(), &vec![b'1'; MAX_INLINE_LENGTH]].concat()[..]);
    assert_eq!(
        parser.next_command(&mut buffer),
        Err(ProtocolError::TooBigBulkCount)
    );
}

#[test]
fn a_long_line_that_arrives_whole_is_taken() {
    let mut line = b"ECHO ".to_vec();
    line.extend(vec![b'x'; MAX_INLINE_LENGTH * 2]);
    line.extend_from_slice(b"\r\n");
    let commands = parse_all(&line).unwrap();
    assert_eq!(commands[0][1].len(), MAX_INLINE_LENGTH * 2);
}

#[test]
fn a_declared_length_allocates_nothing() {
    let mut parser = Parser::default();
    let mut buffer = BytesMut::from(&b"*1048576\r\n$536870912\r\nab"[..]);
    let capacity = buffer.capacity();
    assert_eq!(parser.next_command(&mut buffer), Ok(None));
    assert!(buffer.capacity() <= capacity, "the buffer did not grow");
    assert!(parser.pending.as_ref().unwrap().args.capacity() <= 8);
}

#[test]
fn inline_commands_split_like_redis() {
    let commands = parse_all(b"SET a \"hello world\"\r\nECHO \"a\\x41\\n\" 'it\\'s'\n").unwrap();
    assert_eq!(words(&commands[0]), [&b"SET"[..], b"a", b"hello world"]);
    assert_eq!(words(&commands[1]), [&b"ECHO"[..], b"aA\n", b"it's"]);
    assert_eq!(
        parse_all(b"ECHO \"a\"b\r\n"),
        Err(ProtocolError::UnbalancedQuotes)
    );
    assert_eq!(
        parse_all(b"ECHO 'a\r\n"),
        Err(ProtocolError::UnbalancedQuotes)
    );
}

#[test]
fn a_zero_byte_hides_the_line_end_as_in_redis() {
    for bytes in [
        &b"ECHO a\0b\r\nPING\r\n"[..],
        b"*1\0\r\n",
        b"*1\r\n$4\0\r\n",
        b"*1\r\n\0\r\n",
    ] {
        // Fed whole and byte by byte: no command, and no error, until the
        // limit.
        assert_eq!(parse_all(bytes), Ok(Vec::new()), "{bytes:?}");
        let mut parser = Parser::default();
        let mut buffer = BytesMut::new();
        for &byte in bytes {
            buffer.extend_from_slice(&[byte]);
            assert_eq!(parser.next_command(&mut buffer), Ok(None), "{bytes:?}");
        }
        buffer.extend_from_slice(&vec![b'x'; MAX_INLINE_LENGTH]);
        assert!(parser.next_command(&mut buffer).is_err(), "{bytes:?}");
    }
}

#[test]
fn a_protocol_error_quotes_the_byte_as_it_came() {
    let error = parse_all(b"*1\r\n\xe9\r\n").unwrap_err();
    assert_eq!(error, ProtocolError::ExpectedDollar(0xe9));
    assert_eq!(
        error.reply_text(),
        b"ERR Protocol error: expected '$', got '\xe9'"
    );
    // The type byte is looked at once its line is whole, as Redis does.
    assert_eq!(parse_all(b"*1\r\n+foo"), Ok(Vec::new()));
}

#[test]
fn inline_and_resp_commands_mix_split_at_every_byte() {
    let commands = parse_byte_by_byte(b"PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nECHO  x\n");
    assert_eq!(commands.len(), 3);
    assert_eq!(words(&commands[0]), [&b"PING"[..]]);
    assert_eq!(words(&commands[1]), [&b"ECHO"[..], b"hi"]);
    assert_eq!(words(&commands[2]), [&b"ECHO"[..], b"x"]);
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

/// A small, seeded generator of pseudo-random numbers (xorshift), so that
/// a failure repeats.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn nothing_a_client_sends_panics_the_parser() {
    let pieces: [&[u8]; 16] = [
        b"*",
        b"$",
        b"\r\n",
        b"\r",
        b"\n",
        b"-1",
        b"0",
        b"2",
        b"3",
        b"99999999999999999999",
        b"PING",
        b"\"",
        b"'",
        b"\\x4",
        b" ",
        b"\0",
    ];
    let mut random = Random(0x2545_f491_4f6c_dd1d);
    for _ in 0..20_000 {
        let mut bytes = Vec::new();
        for _ in 0..random.below(12) {
            bytes.extend_from_slice(pieces[random.below(pieces.len())]);
        }
        // Whole, and split in two at a random byte.
        let _ = parse_all(&bytes);
        let split = random.below(bytes.len() + 1);
        let mut parser = Parser::default();
        let mut buffer = BytesMut::from(&bytes[..split]);
        if parser.next_command(&mut buffer).is_ok() {
            buffer.extend_from_slice(&bytes[split..]);
            while let Ok(Some(_)) = parser.next_command(&mut buffer) {}
        }
    }
}
