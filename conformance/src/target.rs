//! The plugin under test, and its answers read exactly as dockerd reads them.
//!
//! A reply only means what dockerd makes of it: a non-200 status is a plugin failure (the
//! client gets HTTP 500 and the call does not go on), a 200 is decoded with Go's rules and
//! a missing `Allow` is a deny. Cases judge [`Verdict`]s, never raw bytes; every answer,
//! whichever way it was sent, is judged by the protocol client's [`judge_reply`] (through
//! [`Verdict::from_reply`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper::StatusCode;
use protocol::client::{judge_reply, ClientError, PluginClient, ReplyError};
use protocol::wire::{ActivateManifest, AuthzReply, AuthzRequest, Phase};

use crate::transport::{RawConnection, TransportError};

/// What dockerd does with a plugin's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// HTTP 200 and `Allow: true`: the call goes on.
    Allow,
    /// HTTP 200 and `Allow` false or missing: the client gets 403 with `msg`.
    Deny {
        /// The `Msg` the client sees.
        msg: String,
        /// The `Err` dockerd ignored (on 200 it is never read).
        err: String,
    },
    /// A non-200 status or an undecodable reply: dockerd reports the plugin failed (HTTP 500).
    Failed {
        /// The HTTP status.
        status: u16,
        /// The text dockerd would show: `Err` when the body has one, else the raw body.
        text: String,
    },
}

impl Verdict {
    /// Reads the answer (HTTP `status`, `body`) to a `phase` call the way dockerd's plugin
    /// client and authz middleware do, with [`judge_reply`] (`{"allow":true}` is an allow to
    /// Go).
    pub fn from_reply(phase: Phase, status: u16, body: &[u8]) -> Verdict {
        // Only 200 or not matters to the judgement; a status line `http` cannot represent
        // is not 200, and the verdict keeps the number as it came.
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Verdict::from_judged(status, judge_reply(phase, code, body))
    }

    /// The verdict of a reply [`judge_reply`] judged, which came with HTTP `status`.
    pub fn from_judged(status: u16, judged: Result<AuthzReply, ReplyError>) -> Verdict {
        match judged {
            Ok(reply) if reply.allow => Verdict::Allow,
            Ok(reply) => Verdict::Deny {
                msg: reply.msg,
                err: reply.err,
            },
            Err(ReplyError::Status { message, .. }) => Verdict::Failed {
                status,
                text: message,
            },
            Err(ReplyError::Decode(e)) => Verdict::Failed {
                status,
                text: format!("undecodable reply: {e}"),
            },
        }
    }

    /// Whether dockerd lets the call go on.
    pub fn allows(&self) -> bool {
        matches!(self, Verdict::Allow)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Allow => f.write_str("allow"),
            Verdict::Deny { msg, .. } => write!(f, "deny (Msg {msg:?})"),
            Verdict::Failed { status, text } => {
                let short: String = text.chars().take(200).collect();
                write!(f, "plugin failure (HTTP {status}: {short:?})")
            }
        }
    }
}

/// One call and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The HTTP status.
    pub status: u16,
    /// The raw reply body.
    pub body: Vec<u8>,
    /// What dockerd makes of it.
    pub verdict: Verdict,
}

impl Exchange {
    /// An answer to a `phase` call, judged as dockerd judges it.
    pub fn new(phase: Phase, status: u16, body: Vec<u8>) -> Self {
        Exchange {
            verdict: Verdict::from_reply(phase, status, &body),
            status,
            body,
        }
    }
}

/// Why activation did not yield an authz plugin.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// Nothing is at the socket path.
    #[error("no plugin socket at {0}")]
    NoSocket(String),
    /// The socket refuses connections.
    #[error("cannot connect to the plugin: {0}")]
    Connect(#[from] TransportError),
    /// The call failed, or dockerd would not accept the answer as a manifest.
    #[error("Plugin.Activate: {0}")]
    Client(#[from] ClientError),
    /// The manifest does not list `authz` exactly.
    #[error("Plugin.Activate manifest implements {0:?}, not \"authz\"")]
    NotAuthz(Vec<String>),
}

/// The plugin under test: where it listens, its name, and how long the suite waits.
///
/// Ordinary calls go through `protocol::client::PluginClient` (pooled keep-alive
/// connections, dockerd's headers); [`Target::connect`] opens a raw connection for the cases
/// that need to own one.
#[derive(Debug, Clone)]
pub struct Target {
    socket: PathBuf,
    name: String,
    call_timeout: Duration,
    client: PluginClient,
}

impl Target {
    /// A plugin listening on `socket`, known to the daemon as `name`.
    pub fn new(
        socket: impl Into<PathBuf>,
        name: impl Into<String>,
        call_timeout: Duration,
    ) -> Self {
        let socket = socket.into();
        let client = PluginClient::builder(&socket).timeout(call_timeout).build();
        Target {
            socket,
            name: name.into(),
            call_timeout,
            client,
        }
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The plugin name dockerd would use in its messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long one call may take before the suite counts it unanswered.
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// Opens a fresh raw connection.
    pub async fn connect(&self) -> Result<RawConnection, TransportError> {
        RawConnection::connect(&self.socket).await
    }

    /// `POST /Plugin.Activate` with an empty body, judged as dockerd's plugin registry does.
    pub async fn activate(&self) -> Result<ActivateManifest, ActivationError> {
        if !self.socket.exists() {
            return Err(ActivationError::NoSocket(self.socket.display().to_string()));
        }
        let manifest = self.client.activate().await?;
        if !manifest.implements_authz() {
            return Err(ActivationError::NotAuthz(manifest.implements));
        }
        Ok(manifest)
    }

    /// Checks that the socket exists and accepts a connection (what a managed plugin owes).
    pub async fn reachable(&self) -> Result<(), ActivationError> {
        if !self.socket.exists() {
            return Err(ActivationError::NoSocket(self.socket.display().to_string()));
        }
        self.connect().await?;
        Ok(())
    }

    /// Sends `request` in `phase` and reads the answer.
    pub async fn call(
        &self,
        phase: Phase,
        request: &AuthzRequest,
    ) -> Result<Exchange, ClientError> {
        let answer = self.client.call(phase, request).await?;
        let status = answer.status.as_u16();
        Ok(Exchange {
            verdict: Verdict::from_judged(status, answer.reply),
            status,
            body: answer.body.to_vec(),
        })
    }

    /// Sends an arbitrary envelope (possibly not a valid request object) with dockerd's
    /// headers.
    pub async fn call_envelope(
        &self,
        phase: Phase,
        envelope: &[u8],
    ) -> Result<Exchange, ClientError> {
        let (status, body) = self
            .client
            .post_raw(phase.path(), envelope.to_vec())
            .await?;
        Ok(Exchange::new(phase, status.as_u16(), body.to_vec()))
    }

    /// Sends `request` and returns what dockerd would do, with transport failures folded into
    /// a failed verdict (dockerd turns them into HTTP 500 too, after its retries).
    pub async fn verdict(&self, phase: Phase, request: &AuthzRequest) -> Verdict {
        match self.call(phase, request).await {
            Ok(exchange) => exchange.verdict,
            Err(e) => Verdict::Failed {
                status: 0,
                text: e.to_string(),
            },
        }
    }
}
