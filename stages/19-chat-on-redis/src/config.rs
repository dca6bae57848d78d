//! The command line every stage accepts, `--port N` and `--bind ADDR`, and
//! this stage's `--redis URL`: where the chat's state lives.
//!
//! The tester starts your server with `--port N` on a free port, so that many
//! tests can run side by side; accepting `--port` is the one thing every
//! stage, in any language, must do.
//!
//! We parse the two options by hand rather than with a crate such as `clap`:
//! it is a dozen lines, and the course keeps its dependencies to the ones it
//! teaches.

use anyhow::{Context, Result, bail};
use stage_19_chat_on_redis::DEFAULT_PORT;
use tokio::net::{TcpListener, TcpSocket};

/// `--help`: the package's own name and description, so that this file is
/// the same in every stage.
fn usage() -> String {
    let name = env!("CARGO_PKG_NAME");
    let about = env!("CARGO_PKG_DESCRIPTION");
    format!(
        "{name}: {about}

usage: {name} [--port N] [--bind ADDR] [--redis URL]
  --port N     the TCP port to listen on (default {DEFAULT_PORT})
  --bind ADDR  the address to listen on (default 127.0.0.1)
  --redis URL  the Redis that holds the chat (default {DEFAULT_REDIS})"
    )
}

/// The Redis a chat server uses when not told: one on this machine.
pub const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

/// Where the server listens, and where the chat's state lives.
pub struct Config {
    pub bind: String,
    pub port: u16,
    pub redis: String,
}

impl Config {
    /// Reads `--port N`, `--bind ADDR`, `--redis URL` (also `--port=N`); prints the usage
    /// and exits on `--help`.
    pub fn from_args() -> Result<Config> {
        let mut config = Config {
            bind: "127.0.0.1".to_string(),
            port: DEFAULT_PORT,
            redis: DEFAULT_REDIS.to_string(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let (name, inline_value) = match arg.split_once('=') {
                Some((name, value)) => (name.to_string(), Some(value.to_string())),
                None => (arg.clone(), None),
            };
            match name.as_str() {
                "-h" | "--help" => {
                    println!("{}", usage());
                    std::process::exit(0);
                }
                "--port" | "-p" => {
                    let value = inline_value
                        .or_else(|| args.next())
                        .context("--port needs a number, e.g. --port 6380")?;
                    config.port = value.parse().with_context(|| {
                        format!("--port {value}: a port is a number from 0 to 65535")
                    })?;
                }
                "--bind" => {
                    config.bind = inline_value
                        .or_else(|| args.next())
                        .context("--bind needs an address, e.g. --bind 0.0.0.0")?;
                }
                "--redis" => {
                    config.redis = inline_value
                        .or_else(|| args.next())
                        .context("--redis needs a URL, e.g. --redis redis://127.0.0.1:6379")?;
                }
                _ => bail!("unknown option '{arg}' (try --help)"),
            }
        }
        Ok(config)
    }

    /// Opens the listening socket, with a clear message for the most common
    /// failure: something else already has the port.
    pub async fn listen(&self) -> Result<TcpListener> {
        match self.bind_with_backlog().await {
            Ok(listener) => Ok(listener),
            Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => bail!(
                "port {} is in use: is another chat server running? try --port {}",
                self.port,
                self.port.checked_add(1).unwrap_or(DEFAULT_PORT)
            ),
            Err(error) => {
                Err(error).with_context(|| format!("cannot listen on {}:{}", self.bind, self.port))
            }
        }
    }

    // ANCHOR: backlog
    /// `TcpListener::bind`, with a longer queue of connections waiting to
    /// be accepted: 1,024 instead of the default 128. A chat server sees a
    /// thousand clients arrive at once, and a connection that finds the
    /// queue full waits a second or more to try again. The system caps it
    /// too (`net.core.somaxconn`).
    async fn bind_with_backlog(&self) -> std::io::Result<TcpListener> {
        let address = tokio::net::lookup_host((self.bind.as_str(), self.port))
            .await?
            .next()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such address"))?;
        let socket = if address.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        // As `TcpListener::bind` does: a restarted server can take its port
        // back at once.
        socket.set_reuseaddr(true)?;
        socket.bind(address)?;
        socket.listen(1024)
    }
    // ANCHOR_END: backlog
}
