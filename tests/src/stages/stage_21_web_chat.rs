//! Stage 21: the chat in a browser. Besides stage 20's chat on Redis, the
//! program serves a web page and a WebSocket on `--web-port N`. The tester
//! starts a Redis and processes of the program as for stage 19, gives one
//! or two of them `--web-port N`, fetches the page with a plain GET, and
//! chats as a page does, over a WebSocket on `/ws`: each line sent as one
//! text frame, each frame received JSON, `{"type":"line","text":"..."}` or
//! `{"type":"members","nicks":[...]}`. Stage 21's browser test
//! (`tests/tests/web_chat_browser.rs`) drives the reference's page in a
//! real browser; these checks need none.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::chat::{line, send_line, welcomed};
use crate::check::{Check, Context, Failure, Stage};
use crate::client::REPLY_TIMEOUT;
use crate::escape::escape_shortened;
use crate::server::Server;
use crate::web::{self, WebClient};

pub static STAGE: Stage = Stage {
    number: 21,
    name: "web-chat",
    summary: "the chat in a browser: a page and a WebSocket on --web-port, in the same chat as nc",
    builds_on: &[12, 13, 14, 19, 20],
    base: 20,
    checks: &[
        Check {
            title: "GET / on --web-port answers 200 with the page (text/html); another path is 404; an endless request head is cut off",
            run: serves_the_page,
        },
        Check {
            title: "a WebSocket on /ws joins the chat: its welcome as a line frame, then a members frame that names it",
            run: websocket_joins,
        },
        Check {
            title: "a page on one process and an nc user on another chat both ways; /nick, /msg and /who work from the page",
            run: page_and_nc_chat,
        },
        Check {
            title: "the members frame follows every join, rename and leave, on every process",
            run: members_follow,
        },
        Check {
            title: "a frame over 4096 bytes is refused with the nc error line; /quit says \"* bye\" and closes the WebSocket",
            run: long_line_and_quit,
        },
    ],
};

/// A process of the program with a web page, and its web port.
struct WebProcess {
    server: Server,
    web: SocketAddr,
}

/// Starts another process of the program with `--web-port N`, N free.
fn start_with_page(context: &mut Context) -> Result<WebProcess, Failure> {
    let port = free_port(context);
    let server = context.start_another_with(&format!(" --web-port {port}"))?;
    let web = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    // The tester waited for the chat's port; the page's may come a moment
    // later.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect_timeout(&web, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            return Err(Failure::new(format!(
                "the process started with --web-port {port} does not listen on {web}"
            ))
            .detail("started", server.command_line.clone())
            .detail("output", server.output_tail(10))
            .hint(
                "--web-port N: serve the page and the WebSocket on port N of the --bind address.",
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(WebProcess { server, web })
}

/// A port nothing listens on now, from the range the tester gives servers.
fn free_port(context: &mut Context) -> u16 {
    loop {
        let port = context.rng.between(20_000, 32_000) as u16;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

/// Opens a WebSocket to `process` and reads its welcome: the client and
/// its nick.
fn join_web(process: &WebProcess, name: &str) -> Result<(WebClient, String), Failure> {
    let mut client = WebClient::connect(process.web, name.to_string())
        .map_err(|failure| with_output(failure, &process.server))?;
    let welcome = client
        .expect_line_starting("Welcome, user")
        .map_err(|failure| {
            failure.explain(
                "The first frame a web client receives is its welcome, as an nc user's: \
             {\"type\":\"line\",\"text\":\"Welcome, user<N>! Set your name with /nick NAME; /help \
             lists the commands.\"}",
            )
        })?;
    let nick = welcome["Welcome, ".len()..]
        .split('!')
        .next()
        .unwrap_or_default()
        .to_string();
    Ok((client, nick))
}

/// `failure`, with what the process of the web port printed.
fn with_output(failure: Failure, process: &Server) -> Failure {
    failure.detail(
        "process",
        format!(
            "`{}`, its last lines:\n{}",
            process.command_line,
            process.output_tail(12)
        ),
    )
}

fn strings(nicks: &[&String]) -> Vec<String> {
    nicks.iter().map(|nick| nick.to_string()).collect()
}

fn serves_the_page(context: &mut Context) -> Result<(), Failure> {
    let process = start_with_page(context)?;
    let page = web::get(process.web, "/")?;
    if page.status != 200 {
        return Err(Failure::new(format!(
            "GET / answered {}, not 200",
            page.head.lines().next().unwrap_or_default()
        ))
        .hint("GET / serves the page: HTTP/1.1 200 OK, Content-Type: text/html, the HTML."));
    }
    let content_type = page.header("content-type").unwrap_or_default();
    if !content_type.starts_with("text/html") {
        return Err(Failure::new(format!(
            "GET / answered with Content-Type \"{content_type}\", not text/html"
        ))
        .detail("head", page.head.clone())
        .hint("Without Content-Type: text/html, a browser shows the page's source as text."));
    }
    let html = String::from_utf8_lossy(&page.body);
    for id in ["log", "members", "send", "input"] {
        if !html.contains(&format!("id=\"{id}\"")) && !html.contains(&format!("id='{id}'")) {
            return Err(
                Failure::new(format!("the page has no element with id=\"{id}\""))
                    .detail("page", escape_shortened(&page.body, 300))
                    .hint(
                        "The page shows the chat in <div id=\"log\"> (a <div class=\"line\"> per \
                     line), who is online in <ul id=\"members\">, and sends from <form \
                     id=\"send\"> with <input id=\"input\">: the browser test finds them by id.",
                    ),
            );
        }
    }
    let missing = format!("/no-such-page-{}", context.rng.word());
    let answer = web::get(process.web, &missing)?;
    if answer.status != 404 {
        return Err(Failure::new(format!(
            "GET {missing} answered {}, not 404",
            answer.head.lines().next().unwrap_or_default()
        ))
        .hint(
            "Only / (the page) and /ws (the WebSocket) are there: anything else is 404 Not Found.",
        ));
    }
    endless_head_is_cut_off(&process)?;
    let again = web::get(process.web, "/")?;
    if again.status != 200 {
        return Err(Failure::new(
            "after a request with an endless head, GET / is no longer served",
        ));
    }
    Ok(())
}

/// A request head that never ends: the server must stop reading it (an
/// error status, a closed connection, or no more reading), not keep it all.
fn endless_head_is_cut_off(process: &WebProcess) -> Result<(), Failure> {
    let mut stream = TcpStream::connect(process.web)
        .map_err(|error| Failure::new(format!("could not connect to the web port: {error}")))?;
    let _ = stream.set_write_timeout(Some(REPLY_TIMEOUT));
    let filler = format!("X-Filler: {}\r\n", "x".repeat(1000));
    let mut written = stream
        .write_all(b"GET / HTTP/1.1\r\nHost: tester\r\n")
        .is_ok();
    // 1 MB of headers. A server that stops reading makes these writes wait
    // (the kernel's buffers fill) and time out; one that closes makes them
    // fail.
    for _ in 0..1000 {
        if !written {
            return Ok(());
        }
        written = stream.write_all(filler.as_bytes()).is_ok();
    }
    // It read all of that: it must at least answer, or close.
    let _ = stream.set_read_timeout(Some(REPLY_TIMEOUT));
    let mut answer = [0u8; 64];
    match stream.read(&mut answer) {
        Ok(0) => Ok(()),
        Ok(read) if answer[..read].starts_with(b"HTTP/1.1 4") => Ok(()),
        Ok(read) => Err(Failure::new(
            "a request head of over 1 MB got another answer than an error",
        )
        .detail("received", escape_shortened(&answer[..read], 64))
        .hint("Read at most a few KiB of a request's head; past that, answer 431 and close.")),
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
        Err(_) => Err(Failure::new(
            "the server read 1 MB of one request's head and still waited for its end",
        )
        .hint(
            "A client decides how long its request is: bound the head you read (8 KiB is \
             plenty), then answer 431 Request Header Fields Too Large and close. And time a \
             slow one out.",
        )),
    }
}

fn websocket_joins(context: &mut Context) -> Result<(), Failure> {
    let process = start_with_page(context)?;
    let (mut page, nick) = join_web(&process, "web client 1 (on A)")?;
    page.expect_members(std::slice::from_ref(&nick))
        .map_err(|failure| {
            failure.explain(
                "After its welcome, a web client is sent who is online: \
                 {\"type\":\"members\",\"nicks\":[...]}, its own nick among them.",
            )
        })
}

fn page_and_nc_chat(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    let process = start_with_page(context)?;
    let (mut page, page_nick) = join_web(&process, "web client 1 (on A)")?;
    page.expect_members(std::slice::from_ref(&page_nick))?;
    // The nc user is on the first process, B: another process than the page's.
    let b = context.server.address();
    let (mut nc, nc_nick) = welcomed(context.connect_to(b, "B")?)?;
    page.expect_line(&format!("* {nc_nick} joined"))
        .map_err(|failure| failure.explain("A web client hears who joins, on any process."))?;

    let new_nick = format!("{word}-web");
    page.send(&format!("/nick {new_nick}"))?;
    page.expect_line(&format!("* you are now {new_nick}"))
        .map_err(|failure| {
            failure.explain(
                "A text frame is one line, as an nc user would type it: \"/nick NAME\" renames.",
            )
        })?;
    nc.expect(&line(format!("* {page_nick} is now {new_nick}")))?;

    page.send(&format!("hello from the page {word}"))?;
    nc.expect(&line(format!("{new_nick}> hello from the page {word}")))
        .map_err(|failure| {
            failure.explain("A line from the page reaches nc users on every process as NICK> text.")
        })?;
    // Quotes, a backslash and HTML: the JSON must carry them as they are.
    let tricky = format!("say \"hi\" \\ <b>{word}</b> zoë");
    send_line(&mut nc, &tricky)?;
    page.expect_line(&format!("{nc_nick}> {tricky}"))
        .map_err(|failure| {
            failure.explain(
                "An nc user's line reaches the page as a line frame, escaped as JSON strings are: \
             \\\" for a quote, \\\\ for a backslash. (And not sent back to the page that wrote \
             it: the page shows what it sends itself.)",
            )
        })?;
    page.send(&format!("/msg {nc_nick} psst {word}"))?;
    nc.expect(&line(format!("{new_nick} (private)> psst {word}")))?;
    page.send("/who")?;
    let mut nicks = [new_nick, nc_nick];
    nicks.sort();
    page.expect_line(&format!("* online (2): {}", nicks.join(", ")))?;
    nc.expect_nothing_more()
}

fn members_follow(context: &mut Context) -> Result<(), Failure> {
    let word = context.rng.word();
    // Both processes with a page start before anyone joins: the tester's
    // first connection to each (it waits until the program listens) is a
    // user who joins and leaves, and everyone would be told.
    let a = start_with_page(context)?;
    let c = start_with_page(context)?;
    let (mut first, first_nick) = join_web(&a, "web client 1 (on A)")?;
    first.expect_members(std::slice::from_ref(&first_nick))?;
    let explain = |what: &'static str| {
        move |failure: Failure| {
            failure.explain(format!(
                "{what}: every web client is sent the new list of who is online."
            ))
        }
    };

    let b = context.server.address();
    let (mut nc, nc_nick) = welcomed(context.connect_to(b, "B")?)?;
    first
        .expect_members(&strings(&[&first_nick, &nc_nick]))
        .map_err(explain("An nc user joined on another process"))?;
    let renamed = format!("{word}-nc");
    send_line(&mut nc, &format!("/nick {renamed}"))?;
    nc.expect(&line(format!("* you are now {renamed}")))?;
    first
        .expect_members(&strings(&[&first_nick, &renamed]))
        .map_err(explain("An nc user on another process changed its nick"))?;

    let (mut second, second_nick) = join_web(&c, "web client 2 (on C)")?;
    let three = strings(&[&first_nick, &renamed, &second_nick]);
    second
        .expect_members(&three)
        .map_err(explain("A web client joined on a third process"))?;
    first
        .expect_members(&three)
        .map_err(explain("A web client joined on another process"))?;

    nc.expect(&line(format!("* {second_nick} joined")))?;
    send_line(&mut nc, "/quit")?;
    nc.expect(&line("* bye"))?;
    let two = strings(&[&first_nick, &second_nick]);
    first
        .expect_members(&two)
        .map_err(explain("An nc user left with /quit"))?;
    second
        .expect_members(&two)
        .map_err(explain("An nc user left with /quit"))?;
    drop(second);
    first
        .expect_members(std::slice::from_ref(&first_nick))
        .map_err(explain("A web client closed its WebSocket"))
}

fn long_line_and_quit(context: &mut Context) -> Result<(), Failure> {
    let process = start_with_page(context)?;
    let (mut page, _) = join_web(&process, "web client 1 (on A)")?;
    let length = context.rng.between(4097, 6000);
    page.send(&"x".repeat(length))?;
    page.expect_line("! line too long (over 4096 bytes): not sent")
        .map_err(|failure| {
            failure.explain(format!(
                "A frame is a line, and a line is at most 4096 bytes, from a page as from nc: \
                 this one had {length}."
            ))
        })?;
    page.send("/quit")?;
    page.expect_line("* bye")?;
    page.expect_closed().map_err(|failure| {
        failure.explain("After \"* bye\", the server closes the WebSocket (a close frame).")
    })
}
