//! `fake-dockerd record`: a transparent proxy in front of a real daemon that writes every
//! client-daemon exchange to a capture file.
//!
//! It is `serve --upstream` with no plugins (so, like dockerd without authz plugins, it
//! routes nothing itself and forwards every call) plus a tap that appends one capture line
//! per finished exchange: streamed and hijacked answers are written once they ended.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::capture::{Exchange, CAPTURE_VERSION};
use crate::serve::{self, Engine, ServeError, Service, Tap};
use crate::upstream::{Upstream, UpstreamError};
use crate::{ClientRequest, ClientResponse, Profile, ProfileName};

/// Record what the docker CLI and a real daemon say to each other, as a capture file.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The real daemon (unix:///var/run/docker.sock or a socket path).
    #[arg(long, value_name = "ADDRESS")]
    pub upstream: String,
    /// Unix socket to listen on; point DOCKER_HOST=unix://SOCK at it.
    #[arg(long)]
    pub listen: PathBuf,
    /// Capture file to write (JSON Lines, one exchange a line; replaced if it exists).
    #[arg(long)]
    pub out: PathBuf,
}

/// Why recording could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The capture file could not be created.
    #[error("cannot create capture file {}: {source}", path.display())]
    Create {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The upstream daemon is unusable.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The proxy failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// Runs `fake-dockerd record` until SIGTERM or SIGINT.
pub async fn run(args: Args) -> Result<(), RecordError> {
    let upstream = Upstream::from_address(&args.upstream)?;
    let identity = upstream.identity().await?;
    let file = File::create(&args.out).map_err(|source| RecordError::Create {
        path: args.out.clone(),
        source,
    })?;
    // The profile is only consulted for routing and buffering, which a plugin-less proxy
    // leaves to the daemon.
    let service = Service::new(
        Profile::get(ProfileName::Moby2010),
        None,
        Engine::Upstream(upstream, identity),
        Some(capture_tap(file)),
    );
    let listener = serve::listen(&args.listen)?;
    tracing::info!(
        socket = %args.listen.display(),
        out = %args.out.display(),
        "recording"
    );
    serve::serve(
        listener,
        Arc::new(service),
        protocol::server::shutdown_signal(),
    )
    .await?;
    Ok(())
}

/// A tap that appends each exchange to `file` as one line and flushes it, so a capture is
/// complete as soon as the client got its answer.
pub fn capture_tap(file: File) -> Tap {
    let out = Mutex::new(BufWriter::new(file));
    Arc::new(move |request: &ClientRequest, response: &ClientResponse| {
        let mut out = out.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let written = write_exchange(&mut *out, request, response).and_then(|()| out.flush());
        if let Err(err) = written {
            tracing::error!("cannot write capture line: {err}");
        }
    })
}

/// Writes one exchange as one capture line.
pub fn write_exchange(
    out: &mut impl Write,
    request: &ClientRequest,
    response: &ClientResponse,
) -> std::io::Result<()> {
    let line = Exchange {
        version: CAPTURE_VERSION,
        request: request.clone(),
        response: response.clone(),
        expect: None,
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}
