//! The server under test: which program it is, starting it on a free port,
//! waiting until it listens, keeping its output for failure reports, and
//! always killing it (with everything it started) when a check is done.

use std::collections::HashSet;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::check::Failure;
use crate::random::Rng;

/// The environment variable that names a learner's program: its value is a
/// shell command, to which the tester appends `--port N`.
pub const SERVER_VARIABLE: &str = "COURSE_SERVER";
/// Seconds to wait for a server to listen (default 10).
pub const STARTUP_VARIABLE: &str = "COURSE_STARTUP_TIMEOUT";

/// Which program to test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerSpec {
    /// The course's own reference stage, e.g. `stage-03-many-pings`.
    Reference { package: String },
    /// A command run by `sh -c`, e.g. `python3 my_server.py`.
    Command(String),
}

impl ServerSpec {
    /// `COURSE_SERVER` when it is set and not empty, otherwise `fallback`.
    pub fn from_environment_or(fallback: ServerSpec) -> ServerSpec {
        match std::env::var(SERVER_VARIABLE) {
            Ok(command) if !command.trim().is_empty() => ServerSpec::Command(command),
            _ => fallback,
        }
    }

    /// How the server is named in reports.
    pub fn describe(&self) -> String {
        match self {
            ServerSpec::Reference { package } => format!("the reference {package}"),
            ServerSpec::Command(command) => format!("`{command}`"),
        }
    }
}

/// A running server under test. Dropping it kills its whole process group.
pub struct Server {
    child: Child,
    pub port: u16,
    /// The command line, as shown in reports.
    pub command_line: String,
    output: Arc<Mutex<Output>>,
}

/// How long to wait for a server to start listening.
pub fn startup_timeout() -> Duration {
    let seconds = std::env::var(STARTUP_VARIABLE)
        .ok()
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|seconds| *seconds > 0.0)
        .unwrap_or(10.0);
    Duration::from_secs_f64(seconds)
}

impl Server {
    /// Starts `spec` with `--port N` on a free port and waits until it
    /// accepts a connection.
    pub fn start(
        spec: &ServerSpec,
        rng: &mut Rng,
        startup_timeout: Duration,
    ) -> Result<Server, Failure> {
        Server::start_with(spec, "", rng, startup_timeout)
    }

    /// [`Server::start`], with `arguments` before `--port N` (a chat on
    /// Redis is given `--redis URL`).
    pub fn start_with(
        spec: &ServerSpec,
        arguments: &str,
        rng: &mut Rng,
        startup_timeout: Duration,
    ) -> Result<Server, Failure> {
        let program = format!("{}{arguments}", program(spec)?);
        // A port that another test took in the meantime makes the server
        // exit at once: try again with another port, a few times.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port(rng);
            match Server::start_on(&program, port, startup_timeout) {
                Err(failure) if attempt < 4 && failure.port_was_taken => continue,
                result => {
                    return result.map_err(|start| {
                        let mut failure = start.failure;
                        failure.did_not_start = true;
                        failure
                    });
                }
            }
        }
    }

    /// Starts `spec` again on `port`, which it had (a restart).
    pub fn restart_on(spec: &ServerSpec, port: u16, timeout: Duration) -> Result<Server, Failure> {
        Server::start_on(&program(spec)?, port, timeout).map_err(|start| start.failure)
    }

    fn start_on(program: &str, port: u16, timeout: Duration) -> Result<Server, StartFailure> {
        let command_line = format!("{program} --port {port}");
        // `sh -c` so that a learner's command can be anything a shell runs
        // (`python3 server.py`, `cargo run -q --`, `./server`), and its own
        // process group, so that killing the group also kills whatever the
        // command started (`cargo run` starts the real server as a child).
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&command_line)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|error| StartFailure {
                failure: Failure::new(format!("could not run `{command_line}`: {error}")),
                port_was_taken: false,
            })?;
        live_groups().insert(child.id());
        kill_servers_on_interrupt();
        let output = Arc::new(Mutex::new(Output::default()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = Arc::clone(&output);
            // Not joined: a grandchild that escaped the process group could
            // hold the pipe open forever, and the tester must not wait on it.
            std::thread::spawn(move || collect_output(stream, &output));
        }
        let mut server = Server {
            child,
            port,
            command_line,
            output,
        };
        server.wait_until_listening(timeout).map(|()| server)
    }

    fn wait_until_listening(&mut self, timeout: Duration) -> Result<(), StartFailure> {
        let started = Instant::now();
        let address = self.address();
        loop {
            if let Ok(probe) = TcpStream::connect_timeout(&address, Duration::from_millis(200)) {
                finish_probe(probe);
                return Ok(());
            }
            if let Some(status) = self.exit_status() {
                // Give the output threads a moment to catch the last words.
                std::thread::sleep(Duration::from_millis(50));
                let output = self.output_text();
                let port_was_taken = output.contains("in use");
                let failure = Failure::new(format!(
                    "your program exited ({}) before it listened on port {}",
                    describe_status(status),
                    self.port
                ))
                .detail("started", self.command_line.clone())
                .hint(
                    "Does it start at all when you run that command yourself? It must \
                     accept `--port N` and keep running, accepting connections on that port.",
                )
                .output(&self.output_tail(20));
                return Err(StartFailure {
                    failure,
                    port_was_taken,
                });
            }
            if started.elapsed() > timeout {
                let failure = Failure::new(format!(
                    "your program did not accept connections on {address} within {:.0} s",
                    timeout.as_secs_f64()
                ))
                .detail("started", self.command_line.clone())
                .hint(format!(
                    "Does it read `--port {port}` and listen on that port (not 6379)? Does it \
                     listen on 127.0.0.1 (or 0.0.0.0)? If it is compiled on start (cargo run), \
                     build it first, or allow more time with {STARTUP_VARIABLE}=60.",
                    port = self.port
                ))
                .output(&self.output_tail(20));
                return Err(StartFailure {
                    failure,
                    port_was_taken: false,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn address(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `Some` once the server has exited (without waiting for it to).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The memory of the server's processes, summed over its process group:
    /// `(resident, virtual)` in KiB. Resident memory counts only pages that
    /// were touched; virtual memory also counts what was reserved and never
    /// used, such as a buffer made for a length a client only declared.
    /// `None` where the system does not tell (only Linux's /proc is read).
    pub fn memory_kib(&self) -> Option<(u64, u64)> {
        let group = self.child.id().to_string();
        let mut total = (0, 0);
        let mut found = false;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let path = entry.path();
            let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
                continue;
            };
            // "pid (name) state ppid pgrp ...": the name may hold spaces.
            let Some((_, after_name)) = stat.rsplit_once(')') else {
                continue;
            };
            if after_name.split_whitespace().nth(2) != Some(group.as_str()) {
                continue;
            }
            let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
            let field = |name: &str| {
                status
                    .lines()
                    .find(|line| line.starts_with(name))
                    .and_then(|line| line.split_whitespace().nth(1))
                    .and_then(|n| n.parse::<u64>().ok())
            };
            if let (Some(resident), Some(virtual_size)) = (field("VmRSS:"), field("VmSize:")) {
                total.0 += resident;
                total.1 += virtual_size;
                found = true;
            }
        }
        found.then_some(total)
    }

    /// The processor time the server's processes have used so far, user
    /// and system, in seconds: a bench's measure of what a command costs
    /// the server, steadier on a busy machine than the time it waits.
    /// `None` where the system does not tell (only Linux's /proc is read).
    pub fn cpu_seconds(&self) -> Option<f64> {
        // Linux counts it in clock ticks of 1/100 s (USER_HZ) for every
        // program, whatever the kernel's own tick.
        const TICKS_PER_SECOND: f64 = 100.0;
        let mut ticks = 0;
        for pid in group_members(self.child.id()) {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (name) state ... utime stime ...": the 12th and 13th
            // fields after the name.
            let (_, after_name) = stat.rsplit_once(')')?;
            let mut fields = after_name.split_whitespace().skip(11);
            for _ in 0..2 {
                ticks += fields.next()?.parse::<u64>().ok()?;
            }
        }
        Some(ticks as f64 / TICKS_PER_SECOND)
    }

    /// Stops reading the server's stdout and stderr, and keeps both pipes
    /// open: once their buffers (64 KiB each on Linux) are full, a write to
    /// them waits, as it does when a terminal is paused or the program the
    /// output is piped to stops reading. At most one more read of each
    /// stream may happen.
    pub fn stop_reading_output(&self) {
        self.output
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .paused = true;
    }

    /// Reads the server's output again, after [`Server::stop_reading_output`].
    pub fn read_output_again(&self) {
        self.output
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .paused = false;
    }

    /// Sends `signal` (`"TERM"`, `"INT"`) to the server: to every process
    /// of its group but the `sh -c` that started it. That shell (dash does
    /// not hand its place to the command) would die by the signal, and its
    /// exit status would hide the server's; left alone, it exits with the
    /// server's status. A command that did take the shell's place (`exec
    /// ./server`) leads the group alone, and gets the signal itself.
    pub fn signal(&self, signal: &str) {
        let leader = self.child.id();
        let others: Vec<String> = group_members(leader)
            .into_iter()
            .filter(|pid| *pid != leader)
            .map(|pid| pid.to_string())
            .collect();
        let targets = if others.is_empty() {
            leader.to_string()
        } else {
            others.join(" ")
        };
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -{signal} {targets} 2>/dev/null"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Waits until the server exits, for `within` at most: its status, or
    /// `None` if it is still running.
    pub fn wait_for_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything the server printed so far (its last 64 KiB).
    pub fn output_text(&self) -> String {
        let output = self
            .output
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        String::from_utf8_lossy(&output.bytes).into_owned()
    }

    /// What the server printed, for a failure report: the lines that name
    /// the cause of a crash with the few after them (Go and Java print the
    /// cause at the top of a long dump), then the last `lines` lines.
    pub fn output_tail(&self, lines: usize) -> String {
        excerpt(&self.output_text(), lines)
    }

    /// The lines that name the cause of a crash or a race, with the few
    /// after them, if the server printed any: a check that passed may still
    /// have seen one.
    pub fn trouble_in_output(&self) -> Option<String> {
        let text = self.output_text();
        let all: Vec<&str> = text.lines().collect();
        let shown = cause_lines(&all, 0..all.len());
        if shown.is_empty() {
            return None;
        }
        let mut out = String::new();
        push_numbered(&mut out, &all, &shown);
        Some(out)
    }
}

impl Server {
    /// The line of the server's output that says why it crashed, if it
    /// did: the line that names the cause, or for a Python traceback its
    /// last line (`UnicodeDecodeError: ...`).
    pub fn crash_cause(&self) -> Option<String> {
        let text = self.output_text();
        let all: Vec<&str> = text.lines().collect();
        let first = *cause_lines(&all, 0..all.len()).first()?;
        let line = if all[first].starts_with("Traceback") {
            all[first + 1..]
                .iter()
                .find(|line| !line.starts_with(char::is_whitespace) && !line.is_empty())
                .copied()
                .unwrap_or(all[first])
        } else {
            all[first]
        };
        let line = line.trim();
        Some(match line.char_indices().nth(MAX_SHOWN_LINE) {
            Some((cut, _)) => format!("{}...", &line[..cut]),
            None => line.to_string(),
        })
    }
}

/// Words that start the cause of a crash or of a race, in the output of
/// Rust (`panicked at`), Go (`panic:`, `fatal error:`, `WARNING: DATA
/// RACE`), Python (`Traceback`), Java and others (`Exception`).
const CAUSE_MARKERS: &[&str] = &[
    "panicked at",
    "panic:",
    "fatal error",
    "DATA RACE",
    "Traceback",
    "Exception",
    "AddressSanitizer",
];
/// How many lines after a cause are shown with it (the first lines of the
/// crash: where it happened).
const LINES_AFTER_CAUSE: usize = 5;
/// The most cause lines shown (with their lines after).
const MAX_CAUSES: usize = 3;

/// The indexes, in `range` of `all`, of the lines that name a cause and
/// the few after each.
fn cause_lines(all: &[&str], range: std::ops::Range<usize>) -> Vec<usize> {
    let mut shown: Vec<usize> = Vec::new();
    let mut causes = 0;
    for index in range.clone() {
        if causes == MAX_CAUSES {
            break;
        }
        if shown.last().is_some_and(|last| *last >= index) {
            continue;
        }
        if CAUSE_MARKERS
            .iter()
            .any(|marker| all[index].contains(marker))
        {
            causes += 1;
            shown.extend(index..(index + 1 + LINES_AFTER_CAUSE).min(range.end));
        }
    }
    shown
}

/// The cause lines of `text` and its last `lines` lines, each line cut at
/// [`MAX_SHOWN_LINE`] characters, with a note where lines are left out.
fn excerpt(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let tail_start = all.len().saturating_sub(lines);
    let mut shown = cause_lines(&all, 0..tail_start);
    shown.extend(tail_start..all.len());
    let mut out = String::new();
    push_numbered(&mut out, &all, &shown);
    out
}

/// The lines of `all` at the indexes `shown` (in order), a note for each
/// run of lines left out.
fn push_numbered(out: &mut String, all: &[&str], shown: &[usize]) {
    let mut next = 0;
    for &index in shown {
        if index > next {
            let skipped = index - next;
            let noun = if skipped == 1 { "line" } else { "lines" };
            out.push_str(&format!("({skipped} {noun} not shown)\n"));
        }
        let line = all[index];
        // A server that logs what clients send can log very long lines.
        match line.char_indices().nth(MAX_SHOWN_LINE) {
            Some((cut, _)) => {
                out.push_str(&line[..cut]);
                out.push_str(&format!("... ({} characters in all)", line.chars().count()));
            }
            None => out.push_str(line),
        }
        out.push('\n');
        next = index + 1;
    }
    if next < all.len() {
        let skipped = all.len() - next;
        out.push_str(&format!("({skipped} later lines not shown)\n"));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        kill_process_group(self.child.id());
        // The output threads read to the end, and end.
        self.read_output_again();
        let _ = self.child.kill();
        let _ = self.child.wait();
        live_groups().remove(&self.child.id());
    }
}

/// The processes of the group `leader` leads, read from Linux's /proc
/// (none where there is no /proc).
fn group_members(leader: u32) -> Vec<u32> {
    let group = leader.to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut members = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (name) state ppid pgrp ...": the name may hold spaces.
        let Some((_, after_name)) = stat.rsplit_once(')') else {
            continue;
        };
        if after_name.split_whitespace().nth(2) == Some(group.as_str()) {
            members.push(pid);
        }
    }
    members
}

/// The process groups of the servers running now.
fn live_groups() -> std::sync::MutexGuard<'static, HashSet<u32>> {
    static LIVE: OnceLock<Mutex<HashSet<u32>>> = OnceLock::new();
    LIVE.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A server runs in a process group of its own, so Ctrl-C in the terminal
/// does not reach it. Without this, interrupting the tester would leave it
/// running (and holding its port): on Ctrl-C, or when the terminal goes
/// away, kill every live server, then exit as an interrupted program does.
fn kill_servers_on_interrupt() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        std::thread::spawn(|| {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                    signal(SignalKind::hangup()),
                ) else {
                    return;
                };
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                    _ = hangup.recv() => {}
                }
                for group in live_groups().iter() {
                    kill_process_group(*group);
                }
                std::process::exit(130);
            });
        });
    });
}

/// Ends the connection that found the server listening, and waits (a
/// moment at most) for the server to close its side too. A server that
/// greets or announces clients (the chat stages) has then finished with the
/// probe before the first check connects, so no check sees it leave.
fn finish_probe(mut probe: TcpStream) {
    let _ = probe.shutdown(std::net::Shutdown::Write);
    // 300 ms in all, however the server writes: one that never stops
    // talking must not hold the tester here.
    let deadline = Instant::now() + Duration::from_millis(300);
    let mut sink = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || probe.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match probe.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

struct StartFailure {
    failure: Failure,
    port_was_taken: bool,
}

/// "exit code 1", "killed by signal 9".
pub fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(101), _) => "exit code 101, which is what a Rust panic exits with".to_string(),
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "for an unknown reason".to_string(),
    }
}

/// Kills every process in the group the server leads: the shell, the
/// learner's program and anything that program started.
fn kill_process_group(leader: u32) {
    // `kill` the shell builtin takes a negative id as "the whole group". We
    // use it rather than a binding to libc so that the tester needs no more
    // than std.
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -KILL -{leader} 2>/dev/null"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[derive(Default)]
struct Output {
    bytes: Vec<u8>,
    /// Set while the tester leaves the server's output unread (see
    /// [`Server::stop_reading_output`]).
    paused: bool,
}

const OUTPUT_LIMIT: usize = 64 * 1024;
/// How much of one line of the server's output a report shows.
const MAX_SHOWN_LINE: usize = 200;

fn collect_output(mut stream: Box<dyn Read + Send>, output: &Mutex<Output>) {
    let mut chunk = [0u8; 4096];
    loop {
        // Paused: keep the pipe open, unread, so that the server's writes to
        // it fill it and then wait, as they would for a reader that stopped.
        while output
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .paused
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let Ok(read) = stream.read(&mut chunk) else {
            break;
        };
        if read == 0 {
            break;
        }
        let mut output = output
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        output.bytes.extend_from_slice(&chunk[..read]);
        // Keep the tail: a server that logs every request must not fill the
        // tester's memory.
        if output.bytes.len() > OUTPUT_LIMIT {
            let excess = output.bytes.len() - OUTPUT_LIMIT;
            output.bytes.drain(..excess);
        }
    }
}

/// A port that is free now, chosen at random below the range the kernel
/// hands out for outgoing connections (32768 and up on Linux), so that the
/// tester's own client sockets cannot collide with it.
fn free_port(rng: &mut Rng) -> u16 {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let given = GIVEN.get_or_init(|| Mutex::new(HashSet::new()));
    loop {
        let port = rng.between(20_000, 32_000) as u16;
        let mut given = given
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if given.contains(&port) {
            continue;
        }
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
            && TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok()
        {
            given.insert(port);
            return port;
        }
    }
}

/// `text` as one word for a shell (`sh -c`, a `just` command to rerun): as
/// it is when no character in it means anything to a shell, else in single
/// quotes, a `'` inside written `'\''`.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@".contains(&b))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The command that runs `spec`, without `--port N`: a reference stage is
/// built first.
pub fn program(spec: &ServerSpec) -> Result<String, Failure> {
    match spec {
        ServerSpec::Reference { package } => {
            let path = reference_binary(package).map_err(|error| {
                Failure::new(format!("could not build the reference {package}"))
                    .detail("cargo said", error)
            })?;
            Ok(shell_quote(&path.to_string_lossy()))
        }
        ServerSpec::Command(command) => Ok(command.clone()),
    }
}

/// The path of a reference stage's binary, built first if needed.
///
/// `cargo test -p tests` builds this package only, not the stages, so the
/// tester runs `cargo build` for the stage it needs, once per process, in
/// the same profile and target directory as itself.
pub fn reference_binary(package: &str) -> Result<PathBuf, String> {
    reference_program(package, package)
}

/// Another program of a reference stage, such as stage 11's client.
pub fn reference_program(package: &str, binary: &str) -> Result<PathBuf, String> {
    static BUILT: OnceLock<Mutex<std::collections::HashMap<String, Result<PathBuf, String>>>> =
        OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    // Held while building: two checks that want the same stage build it once.
    let mut built = built
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(result) = built.get(binary) {
        return result.clone();
    }
    let result = build_reference(package, binary);
    built.insert(binary.to_string(), result.clone());
    result
}

fn build_reference(package: &str, binary: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|error| format!("where am I? {error}"))?;
    // The tester is `<target>/<profile>/tester`; a cargo test binary is
    // `<target>/<profile>/deps/tests-<hash>`. Stage binaries go next to the
    // former.
    let mut profile_dir = exe
        .parent()
        .ok_or("the tester has no folder")?
        .to_path_buf();
    if profile_dir.ends_with("deps") {
        profile_dir.pop();
    }
    let target_dir = profile_dir
        .parent()
        .ok_or("no target folder")?
        .to_path_buf();
    let profile = match profile_dir.file_name().and_then(|name| name.to_str()) {
        Some("debug") | None => "dev".to_string(),
        Some(other) => other.to_string(),
    };
    let workspace = crate::learner::course_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(&workspace)
        .args(["build", "--quiet", "--package", package, "--bin", binary])
        .args(["--profile", &profile])
        .arg("--target-dir")
        .arg(&target_dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("could not run cargo: {error}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let path = profile_dir.join(binary);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "cargo built {binary} but {} is not there",
            path.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{excerpt, shell_quote};

    #[test]
    fn the_cause_of_a_crash_is_shown_however_far_above_the_tail() {
        let mut output = String::from("listening on 127.0.0.1:7000\n");
        output.push_str("fatal error: concurrent map iteration and map write\n\n");
        output.push_str("goroutine 7 [running]:\nmain.broadcast(...)\n");
        for n in 0..100 {
            output.push_str(&format!("\tgoroutine frame {n}\n"));
        }
        let shown = excerpt(&output, 20);
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines[0], "(1 line not shown)", "{shown}");
        assert_eq!(
            lines[1],
            "fatal error: concurrent map iteration and map write"
        );
        assert_eq!(lines[3], "goroutine 7 [running]:");
        assert!(
            shown.contains("lines not shown)\n\tgoroutine frame 80\n"),
            "{shown}"
        );
        assert!(lines.last().unwrap().ends_with("frame 99"), "{shown}");
        // No cause: the tail, as before.
        assert_eq!(excerpt("a\nb\nc\n", 2), "(1 line not shown)\nb\nc\n");
    }

    #[test]
    fn a_word_is_quoted_only_when_a_shell_would_read_it_otherwise() {
        assert_eq!(shell_quote("./server"), "./server");
        assert_eq!(shell_quote("python3 s.py"), "'python3 s.py'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(shell_quote(""), "''");
    }
}
