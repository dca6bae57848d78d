//! Stage 21's page in a real browser: headless Chromium, driven through
//! WebDriver (`chromedriver`), chats with an nc user across two processes of
//! the reference `stage-21-web-chat` that share one Redis.
//!
//! Two pages (one on each process) and a line client: each sees the
//! others' lines, a `/msg` crosses processes, the member list of both pages
//! follows every join, rename and leave, and a line that looks like HTML
//! stays text.
//!
//! `COURSE_SERVER="python3 chat.py" cargo test -p tests --test
//! web_chat_browser` puts your program in the browser instead.
//!
//! The Redis is the course's own, as for stage 21's checks
//! (`COURSE_CHAT_STORE=redis-server`: a real one). Needs `chromedriver` and
//! Chromium (Debian: `apt-get install chromium chromium-driver`). Without
//! them the test says so and passes, unless `CI` is set: then it fails,
//! because CI installs them.
//!
//! The WebDriver client is ours: a few JSON requests over HTTP/1.1 on a
//! `TcpStream` (the W3C WebDriver protocol), no browser-automation crate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::chat_store::{Store, StoreKind};
use harness::random::{Rng, fresh_seed};
use harness::server::{Server, ServerSpec, program, startup_timeout};
use harness::stages;
use serde_json::{Value, json};

/// How long the page may take to show what it should.
const PAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// The key WebDriver sends for Enter.
const ENTER: &str = "\u{E007}";

#[test]
fn two_pages_and_an_nc_user_chat_across_two_processes() {
    let store_kind = StoreKind::from_environment();
    let Some(tools) = Tools::find(store_kind) else {
        return;
    };
    let mut rng = Rng::new(fresh_seed());
    let word = rng.word();

    // One Redis, two chat processes on it, each with its page.
    let redis = Store::start(store_kind, &mut rng, startup_timeout())
        .unwrap_or_else(|failure| panic!("{}", failure.render()));
    // The reference, or your program: COURSE_SERVER="python3 chat.py".
    let spec = ServerSpec::from_environment_or(stages::find(21).unwrap().reference());
    let chat = program(&spec).unwrap_or_else(|failure| panic!("{}", failure.render()));
    let start_chat = |rng: &mut Rng| {
        let web_port = free_port();
        let command = format!("{} --redis {} --web-port {web_port}", chat, redis.url());
        let server = Server::start(&ServerSpec::Command(command), rng, startup_timeout())
            .unwrap_or_else(|failure| panic!("stage 21 did not start:\n{}", failure.render()));
        (server, web_port)
    };
    let (process_a, web_a) = start_chat(&mut rng);
    let (process_b, web_b) = start_chat(&mut rng);

    let mut browser = Browser::start(&tools);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let alice = format!("alice-{word}");
        let bob = format!("bob-{word}");
        let carol = format!("carol-{word}");

        // Page 1, on process A: its welcome, and itself in the member list.
        let page_a = browser.current_window();
        browser.open(&format!("http://127.0.0.1:{web_a}/"));
        let seen = browser.wait_for("the welcome line on page A", |page| {
            page.has_line_starting("Welcome, user") && page.members.len() == 1
        });
        let default_nick = seen.members[0].clone();
        browser.type_line(&format!("/nick {alice}"));
        browser.wait_for("/nick on page A", |page| {
            page.has_line(&format!("* you are now {alice}")) && page.members == [alice.clone()]
        });

        // Page 2, on process B.
        let page_b = browser.new_window();
        browser.open(&format!("http://127.0.0.1:{web_b}/"));
        browser.wait_for("the welcome line on page B", |page| {
            page.has_line_starting("Welcome, user") && page.members.len() == 2
        });
        browser.type_line(&format!("/nick {bob}"));
        browser.wait_for("page B renamed, both in its list", |page| {
            page.has_line(&format!("* you are now {bob}"))
                && page.members == sorted(&[&alice, &bob])
        });

        // An nc user, on process B too.
        let mut nc = LineClient::connect(process_b.address());
        nc.expect_starting("Welcome, user");
        nc.send(&format!("/nick {carol}"));
        nc.expect(&format!("* you are now {carol}"));
        let everyone = sorted(&[&alice, &bob, &carol]);

        // Page A sees them all come, across processes.
        browser.switch_to(&page_a);
        browser.wait_for("page A's list after the joins", |page| {
            page.has_line_ending(&format!(" is now {bob}"))
                && page.has_line_ending(&format!(" is now {carol}"))
                && page.members == everyone
        });
        assert!(!default_nick.is_empty());

        // Lines both ways: page A to nc and page B; nc to both pages.
        browser.type_line(&format!("hello from A {word}"));
        nc.expect(&format!("{alice}> hello from A {word}"));
        nc.send(&format!("hi from nc {word}"));
        browser.wait_for("the nc user's line on page A", |page| {
            page.has_line(&format!("{carol}> hi from nc {word}"))
        });
        // A line that looks like HTML is shown as text, not made into HTML.
        let html = format!("<b id=\"injected\">{word}</b>");
        nc.send(&html);
        browser.wait_for("the HTML-like line on page A, as text", |page| {
            page.has_line(&format!("{carol}> {html}")) && !page.injected
        });
        browser.switch_to(&page_b);
        browser.wait_for("page B's lines", |page| {
            page.has_line(&format!("{alice}> hello from A {word}"))
                && page.has_line(&format!("{carol}> hi from nc {word}"))
                && page.members == everyone
        });

        // /msg from page B reaches the nc user alone.
        browser.type_line(&format!("/msg {carol} psst {word}"));
        nc.expect(&format!("{bob} (private)> psst {word}"));

        // The nc user leaves: both lists lose it.
        nc.send("/quit");
        nc.expect("* bye");
        let without_carol = sorted(&[&alice, &bob]);
        browser.wait_for("page B after the nc user left", |page| {
            page.has_line(&format!("* {carol} left")) && page.members == without_carol
        });
        // Page B leaves (its tab closes): page A's list is alice alone.
        browser.close_window();
        browser.switch_to(&page_a);
        browser.wait_for("page A after page B left", |page| {
            page.has_line(&format!("* {bob} left"))
                && page.has_line(&format!("* {carol} left"))
                && page.members == [alice.clone()]
        });
    }));
    browser.quit();
    if let Err(panic) = result {
        for (name, process) in [("A", &process_a), ("B", &process_b)] {
            eprintln!("process {name}'s output:\n{}", process.output_tail(30));
        }
        std::panic::resume_unwind(panic);
    }
}

fn sorted(nicks: &[&String]) -> Vec<String> {
    let mut nicks: Vec<String> = nicks.iter().map(|nick| nick.to_string()).collect();
    nicks.sort();
    nicks
}

/// A port that is free now (the system's choice).
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

/// The programs the test needs, or `None` (said why) when one is missing
/// and `CI` is not set.
struct Tools {
    chromedriver: PathBuf,
    chromium: Option<PathBuf>,
}

impl Tools {
    fn find(store: StoreKind) -> Option<Tools> {
        let chromedriver = on_path("chromedriver");
        let redis = on_path("redis-server").or((store == StoreKind::Course).then(PathBuf::new));
        let chromium = ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .find_map(|name| on_path(name));
        let missing: Vec<&str> = [
            ("chromedriver", chromedriver.is_none()),
            ("chromium", chromium.is_none()),
            ("redis-server", redis.is_none()),
        ]
        .iter()
        .filter(|(_, missing)| *missing)
        .map(|(name, _)| *name)
        .collect();
        if missing.is_empty() {
            return Some(Tools {
                chromedriver: chromedriver?,
                chromium,
            });
        }
        let why = format!(
            "the browser test needs {} (Debian: apt-get install chromium chromium-driver; \
             redis-server only with COURSE_CHAT_STORE=redis-server)",
            missing.join(", ")
        );
        assert!(std::env::var_os("CI").is_none(), "CI is set, and {why}");
        eprintln!("skipped: {why}");
        None
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|folder| folder.join(name))
        .find(|candidate| candidate.is_file())
}

/// What a page shows, as read by a script in it.
#[derive(Debug)]
struct Page {
    lines: Vec<String>,
    members: Vec<String>,
    /// Whether an element with id "injected" exists: a line made into HTML.
    injected: bool,
}

impl Page {
    fn has_line(&self, text: &str) -> bool {
        self.lines.iter().any(|line| line == text)
    }

    fn has_line_starting(&self, start: &str) -> bool {
        self.lines.iter().any(|line| line.starts_with(start))
    }

    fn has_line_ending(&self, end: &str) -> bool {
        self.lines.iter().any(|line| line.ends_with(end))
    }
}

/// A headless Chromium behind chromedriver, and the WebDriver session.
struct Browser {
    driver: Child,
    address: SocketAddr,
    session: String,
}

impl Browser {
    fn start(tools: &Tools) -> Browser {
        let port = free_port();
        let driver = Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run chromedriver");
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut browser = Browser {
            driver,
            address,
            session: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(address).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen in 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut options = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1000,700"]
        });
        if let Some(chromium) = &tools.chromium {
            options["binary"] = json!(chromium.to_string_lossy());
        }
        let capabilities = json!({
            "capabilities": { "alwaysMatch": { "goog:chromeOptions": options } }
        });
        let reply = browser.call("POST", "/session", Some(capabilities));
        browser.session = reply["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {reply}"))
            .to_string();
        browser
    }

    /// One WebDriver command: its `value`, or a panic with the error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|body| body.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect(self.address).expect("connect to chromedriver");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("a read timeout");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.address,
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .expect("send to chromedriver");
        let (head, body) = read_response(stream);
        let value: Value = serde_json::from_str(&body)
            .unwrap_or_else(|error| panic!("{method} {path}: {error} in {body}"));
        if !head.starts_with("HTTP/1.1 200") {
            panic!(
                "{method} {path}: {}\n{value:#}",
                head.lines().next().unwrap_or("")
            );
        }
        value["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    fn open(&self, url: &str) {
        self.call(
            "POST",
            &self.session_path("/url"),
            Some(json!({ "url": url })),
        );
    }

    fn current_window(&self) -> String {
        let handle = self.call("GET", &self.session_path("/window"), None);
        handle.as_str().expect("a window handle").to_string()
    }

    /// Opens a new tab and switches to it.
    fn new_window(&self) -> String {
        let reply = self.call(
            "POST",
            &self.session_path("/window/new"),
            Some(json!({ "type": "tab" })),
        );
        let handle = reply["handle"]
            .as_str()
            .expect("a window handle")
            .to_string();
        self.switch_to(&handle);
        handle
    }

    fn switch_to(&self, handle: &str) {
        self.call(
            "POST",
            &self.session_path("/window"),
            Some(json!({ "handle": handle })),
        );
    }

    fn close_window(&self) {
        self.call("DELETE", &self.session_path("/window"), None);
    }

    /// Types `text` into the page's input and presses Enter, as a person
    /// would.
    fn type_line(&self, text: &str) {
        let element = self.call(
            "POST",
            &self.session_path("/element"),
            Some(json!({ "using": "css selector", "value": "#input" })),
        );
        // The element's id is the value of its one key (a fixed UUID).
        let id = element
            .as_object()
            .and_then(|object| object.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no #input on the page: {element}"))
            .to_string();
        self.call(
            "POST",
            &self.session_path(&format!("/element/{id}/value")),
            Some(json!({ "text": format!("{text}{ENTER}") })),
        );
    }

    /// What the page shows now.
    fn read_page(&self) -> Page {
        let script = "return {
            lines: [...document.querySelectorAll('#log .line')].map(e => e.textContent),
            members: [...document.querySelectorAll('#members li')].map(e => e.textContent),
            injected: document.getElementById('injected') !== null
        };";
        let value = self.call(
            "POST",
            &self.session_path("/execute/sync"),
            Some(json!({ "script": script, "args": [] })),
        );
        let strings = |key: &str| -> Vec<String> {
            value[key]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| item.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Page {
            lines: strings("lines"),
            members: strings("members"),
            injected: value["injected"].as_bool().unwrap_or(true),
        }
    }

    /// Reads the page until `condition` holds; panics with what it shows
    /// after [`PAGE_TIMEOUT`].
    fn wait_for(&self, what: &str, condition: impl Fn(&Page) -> bool) -> Page {
        let deadline = Instant::now() + PAGE_TIMEOUT;
        loop {
            let page = self.read_page();
            if condition(&page) {
                return page;
            }
            if Instant::now() > deadline {
                panic!(
                    "waited {} s for {what}; the page shows:\n  members: {:?}\n  lines:\n    {}",
                    PAGE_TIMEOUT.as_secs(),
                    page.members,
                    page.lines.join("\n    ")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn quit(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = std::panic::catch_unwind(|| self.call("DELETE", &path, None));
            self.session.clear();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.quit();
    }
}

/// An HTTP response's head and body. chromedriver says `Connection: close`
/// and keeps the connection open all the same: read what `Content-Length`
/// says (or the chunks), not to the end.
fn read_response(stream: TcpStream) -> (String, String) {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let read = reader
            .read_line(&mut line)
            .expect("read chromedriver's answer");
        if read == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    };
    let mut body = Vec::new();
    if let Some(length) = header("content-length").and_then(|length| length.parse().ok()) {
        body.resize(length, 0);
        reader
            .read_exact(&mut body)
            .expect("read chromedriver's answer");
    } else if header("transfer-encoding").is_some_and(|coding| coding.contains("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).expect("read a chunk's size");
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).expect("read a chunk");
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        reader
            .read_to_end(&mut body)
            .expect("read chromedriver's answer");
    }
    (head, String::from_utf8_lossy(&body).into_owned())
}

/// An nc user: lines over TCP, a timeout on every read.
struct LineClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl LineClient {
    fn connect(address: SocketAddr) -> LineClient {
        let stream = TcpStream::connect(address).expect("connect to the chat");
        stream
            .set_read_timeout(Some(PAGE_TIMEOUT))
            .expect("a read timeout");
        let writer = stream.try_clone().expect("a second handle");
        LineClient {
            reader: BufReader::new(stream),
            writer,
        }
    }

    fn send(&mut self, text: &str) {
        self.writer
            .write_all(format!("{text}\n").as_bytes())
            .expect("send a line");
    }

    /// Reads lines until one is `expected` (others, such as notices, are
    /// skipped); panics with what came if it does not.
    fn expect(&mut self, expected: &str) {
        self.expect_matching(expected, |line| line == expected);
    }

    fn expect_starting(&mut self, start: &str) {
        self.expect_matching(start, |line| line.starts_with(start));
    }

    fn expect_matching(&mut self, what: &str, matches: impl Fn(&str) -> bool) {
        let mut seen = Vec::new();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(read) if read > 0 => {
                    let line = line.trim_end_matches('\n').to_string();
                    if matches(&line) {
                        return;
                    }
                    seen.push(line);
                }
                _ => panic!(
                    "the nc user waited for \"{what}\"; it got:\n    {}",
                    seen.join("\n    ")
                ),
            }
        }
    }
}
