//! `handle_client` over a real socket on the loopback interface: commands
//! split across writes, pipelined, a protocol error, and a key space shared
//! by two clients.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

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

/// Reads exactly `expected.len()` bytes and compares them, or fails after a
/// few seconds instead of hanging.
async fn expect(client: &mut TcpStream, expected: &[u8]) {
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
async fn answers_pipelined_commands_in_order_however_they_are_split() {
    let mut client = connect().await;
    client
        .write_all(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\n$3\r\nfoo\r\n*1\r\n$4\r\nPI")
        .await
        .unwrap();
    expect(
        &mut client,
        b"+PONG\r\n$2\r\nhi\r\n-ERR unknown command 'foo', with args beginning with: \r\n",
    )
    .await;
    client.write_all(b"NG\r\n").await.unwrap();
    expect(&mut client, b"+PONG\r\n").await;
}

#[tokio::test]
async fn replies_larger_than_the_high_water_mark_all_arrive() {
    let mut client = connect().await;
    let value = vec![b'x'; WRITE_HIGH_WATER];
    let mut command = format!("*2\r\n$4\r\nECHO\r\n${}\r\n", value.len()).into_bytes();
    command.extend_from_slice(&value);
    command.extend_from_slice(b"\r\n");
    client.write_all(&command.repeat(4)).await.unwrap();
    let mut reply = format!("${}\r\n", value.len()).into_bytes();
    reply.extend_from_slice(&value);
    reply.extend_from_slice(b"\r\n");
    expect(&mut client, &reply.repeat(4)).await;
}

#[tokio::test]
async fn a_protocol_error_is_answered_then_the_connection_closes() {
    let mut client = connect().await;
    client
        .write_all(b"*1\r\n$4\r\nPING\r\n+OK\r\n")
        .await
        .unwrap();
    assert_eq!(
        read_to_end(&mut client).await,
        b"+PONG\r\n-ERR Protocol error: expected '*', got '+'\r\n"
    );
}

#[tokio::test]
async fn what_one_client_sets_another_reads() {
    let db = Db::default();
    let mut first = connect_to(db.clone()).await;
    let mut second = connect_to(db).await;
    first
        .write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n")
        .await
        .unwrap();
    expect(&mut first, b"+OK\r\n").await;
    second
        .write_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$3\r\nGET\r\n$1\r\nz\r\n")
        .await
        .unwrap();
    expect(&mut second, b"$5\r\nhello\r\n$-1\r\n").await;
}
