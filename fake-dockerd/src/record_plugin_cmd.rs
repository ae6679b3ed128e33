//! `fake-dockerd record-plugin`: serve [`fake_dockerd::record_plugin::RecordPlugin`] on a socket.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use fake_dockerd::record_plugin::RecordPlugin;
use protocol::server::{self, ServerConfig};

/// Run an allow-all authz plugin that appends every call a daemon makes to it to a file.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Unix socket to listen on (e.g. /run/docker/plugins/recorder.sock).
    #[arg(long)]
    socket: PathBuf,
    /// JSON Lines file to append the calls to (one `{"phase":..,"message":..}` per call).
    #[arg(long)]
    out: PathBuf,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let plugin = RecordPlugin::open(&args.out)
        .with_context(|| format!("cannot open {}", args.out.display()))?;
    let listener = server::bind_unix(&args.socket)
        .with_context(|| format!("cannot listen on {}", args.socket.display()))?;
    tracing::info!(socket = %args.socket.display(), out = %args.out.display(), "recording");
    server::serve(
        listener,
        Arc::new(plugin),
        ServerConfig::default(),
        server::shutdown_signal(),
    )
    .await
    .context("plugin server failed")?;
    Ok(())
}
