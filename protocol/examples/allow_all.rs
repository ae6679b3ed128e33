//! The smallest authz plugin on the shared server stack: it allows every call.
//!
//! It is the do-nothing reference that benchmarks measure authobot against (same server,
//! no policy), and the process the server tests signal and socket-activate.
//!
//! ```text
//! cargo run -p authz-protocol --example allow_all -- --socket /run/docker/plugins/allow-all.sock
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use protocol::server::{self, ServerConfig};
use protocol::{AuthzPlugin, AuthzReply, AuthzRequest};

/// An authz plugin that allows every Docker API call (a reference, not a policy).
///
/// Under systemd socket activation (LISTEN_FDS and LISTEN_PID set for this process) it
/// serves on the passed socket and ignores --socket. Stops cleanly on SIGTERM or SIGINT.
#[derive(Debug, Parser)]
struct Args {
    /// Unix socket to serve on; dockerd looks in /run/docker/plugins/NAME.sock.
    #[arg(long, default_value = "/run/docker/plugins/allow-all.sock")]
    socket: PathBuf,
    /// Close connections whose request headers take longer than this many milliseconds.
    #[arg(long, default_value_t = 30_000)]
    header_read_timeout_ms: u64,
}

/// Allows both phases of every call.
#[derive(Debug)]
struct AllowAll;

impl AuthzPlugin for AllowAll {
    fn authz_request(&self, _request: &AuthzRequest) -> AuthzReply {
        AuthzReply::allow()
    }

    fn authz_response(&self, _request: &AuthzRequest) -> AuthzReply {
        AuthzReply::allow()
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let listener = match server::systemd_listener().context("reading socket activation")? {
        Some(listener) => listener,
        None => server::bind_unix(&args.socket)
            .with_context(|| format!("binding {}", args.socket.display()))?,
    };
    let config = ServerConfig {
        header_read_timeout: Duration::from_millis(args.header_read_timeout_ms),
        ..ServerConfig::default()
    };
    server::serve(
        listener,
        Arc::new(AllowAll),
        config,
        server::shutdown_signal(),
    )
    .await
    .context("serving")
}
