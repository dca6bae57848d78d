//! `handle_client` over a real socket on the loopback interface: commands
//! split across writes, pipelined, a protocol error, a key space shared by
//! two clients, inline commands, QUIT, the lingering close, and Pub/Sub
//! between clients.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::protocol::MAX_INLINE_LENGTH;

/// A client connected to a task running `handle_client` with its own key
/// space.
async fn connect() -> TcpStream {
    connect_to(Db::default()).await
}

/// A client connected to a task running `handle_client` on `db`.
async fn connect_to(db: Db) -> TcpStream {
    connect_with(db, PubSub::default()).await
}

/// A client connected to a task running `handle_client` on `db` and
/// `pubsub`.
async fn connect_with(db: Db, pubsub: PubSub) -> TcpStream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (socket, _) = listener.accept().await.unwrap();
    tokio::spawn(async move {
        // A server that never shuts down: the notice never comes.
        let shutdown = Shutdown::new();
        handle_client(socket, db, pubsub, &mut shutdown.notice()).await
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
        .write_all(b"*1\r\n$4\r\nPING\r\n*x\r\n")
        .await
        .unwrap();
    assert_eq!(
        read_to_end(&mut client).await,
        b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n"
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

#[tokio::test]
async fn answers_inline_commands() {
    let mut client = connect().await;
    client
        .write_all(b"SET k \"hello world\"\r\nGET k\n")
        .await
        .unwrap();
    expect(&mut client, b"+OK\r\n$11\r\nhello world\r\n").await;
}

#[tokio::test]
async fn quit_answers_ok_then_closes() {
    let mut client = connect().await;
    client
        .write_all(b"*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n")
        .await
        .unwrap();
    assert_eq!(read_to_end(&mut client).await, b"+OK\r\n");
}

#[tokio::test]
async fn a_close_with_bytes_unread_is_clean_not_a_reset() {
    let mut client = connect().await;
    // A header that never ends, and more of it: the server answers with an
    // error and closes while these bytes are still arriving. (It may close
    // before it has read them all, so the write may fail: that is the point.)
    let mut bytes = b"*".to_vec();
    bytes.extend(vec![b'1'; MAX_INLINE_LENGTH * 4]);
    let _ = client.write_all(&bytes).await;
    let _ = client.shutdown().await;
    // Read only once the server has closed: a reset instead of a clean end
    // of stream can destroy what we have not read yet.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let got = read_to_end(&mut client).await;
    assert_eq!(
        got.escape_ascii().to_string(),
        "-ERR Protocol error: too big mbulk count string\\r\\n"
    );
}

#[tokio::test]
async fn a_subscriber_gets_what_is_published_in_order_and_may_only_ping() {
    let (db, pubsub) = (Db::default(), PubSub::default());
    let mut subscriber = connect_with(db.clone(), pubsub.clone()).await;
    let mut publisher = connect_with(db, pubsub).await;
    subscriber
        .write_all(b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n")
        .await
        .unwrap();
    expect(
        &mut subscriber,
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n",
    )
    .await;
    let mut expected = Vec::new();
    for i in 0..100 {
        let message = format!("m{i:02}");
        let command = format!("*3\r\n$7\r\nPUBLISH\r\n$4\r\nnews\r\n$3\r\n{message}\r\n");
        publisher.write_all(command.as_bytes()).await.unwrap();
        expect(&mut publisher, b":1\r\n").await;
        expected.extend_from_slice(
            format!("*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$3\r\n{message}\r\n").as_bytes(),
        );
    }
    expect(&mut subscriber, &expected).await;
    subscriber
        .write_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n")
        .await
        .unwrap();
    expect(
        &mut subscriber,
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n",
    )
    .await;
}

#[tokio::test]
async fn a_subscriber_that_leaves_is_forgotten() {
    let pubsub = PubSub::default();
    let mut subscriber = connect_with(Db::default(), pubsub.clone()).await;
    subscriber
        .write_all(b"*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n")
        .await
        .unwrap();
    expect(
        &mut subscriber,
        b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n",
    )
    .await;
    assert_eq!(pubsub.subscribers(b"a"), 1);
    drop(subscriber);
    for _ in 0..100 {
        if pubsub.channels(None).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("still subscribed: {:?}", pubsub.channels(None));
}

#[tokio::test]
async fn a_subscriber_that_never_reads_is_cut_off_while_one_that_reads_gets_all() {
    let pubsub = PubSub::default();
    let subscribe = b"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n";
    let confirmed = b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n";
    let mut stuck = connect_with(Db::default(), pubsub.clone()).await;
    stuck.write_all(subscribe).await.unwrap();
    expect(&mut stuck, confirmed).await;
    let mut reader = connect_with(Db::default(), pubsub.clone()).await;
    reader.write_all(subscribe).await.unwrap();
    expect(&mut reader, confirmed).await;
    // 1 MiB messages, far more than the stuck one's limit and its socket
    // buffers hold; the reader reads each as it comes.
    let message = vec![b'm'; 1024 * 1024];
    let mut push = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1048576\r\n".to_vec();
    push.extend_from_slice(&message);
    push.extend_from_slice(b"\r\n");
    for _ in 0..64 {
        assert!(pubsub.publish(b"ch", &message) >= 1);
        expect(&mut reader, &push).await;
    }
    assert_eq!(pubsub.subscribers(b"ch"), 1, "the stuck one is forgotten");
    // Its connection is closed, after what its socket buffers held.
    let mut sink = vec![0; 1024 * 1024];
    let closed = async { while stuck.read(&mut sink).await.is_ok_and(|read| read > 0) {} };
    tokio::time::timeout(Duration::from_secs(5), closed)
        .await
        .expect("closed");
}
