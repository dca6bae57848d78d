//! Stage 11's client, as a person runs it: each reply type printed the way
//! redis-cli prints it, one-shot and interactive, against the reference
//! stage 11 server.

use assert_cmd::Command;
use harness::random::{Rng, seed_from_environment};
use harness::server::{Server, ServerSpec, reference_program, startup_timeout};
use harness::stages;

struct Setup {
    _server: Server,
    port: String,
    client: std::path::PathBuf,
}

fn setup() -> Setup {
    let mut rng = Rng::new(seed_from_environment().unwrap());
    let spec = ServerSpec::from_environment_or(stages::find(11).unwrap().reference());
    let server = Server::start(&spec, &mut rng, startup_timeout())
        .unwrap_or_else(|failure| panic!("{}", failure.render()));
    let client = reference_program(
        "stage-11-binary-protocol",
        "stage-11-binary-protocol-client",
    )
    .unwrap_or_else(|error| panic!("{error}"));
    Setup {
        port: server.port.to_string(),
        _server: server,
        client,
    }
}

impl Setup {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.client);
        command
            .args(["--port", &self.port])
            .args(args)
            .timeout(std::time::Duration::from_secs(5));
        command
    }

    fn run(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        self.command(args).assert()
    }
}

#[test]
fn prints_each_reply_type_like_redis_cli() {
    let setup = setup();
    setup
        .run(&["set", "greeting", "hello world"])
        .success()
        .stdout("\"OK\"\n");
    setup
        .run(&["get", "greeting"])
        .success()
        .stdout("\"hello world\"\n");
    setup.run(&["get", "missing"]).success().stdout("(nil)\n");
    setup.run(&["set", "k2", "a\"b\\c\n"]).success();
    setup
        .run(&["get", "k2"])
        .success()
        .stdout("\"a\\\"b\\\\c\\n\"\n");
    setup.run(&["dbsize"]).success().stdout("(integer) 2\n");
    setup.run(&["keys", "k*"]).success().stdout("1) \"k2\"\n");
    setup
        .run(&["keys", "nothing*"])
        .success()
        .stdout("(empty array)\n");
    setup
        .run(&["nosuch", "x"])
        .code(1)
        .stdout("(error) ERR unknown command 'nosuch', with args beginning with: 'x' \n");
}

#[test]
fn interactive_mode_reads_one_command_per_line() {
    let setup = setup();
    setup
        .command(&[])
        .write_stdin("set a 1\nset b \"two words\"\n\nget b\ndel a b c\nquit\nget a\n")
        .assert()
        .success()
        .stdout("\"OK\"\n\"OK\"\n\"two words\"\n(integer) 2\n");
}

#[test]
fn a_server_that_is_not_there_is_said_plainly() {
    let client = reference_program(
        "stage-11-binary-protocol",
        "stage-11-binary-protocol-client",
    )
    .unwrap_or_else(|error| panic!("{error}"));
    // Port 1 on loopback: nothing listens there.
    Command::new(client)
        .args(["--port", "1", "ping"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "could not connect to 127.0.0.1:1",
        ));
}
