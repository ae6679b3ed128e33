//! Serves one of the deliberately broken plugins on a unix socket, so that `conformance run`
//! can be pointed at it from the command line (the tests in `tests/it` run them in-process).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use integration_tests::broken::{AllowAll, DenyAll};
use integration_tests::raw::{self, TransportFlaw};
use protocol::server::{self, ServerConfig};
use protocol::AuthzPlugin;

/// Serves a deliberately broken authz plugin until interrupted.
#[derive(Debug, Parser)]
struct Cli {
    /// The socket to listen on (removed first if it exists).
    #[arg(long)]
    socket: PathBuf,
    /// Which broken plugin.
    #[arg(value_enum)]
    plugin: Broken,
    /// For slow-answers and one-connection-at-a-time: how long each call is held.
    #[arg(long, default_value_t = 3000)]
    delay_ms: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Broken {
    /// Allows every call.
    AllowAll,
    /// Refuses every call.
    DenyAll,
    /// Answers every call after --delay-ms, connections served concurrently.
    SlowAnswers,
    /// Serves one connection at a time, each until the client closes it, holding each call
    /// --delay-ms.
    OneConnectionAtATime,
    /// Drops the connection on a create without HostConfig, dies on an empty bind.
    CrashesOnUnusualCreates,
    /// Refuses every call but GET and HEAD with HTTP 500.
    RefusesWithServerErrors,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.socket.exists() {
        std::fs::remove_file(&cli.socket)
            .with_context(|| format!("removing {}", cli.socket.display()))?;
    }
    let delay = Duration::from_millis(cli.delay_ms);
    let flaw = match cli.plugin {
        Broken::AllowAll => return serve(&cli.socket, Arc::new(AllowAll)).await,
        Broken::DenyAll => return serve(&cli.socket, Arc::new(DenyAll)).await,
        Broken::SlowAnswers => TransportFlaw::SlowAnswers { delay },
        Broken::OneConnectionAtATime => TransportFlaw::OneConnectionAtATime { hold: delay },
        Broken::CrashesOnUnusualCreates => TransportFlaw::CrashesOnUnusualCreates,
        Broken::RefusesWithServerErrors => TransportFlaw::RefusesWithServerErrors,
    };
    let listener = tokio::net::UnixListener::bind(&cli.socket)
        .with_context(|| format!("binding {}", cli.socket.display()))?;
    raw::serve(listener, flaw).await;
    Ok(())
}

async fn serve(socket: &std::path::Path, plugin: Arc<dyn AuthzPlugin>) -> anyhow::Result<()> {
    let listener =
        server::bind_unix(socket).with_context(|| format!("binding {}", socket.display()))?;
    server::serve(
        listener,
        plugin,
        ServerConfig::default(),
        std::future::pending(),
    )
    .await
    .context("serving the plugin")
}
