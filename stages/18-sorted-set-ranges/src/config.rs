//! The command line every stage accepts: `--port N` and `--bind ADDR`.
//!
//! The tester starts your server with `--port N` on a free port, so that many
//! tests can run side by side; accepting `--port` is the one thing every
//! stage, in any language, must do.
//!
//! We parse the two options by hand rather than with a crate such as `clap`:
//! it is a dozen lines, and the course keeps its dependencies to the ones it
//! teaches.

use anyhow::{Context, Result, bail};
use tokio::net::TcpListener;

/// `--help`: the package's own name and description, so that this file is
/// the same in every stage.
fn usage() -> String {
    let name = env!("CARGO_PKG_NAME");
    let about = env!("CARGO_PKG_DESCRIPTION");
    format!(
        "{name}: {about}

usage: {name} [--port N] [--bind ADDR]
  --port N     the TCP port to listen on (default 6379)
  --bind ADDR  the address to listen on (default 127.0.0.1)"
    )
}

/// Where the server listens.
pub struct Config {
    pub bind: String,
    pub port: u16,
}

impl Config {
    /// Reads `--port N` and `--bind ADDR` (also `--port=N`); prints the usage
    /// and exits on `--help`.
    pub fn from_args() -> Result<Config> {
        let mut config = Config {
            bind: "127.0.0.1".to_string(),
            port: 6379,
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
                _ => bail!("unknown option '{arg}' (try --help)"),
            }
        }
        Ok(config)
    }

    /// Opens the listening socket, with a clear message for the most common
    /// failure: something else (often a real Redis) already has the port.
    pub async fn listen(&self) -> Result<TcpListener> {
        match TcpListener::bind((self.bind.as_str(), self.port)).await {
            Ok(listener) => Ok(listener),
            Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => bail!(
                "port {} is in use: is a real Redis running? try --port {}",
                self.port,
                self.port.checked_add(1).unwrap_or(6380)
            ),
            Err(error) => {
                Err(error).with_context(|| format!("cannot listen on {}:{}", self.bind, self.port))
            }
        }
    }
}
