//! Stage 6 with a real client library, the `redis` crate, as an
//! application would use it: connect (the library's own handshake
//! included: it sends CLIENT SETINFO and ignores the error a stage before
//! 8 answers), SET and GET, a pipeline of binary values, and an error.
//!
//! Runs against the reference stage 6, or `COURSE_SERVER`.

use harness::random::{Rng, seed_from_environment};
use harness::server::{Server, ServerSpec, startup_timeout};
use harness::stages;
use redis::Commands;

fn start() -> (Server, redis::Connection, Rng) {
    let seed = seed_from_environment().unwrap();
    println!("seed {seed}");
    let mut rng = Rng::new(seed);
    let spec = ServerSpec::from_environment_or(stages::find(6).unwrap().reference());
    let server = Server::start(&spec, &mut rng, startup_timeout())
        .unwrap_or_else(|failure| panic!("{}", failure.render()));
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", server.port)).unwrap();
    let connection = client
        .get_connection_with_timeout(std::time::Duration::from_secs(2))
        .unwrap_or_else(|error| panic!("the redis crate could not connect: {error}"));
    connection
        .set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    (server, connection, rng)
}

#[test]
fn set_and_get_through_the_redis_crate() {
    let (_server, mut connection, mut rng) = start();
    let (key, value, other) = (rng.word(), rng.word(), rng.word());
    let _: () = connection.set(&key, &value).unwrap();
    let got: String = connection.get(&key).unwrap();
    assert_eq!(got, value);
    let _: () = connection.set(&key, &other).unwrap();
    let got: String = connection.get(&key).unwrap();
    assert_eq!(got, other, "a second SET replaces the value");
    let missing: Option<String> = connection.get(format!("missing-{key}")).unwrap();
    assert_eq!(missing, None);
    let pong: String = redis::cmd("PING").query(&mut connection).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn a_pipeline_of_binary_values_through_the_redis_crate() {
    let (_server, mut connection, mut rng) = start();
    let keys: Vec<String> = (0..50).map(|i| format!("{}-{i}", rng.word())).collect();
    let values: Vec<Vec<u8>> = (0..50).map(|i| rng.bytes(i * 37)).collect();
    let mut pipeline = redis::pipe();
    for (key, value) in keys.iter().zip(&values) {
        pipeline.set(key, value.as_slice()).ignore();
    }
    for key in &keys {
        pipeline.get(key);
    }
    let got: Vec<Vec<u8>> = pipeline.query(&mut connection).unwrap();
    assert_eq!(got, values);
}

#[test]
fn an_error_reaches_the_redis_crate_and_the_connection_goes_on() {
    let (_server, mut connection, _) = start();
    let error = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("NOPE")
        .query::<()>(&mut connection)
        .unwrap_err();
    assert!(error.to_string().contains("syntax error"), "{error}");
    let echoed: String = redis::cmd("ECHO")
        .arg("still here")
        .query(&mut connection)
        .unwrap();
    assert_eq!(echoed, "still here");
}
