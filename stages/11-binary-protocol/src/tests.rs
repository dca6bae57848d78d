//! `handle_client` over a real socket on the loopback interface: requests
//! split across writes, pipelined, a broken message, a key space shared by
//! two clients, QUIT, and the lingering close.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::protocol::{MAX_MESSAGE, ProtocolError, encode_request};

/// A client connected to a task running `handle_client` with its own key
/// space.
async fn connect() -> TcpStream {
    connect_to(Db::default()).await
}

/// A client connected to a task running `handle_client` on `db`.
async fn connect_to(db: Db) -> TcpStream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (socket, _) = listener.accept().await.unwrap();
    tokio::spawn(async move {
        // A server that never shuts down: the notice never comes.
        let shutdown = Shutdown::new();
        handle_client(socket, db, &mut shutdown.notice()).await
    });
    client
}

/// The bytes of `replies`, as the server writes them.
fn encoded(replies: &[Reply]) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    for reply in replies {
        reply.write_to(&mut out);
    }
    out.to_vec()
}

fn bulk(bytes: &[u8]) -> Reply {
    Reply::Bulk(bytes::Bytes::copy_from_slice(bytes))
}

/// Reads exactly the bytes of `expected` and compares them, or fails after
/// a few seconds instead of hanging.
async fn expect(client: &mut TcpStream, expected: &[Reply]) {
    let expected = encoded(expected);
    let mut got = vec![0; expected.len()];
    tokio::time::timeout(Duration::from_secs(5), client.read_exact(&mut got))
        .await
        .expect("a reply in time")
        .expect("a reply");
    assert_eq!(
        got.escape_ascii().to_string(),
        expected.escape_ascii().to_string()
    );
}

/// Reads until the server closes the connection.
async fn read_to_end(client: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut got))
        .await
        .expect("the server closes in time")
        .expect("a clean close");
    got
}

#[tokio::test]
async fn answers_pipelined_requests_in_order_however_they_are_split() {
    let mut client = connect().await;
    let mut bytes = encode_request(&[b"PING"]);
    bytes.extend(encode_request(&[b"ECHO", b"hi"]));
    bytes.extend(encode_request(&[b"foo"]));
    let ping = encode_request(&[b"PING"]);
    bytes.extend_from_slice(&ping[..6]);
    client.write_all(&bytes).await.unwrap();
    expect(
        &mut client,
        &[
            Reply::Simple("PONG"),
            bulk(b"hi"),
            Reply::error("unknown command 'foo', with args beginning with: "),
        ],
    )
    .await;
    client.write_all(&ping[6..]).await.unwrap();
    expect(&mut client, &[Reply::Simple("PONG")]).await;
}

#[tokio::test]
async fn replies_larger_than_the_high_water_mark_all_arrive() {
    let mut client = connect().await;
    let value = vec![b'x'; WRITE_HIGH_WATER];
    let request = encode_request(&[b"ECHO", &value]);
    client.write_all(&request.repeat(4)).await.unwrap();
    let replies: Vec<Reply> = (0..4).map(|_| bulk(&value)).collect();
    expect(&mut client, &replies).await;
}

#[tokio::test]
async fn a_broken_message_is_answered_then_the_connection_closes() {
    let mut client = connect().await;
    let mut bytes = encode_request(&[b"PING"]);
    // Count 1, then 2 bytes left over; and a PING never answered.
    bytes.extend_from_slice(b"\x00\x00\x00\x0a\x01\x00\x00\x00\x03getxx");
    bytes.extend(encode_request(&[b"PING"]));
    client.write_all(&bytes).await.unwrap();
    let error = ProtocolError::CountMismatch { count: 1, extra: 2 };
    assert_eq!(
        read_to_end(&mut client).await,
        encoded(&[Reply::Simple("PONG"), Reply::error(&error)])
    );
}

#[tokio::test]
async fn what_one_client_sets_another_reads() {
    let db = Db::default();
    let mut first = connect_to(db.clone()).await;
    let mut second = connect_to(db).await;
    first
        .write_all(&encode_request(&[b"SET", b"k", b"hello"]))
        .await
        .unwrap();
    expect(&mut first, &[Reply::Simple("OK")]).await;
    let mut bytes = encode_request(&[b"GET", b"k"]);
    bytes.extend(encode_request(&[b"GET", b"z"]));
    second.write_all(&bytes).await.unwrap();
    expect(&mut second, &[bulk(b"hello"), Reply::Null]).await;
}

#[tokio::test]
async fn a_request_of_zero_strings_gets_an_error_and_the_connection_goes_on() {
    let mut client = connect().await;
    let mut bytes = encode_request(&[]);
    bytes.extend(encode_request(&[b"PING"]));
    client.write_all(&bytes).await.unwrap();
    expect(
        &mut client,
        &[Reply::error("empty command"), Reply::Simple("PONG")],
    )
    .await;
}

#[tokio::test]
async fn quit_answers_ok_then_closes() {
    let mut client = connect().await;
    let mut bytes = encode_request(&[b"QUIT"]);
    bytes.extend(encode_request(&[b"PING"]));
    client.write_all(&bytes).await.unwrap();
    assert_eq!(
        read_to_end(&mut client).await,
        encoded(&[Reply::Simple("OK")])
    );
}

#[tokio::test]
async fn a_close_with_bytes_unread_is_clean_not_a_reset() {
    let mut client = connect().await;
    // A length over the limit, and more bytes: the server answers with an
    // error and closes while these are still arriving. (It may close
    // before it has read them all, so the write may fail: that is the point.)
    let mut bytes = (MAX_MESSAGE as u32 + 1).to_be_bytes().to_vec();
    bytes.extend(vec![b'x'; 256 * 1024]);
    let _ = client.write_all(&bytes).await;
    let _ = client.shutdown().await;
    // Read only once the server has closed: a reset instead of a clean end
    // of stream can destroy what we have not read yet.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let error = ProtocolError::TooLong(MAX_MESSAGE + 1);
    assert_eq!(
        read_to_end(&mut client).await,
        encoded(&[Reply::error(&error)])
    );
}
