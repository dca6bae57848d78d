//! The web page and its WebSocket: a browser as one more kind of client.
//!
//! One port (`--web-port`, default 8080) serves two things, told apart by
//! the request's first line, which we read ourselves:
//!
//! ```text
//! GET / HTTP/1.1        -> 200, the page (page.html, inside the binary)
//! GET /ws HTTP/1.1      -> 101 Switching Protocols: from here on the same
//! Upgrade: websocket       TCP connection carries WebSocket frames, and
//! Sec-WebSocket-Key: k     the browser is in the chat like an nc client
//! anything else         -> 404 (or 400, 431 for a request we cannot read)
//! ```
//!
//! On the WebSocket, the browser sends each typed line as one text frame,
//! the same text an nc user types; we send it text frames of JSON:
//! `{"type":"line","text":"..."}` for each line an nc user would get, and
//! `{"type":"members","nicks":[...]}` whenever who is online may have
//! changed. Past the upgrade, a web client is a client like any other: it
//! joins the chat, has an outbox, and its lines go through `handle_line`.
//! Only its two tasks differ: they read and write frames, not lines.
//!
//! `tokio-tungstenite` reads and writes the frames (masking, fragments,
//! ping and pong, close); the HTTP around them is ours, in this file, so
//! that the upgrade can be read. The chapter says why not a web framework.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use stage_21_web_chat::line::{self, MAX_LINE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as FrameError, Message};

use crate::CLOSE_TIMEOUT;
use crate::chat::{ClientId, Flow, Hub};
use crate::outbox::OutboxReceiver;
use crate::shutdown::{Notice, Shutdown};

/// The page, compiled into the server: nothing to install beside it.
const PAGE: &str = include_str!("page.html");

/// The longest request head we read (the request line and headers); a
/// browser's is under 2 KiB.
const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// How long a connection may take to send its request head: one that
/// trickles it a byte a minute must not hold a task forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The biggest frame or message we accept. A line is at most `MAX_LINE`
/// bytes; a message a little over is answered like a long line, and one
/// far over (a client that is not our page) ends the connection.
const MAX_MESSAGE: usize = 4 * MAX_LINE;

// ANCHOR: serve_web
/// Accepts web connections until the server shuts down; each one's request
/// is read in a task of its own.
pub async fn serve_web(listener: TcpListener, hub: Arc<Hub>, shutdown: &Shutdown) -> Result<()> {
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                log!("accept failed (web): {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let hub = Arc::clone(&hub);
        // A request being read counts as a client: the shutdown waits for it.
        let notice = shutdown.notice();
        tokio::spawn(async move {
            if let Err(error) = handle_request(socket, peer, hub, notice).await {
                log!("{peer} (web) dropped: {error}");
            }
        });
    }
}

/// Reads one request and answers it: the page, the upgrade, or an error.
/// Every response but the upgrade closes the connection (no keep-alive: a
/// browser opens another connection for its next request).
async fn handle_request(
    mut socket: TcpStream,
    peer: SocketAddr,
    hub: Arc<Hub>,
    notice: Notice,
) -> Result<()> {
    let read = tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut socket)).await;
    let (head, after_head) = match read {
        Ok(Ok(Some(read))) => read,
        Ok(Ok(None)) => {
            return respond(&mut socket, "431 Request Header Fields Too Large", "").await;
        }
        // It closed, failed, or took too long: there is no one to answer.
        Ok(Err(_)) | Err(_) => return Ok(()),
    };
    let Some(request) = Request::parse(&head) else {
        return respond(&mut socket, "400 Bad Request", "").await;
    };
    match (request.method, request.path) {
        ("GET", "/") => respond(&mut socket, "200 OK", PAGE).await,
        ("GET", "/ws") => match request.websocket_key {
            Some(key) => {
                let socket = upgrade(socket, key, after_head).await?;
                log!("{peer} connected (web)");
                connect_web(socket, peer, &hub, notice);
                Ok(())
            }
            None => respond(&mut socket, "400 Bad Request", "").await,
        },
        _ => respond(&mut socket, "404 Not Found", "").await,
    }
}
// ANCHOR_END: serve_web

// ANCHOR: read_head
/// Reads up to the blank line that ends a request's head. Returns the head
/// and whatever came after it in the same reads (a client may send its first
/// frame right behind the request); `None` when the head is over
/// [`MAX_REQUEST_HEAD`].
async fn read_head(socket: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buffer.windows(4).position(|four| four == b"\r\n\r\n") {
            let after_head = buffer.split_off(end + 4);
            let head = String::from_utf8_lossy(&buffer).into_owned();
            return Ok(Some((head, after_head)));
        }
        if buffer.len() > MAX_REQUEST_HEAD {
            return Ok(None);
        }
        let read = socket.read(&mut chunk).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// What we need of a request: `GET /ws HTTP/1.1`, and the key of a
/// WebSocket upgrade.
struct Request<'a> {
    method: &'a str,
    /// Without its query string: `/?x=1` is `/`.
    path: &'a str,
    /// `Sec-WebSocket-Key`, if the request asks for a WebSocket (`Upgrade:
    /// websocket`).
    websocket_key: Option<&'a str>,
}

impl<'a> Request<'a> {
    fn parse(head: &'a str) -> Option<Request<'a>> {
        let mut lines = head.split("\r\n");
        let mut words = lines.next()?.split(' ');
        let (method, target, version) = (words.next()?, words.next()?, words.next()?);
        if !version.starts_with("HTTP/1.") || words.next().is_some() {
            return None;
        }
        let path = target.split('?').next().unwrap_or(target);
        let (mut upgrade, mut key) = (false, None);
        for header in lines.take_while(|line| !line.is_empty()) {
            let (name, value) = header.split_once(':')?;
            // Header names are case-insensitive; `Upgrade` may list several
            // protocols.
            if name.eq_ignore_ascii_case("upgrade") {
                upgrade = value
                    .split(',')
                    .any(|p| p.trim().eq_ignore_ascii_case("websocket"));
            } else if name.eq_ignore_ascii_case("sec-websocket-key") {
                key = Some(value.trim());
            }
        }
        let websocket_key = key.filter(|_| upgrade);
        Some(Request {
            method,
            path,
            websocket_key,
        })
    }
}
// ANCHOR_END: read_head

/// Sends a whole response and closes the connection.
async fn respond(socket: &mut TcpStream, status: &str, body: &str) -> Result<()> {
    let content_type = if body.is_empty() {
        "text/plain"
    } else {
        "text/html; charset=utf-8"
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body.as_bytes()).await?;
    socket.shutdown().await?;
    Ok(())
}

// ANCHOR: upgrade
/// The WebSocket handshake, server side: the answer proves that we read
/// the browser's key (a hash of it and a fixed string, RFC 6455), and from
/// the blank line on, both sides speak frames on this same connection.
async fn upgrade(
    mut socket: TcpStream,
    key: &str,
    after_head: Vec<u8>,
) -> Result<WebSocketStream<TcpStream>> {
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    socket.write_all(response.as_bytes()).await?;
    let _ = socket.set_nodelay(true);
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
        // The default reserves 128 KiB a connection up front.
        .read_buffer_size(8 * 1024);
    let frames =
        WebSocketStream::from_partially_read(socket, after_head, Role::Server, Some(config)).await;
    Ok(frames)
}
// ANCHOR_END: upgrade

type FrameSink = SplitSink<WebSocketStream<TcpStream>, Message>;
type FrameStream = SplitStream<WebSocketStream<TcpStream>>;

// ANCHOR: connect_web
/// Joins a web client to the chat, as `connect` in main.rs joins an nc
/// client: two tasks, one reading its frames, one writing its outbox.
fn connect_web(
    socket: WebSocketStream<TcpStream>,
    peer: SocketAddr,
    hub: &Arc<Hub>,
    mut notice: Notice,
) {
    let (sink, frames) = socket.split();
    let (id, outbox) = hub.register();
    let writer = tokio::spawn(write_frames(sink, outbox, Arc::clone(hub)));
    let writer_abort = writer.abort_handle();
    let reader_hub = Arc::clone(hub);
    let reader = tokio::spawn(async move {
        match read_frames(frames, reader_hub, id, writer, &mut notice).await {
            Ok(()) => log!("{peer} left (web)"),
            Err(error) => log!("{peer} dropped (web): {error}"),
        }
    });
    hub.attach_tasks(id, vec![writer_abort, reader.abort_handle()], None);
}

/// The web client's reader task: it joins the chat, then each text frame
/// is one line, handled as an nc client's line is, until the browser
/// closes or sends `/quit`.
async fn read_frames(
    mut frames: FrameStream,
    hub: Arc<Hub>,
    id: ClientId,
    mut writer: JoinHandle<Result<(), FrameError>>,
    notice: &mut Notice,
) -> Result<(), FrameError> {
    // A client the chat cannot take (Redis is away) has been told so.
    let joined = hub.join(id).await == Flow::Continue;
    let result = loop {
        if !joined {
            break Ok(());
        }
        // The next frame, or the shutdown (`biased`: frames that arrived
        // before it are read first).
        let next = tokio::select! {
            biased;
            next = frames.next() => next,
            () = notice.received() => {
                Box::pin(hub.shut_down(id)).await;
                break Ok(());
            }
        };
        let text = match next {
            Some(Ok(Message::Text(text))) => text,
            // Ping is answered by tungstenite itself; binary frames are
            // not our page's, and are ignored.
            Some(Ok(Message::Close(_))) | None => break Ok(()),
            Some(Ok(_)) => continue,
            Some(Err(error)) => break Err(error),
        };
        if text.len() > MAX_LINE {
            hub.line_too_long(id);
        } else if hub.handle_line(id, &line::clean(text.as_bytes())).await == Flow::Stop {
            break Ok(());
        }
        // As for an nc client: let the writers of everyone this line went
        // to run before we read the next.
        tokio::task::yield_now().await;
    };
    hub.leave(id).await;
    if tokio::time::timeout(CLOSE_TIMEOUT, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    result
}
// ANCHOR_END: connect_web

// ANCHOR: write_frames
/// The web client's writer task: each line of its outbox goes out as a
/// `line` frame, and after the welcome and after every notice that may
/// change who is online, a `members` frame. When the outbox closes (the
/// client left), it says goodbye with a close frame.
async fn write_frames(
    mut sink: FrameSink,
    mut outbox: OutboxReceiver,
    hub: Arc<Hub>,
) -> Result<(), FrameError> {
    let mut welcomed = false;
    while let Some(lines) = outbox.next().await {
        let mut members_changed = false;
        // One item of the outbox may hold several lines (`/help`).
        for line in lines
            .split(|&byte| byte == b'\n')
            .filter(|line| !line.is_empty())
        {
            let text = String::from_utf8_lossy(line);
            members_changed |= !welcomed || may_change_members(&text);
            welcomed = true;
            sink.feed(Message::text(line_frame(&text))).await?;
        }
        // Who is online is Redis's to say (`/who`'s answer): on a process
        // that cannot reach it, the page keeps the list it has.
        if members_changed {
            if let Ok(members) = hub.store.members().await {
                sink.feed(Message::text(members_frame(&members))).await?;
            }
        }
        sink.flush().await?;
        outbox.written(lines.len());
    }
    sink.close().await
}

/// Whether a line is a notice after which the list of who is online may
/// differ: `* NICK joined`, `* NICK left`, `* OLD is now NEW` (and `* you
/// are now NEW`), `* reconnected`. Only the server's lines start with
/// `* `: a `/me` starts with its nick.
fn may_change_members(text: &str) -> bool {
    text.starts_with("* ")
        && (text.ends_with(" joined")
            || text.ends_with(" left")
            || text.contains(" is now ")
            || text.contains(" are now ")
            || text == "* reconnected")
}
// ANCHOR_END: write_frames

// ANCHOR: json
/// `{"type":"line","text":"..."}`
pub fn line_frame(text: &str) -> String {
    let mut json = String::from(r#"{"type":"line","text":"#);
    push_json_string(&mut json, text);
    json.push('}');
    json
}

/// `{"type":"members","nicks":["a","b"]}`
pub fn members_frame(nicks: &[String]) -> String {
    let mut json = String::from(r#"{"type":"members","nicks":["#);
    for (index, nick) in nicks.iter().enumerate() {
        if index > 0 {
            json.push(',');
        }
        push_json_string(&mut json, nick);
    }
    json.push_str("]}");
    json
}

/// `text` as a JSON string, quotes included: `"`, `\` and the control
/// characters escaped, everything else as it is (JSON is UTF-8).
fn push_json_string(json: &mut String, text: &str) {
    json.push('"');
    for char in text.chars() {
        match char {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            '\n' => json.push_str("\\n"),
            '\r' => json.push_str("\\r"),
            '\t' => json.push_str("\\t"),
            '\0'..='\x1f' => json.push_str(&format!("\\u{:04x}", char as u32)),
            _ => json.push(char),
        }
    }
    json.push('"');
}
// ANCHOR_END: json

#[cfg(test)]
mod tests;
