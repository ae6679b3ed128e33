//! The plugin under test, and its answers read exactly as dockerd reads them.
//!
//! A reply only means what dockerd makes of it: a non-200 status is a plugin failure (the
//! client gets HTTP 500 and the call does not go on), a 200 is decoded with Go's rules and
//! a missing `Allow` is a deny. Cases judge [`Verdict`]s, never raw bytes.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::wire::{ActivateManifest, AuthzReply, AuthzRequest, Phase, ACTIVATE_PATH};

use crate::transport::{RawConnection, RawResponse, TransportError};

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
    /// Reads a reply the way dockerd's plugin client and authz middleware do.
    pub fn from_reply(status: u16, body: &[u8]) -> Verdict {
        if status != 200 {
            let err = serde_json::from_slice::<AuthzReply>(body)
                .map(|r| r.err)
                .unwrap_or_default();
            let text = if err.is_empty() {
                String::from_utf8_lossy(body).into_owned()
            } else {
                err
            };
            return Verdict::Failed { status, text };
        }
        match serde_json::from_slice::<AuthzReply>(body) {
            Ok(reply) if reply.allow => Verdict::Allow,
            Ok(reply) => Verdict::Deny {
                msg: reply.msg,
                err: reply.err,
            },
            Err(e) => Verdict::Failed {
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

impl From<RawResponse> for Exchange {
    fn from(response: RawResponse) -> Self {
        Exchange {
            verdict: Verdict::from_reply(response.status, &response.body),
            status: response.status,
            body: response.body,
        }
    }
}

/// Why activation did not yield an authz plugin.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// The socket could not be reached or the call did not complete.
    #[error("Plugin.Activate: {0}")]
    Transport(#[from] TransportError),
    /// The plugin answered with a non-200 status.
    #[error("Plugin.Activate answered HTTP {status}: {body}")]
    Status {
        /// The status.
        status: u16,
        /// The body, lossily decoded.
        body: String,
    },
    /// The manifest is not JSON dockerd can decode.
    #[error("Plugin.Activate manifest is not decodable: {0}")]
    Manifest(String),
    /// The manifest does not list `authz` exactly.
    #[error("Plugin.Activate manifest implements {0:?}, not \"authz\"")]
    NotAuthz(Vec<String>),
}

/// The plugin under test: where it listens, its name, and how long the suite waits.
#[derive(Debug, Clone)]
pub struct Target {
    socket: PathBuf,
    name: String,
    call_timeout: Duration,
}

impl Target {
    /// A plugin listening on `socket`, known to the daemon as `name`.
    pub fn new(
        socket: impl Into<PathBuf>,
        name: impl Into<String>,
        call_timeout: Duration,
    ) -> Self {
        Target {
            socket: socket.into(),
            name: name.into(),
            call_timeout,
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
        let mut connection = self.connect().await?;
        let response = connection
            .call(ACTIVATE_PATH, b"", self.call_timeout)
            .await?;
        if response.status != 200 {
            return Err(ActivationError::Status {
                status: response.status,
                body: String::from_utf8_lossy(&response.body).into_owned(),
            });
        }
        let manifest: ActivateManifest = serde_json::from_slice(&response.body)
            .map_err(|e| ActivationError::Manifest(e.to_string()))?;
        if !manifest.implements_authz() {
            return Err(ActivationError::NotAuthz(manifest.implements));
        }
        Ok(manifest)
    }

    /// Sends `request` in `phase` and reads the answer.
    pub async fn call(
        &self,
        phase: Phase,
        request: &AuthzRequest,
    ) -> Result<Exchange, TransportError> {
        let body = serde_json::to_vec(request).expect("an AuthzRequest always serializes");
        self.call_envelope(phase, &body).await
    }

    /// Sends an arbitrary envelope (possibly not a valid request object) on a fresh connection.
    pub async fn call_envelope(
        &self,
        phase: Phase,
        envelope: &[u8],
    ) -> Result<Exchange, TransportError> {
        let mut connection = self.connect().await?;
        let response = connection
            .call(phase.path(), envelope, self.call_timeout)
            .await?;
        Ok(response.into())
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
