//! The plugin under test, and its answers read exactly as dockerd reads them.
//!
//! A reply only means what dockerd makes of it: a non-200 status is a plugin failure (the
//! client gets HTTP 500 and the call does not go on), a 200 is decoded with Go's rules and
//! a missing `Allow` is a deny. Cases judge [`Verdict`]s, never raw bytes; every answer,
//! whichever way it was sent, is judged by the protocol client's [`judge_reply`] (through
//! [`Verdict::from_reply`]).
//!
//! Every refusal is also written to the case's [`CallLog`], with how it happened, so that a
//! report can say whether a call was stopped by a deny or by the plugin failing; and the
//! target's patience is shared by every case of a run, so that once the plugin has shown it
//! cannot answer in time no later call waits longer than the latency bound.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
    /// No answer: the connection was refused or closed before a whole reply, or the suite
    /// stopped waiting. dockerd retries a broken call for up to 30 s and then answers 500;
    /// it never stops waiting on a plugin that keeps a call open.
    Unanswered {
        /// What happened to the call.
        reason: String,
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

    /// Whether the plugin gave a verdict dockerd reads as one (an allow or a deny), rather
    /// than failing.
    pub fn is_answer(&self) -> bool {
        matches!(self, Verdict::Allow | Verdict::Deny { .. })
    }

    /// How the call was stopped, if it was.
    pub fn refusal(&self) -> Option<RefusalKind> {
        match self {
            Verdict::Allow => None,
            Verdict::Deny { .. } => Some(RefusalKind::Deny),
            Verdict::Failed { .. } => Some(RefusalKind::PluginError),
            Verdict::Unanswered { .. } => Some(RefusalKind::Unanswered),
        }
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
            Verdict::Unanswered { reason } => write!(f, "no answer ({reason})"),
        }
    }
}

/// The three ways a call is stopped, as the client of dockerd experiences each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalKind {
    /// HTTP 200 with `Allow` false: the client gets 403 with the plugin's `Msg`.
    Deny,
    /// A non-200 status or an undecodable reply (`Err` is only read then): the client gets
    /// HTTP 500 `plugin NAME failed with error: ...`.
    PluginError,
    /// The connection was refused or dropped, or no answer came in time: the client gets 500
    /// after dockerd's retries, or waits for ever.
    Unanswered,
}

impl RefusalKind {
    /// Whether the plugin decided the refusal (a deny) rather than failing into it.
    pub fn is_failure(self) -> bool {
        self != RefusalKind::Deny
    }
}

impl fmt::Display for RefusalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefusalKind::Deny => "deny",
            RefusalKind::PluginError => "plugin error",
            RefusalKind::Unanswered => "no answer",
        })
    }
}

/// One refusal a case saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRefusal {
    /// The call, for reports: `Request POST /v1.41/containers/create`.
    pub call: String,
    /// The call was a request object dockerd could send (not a deliberately broken envelope).
    pub well_formed: bool,
    /// What the plugin did.
    pub verdict: Verdict,
}

impl SeenRefusal {
    /// How the call was stopped.
    pub fn kind(&self) -> RefusalKind {
        self.verdict.refusal().expect("only refusals are logged")
    }
}

/// The refusals of one case, in the order they happened.
#[derive(Debug, Default)]
pub struct CallLog {
    refusals: Mutex<Vec<SeenRefusal>>,
}

impl CallLog {
    fn push(&self, refusal: SeenRefusal) {
        self.refusals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(refusal);
    }

    /// Every refusal logged so far.
    pub fn refusals(&self) -> Vec<SeenRefusal> {
        self.refusals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// How long calls may wait, shared by every case of a run.
#[derive(Debug)]
struct Patience {
    /// The current limit, in milliseconds.
    limit_ms: AtomicU64,
    /// Calls sent through the target.
    calls: AtomicUsize,
    /// Calls the suite stopped waiting for, at whichever limit applied.
    given_up: AtomicUsize,
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
    #[error("Plugin.Activate manifest implements {0:?}, not \"authz\" (dockerd compares it exactly and will not use the plugin)")]
    NotAuthz(Vec<String>),
}

/// One call and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The HTTP status; `None` when no answer came.
    pub status: Option<u16>,
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
            status: Some(status),
            body,
        }
    }

    fn unanswered(reason: String) -> Self {
        Exchange {
            status: None,
            body: Vec::new(),
            verdict: Verdict::Unanswered { reason },
        }
    }

    /// One line for reports: the status, the start of the body and the verdict.
    pub fn describe(&self) -> String {
        match self.status {
            None => self.verdict.to_string(),
            Some(status) => format!(
                "HTTP {status} {:?} ({})",
                String::from_utf8_lossy(&self.body)
                    .chars()
                    .take(200)
                    .collect::<String>(),
                self.verdict
            ),
        }
    }
}

/// The plugin under test: where it listens, its name, and how long the suite waits.
///
/// Ordinary calls go through `protocol::client::PluginClient` (pooled keep-alive
/// connections, dockerd's headers); [`Target::connect`] opens a raw connection for the cases
/// that need to own one. Clones share the connection pool and the patience; each case gets
/// its own [`CallLog`] through [`Target::for_case`].
#[derive(Debug, Clone)]
pub struct Target {
    socket: PathBuf,
    name: String,
    call_timeout: Duration,
    client: PluginClient,
    patience: Arc<Patience>,
    log: Arc<CallLog>,
}

impl Target {
    /// A plugin listening on `socket`, known to the daemon as `name`.
    pub fn new(
        socket: impl Into<PathBuf>,
        name: impl Into<String>,
        call_timeout: Duration,
    ) -> Self {
        let socket = socket.into();
        let client = PluginClient::builder(&socket).build();
        Target {
            socket,
            name: name.into(),
            call_timeout,
            client,
            patience: Arc::new(Patience {
                limit_ms: AtomicU64::new(millis(call_timeout)),
                calls: AtomicUsize::new(0),
                given_up: AtomicUsize::new(0),
            }),
            log: Arc::default(),
        }
    }

    /// The same plugin, logging refusals to a fresh log that is returned with it.
    pub fn for_case(&self) -> (Target, Arc<CallLog>) {
        let log = Arc::new(CallLog::default());
        let target = Target {
            log: Arc::clone(&log),
            ..self.clone()
        };
        (target, log)
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The plugin name dockerd would use in its messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long one call may take before the suite counts it unanswered: `--call-timeout-ms`,
    /// or less once [`Target::stop_waiting_beyond`] was called.
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.patience.limit_ms.load(Ordering::Relaxed))
    }

    /// From now on, no call of this run waits longer than `bound` (the plugin has already
    /// failed to answer within it).
    pub fn stop_waiting_beyond(&self, bound: Duration) {
        self.patience
            .limit_ms
            .fetch_min(millis(bound), Ordering::Relaxed);
    }

    /// Whether the suite has stopped waiting the full call timeout.
    pub fn is_impatient(&self) -> bool {
        self.call_timeout() < self.call_timeout
    }

    /// Calls sent through [`Target::call`], [`Target::call_envelope`] and
    /// [`Target::verdict`] so far, by every case of the run.
    pub fn calls_sent(&self) -> usize {
        self.patience.calls.load(Ordering::Relaxed)
    }

    /// Of those, the calls the suite stopped waiting for.
    pub fn calls_given_up(&self) -> usize {
        self.patience.given_up.load(Ordering::Relaxed)
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
        let manifest = match tokio::time::timeout(self.call_timeout(), self.client.activate()).await
        {
            Ok(answer) => answer?,
            Err(_) => {
                return Err(ActivationError::Client(ClientError::Timeout {
                    call: "/Plugin.Activate".to_owned(),
                    timeout: self.call_timeout(),
                }))
            }
        };
        if !manifest.implements_authz() {
            return Err(ActivationError::NotAuthz(manifest.implements));
        }
        Ok(manifest)
    }

    /// Checks that the socket exists and accepts a connection (what a managed plugin owes,
    /// and what the suite needs to run at all).
    pub async fn reachable(&self) -> Result<(), ActivationError> {
        if !self.socket.exists() {
            return Err(ActivationError::NoSocket(self.socket.display().to_string()));
        }
        self.connect().await?;
        Ok(())
    }

    /// Sends `request` in `phase` and reads the answer; a refusal is logged.
    pub async fn call(&self, phase: Phase, request: &AuthzRequest) -> Exchange {
        let call = format!(
            "{phase:?} {} {}",
            request.request_method, request.request_uri
        );
        let exchange = match serde_json::to_vec(request) {
            Ok(mut body) => {
                // Go's json.Encoder ends every value with a newline.
                body.push(b'\n');
                self.post(phase, body).await
            }
            Err(e) => Exchange::unanswered(format!("cannot encode the request: {e}")),
        };
        self.log_refusal(call, true, &exchange.verdict);
        exchange
    }

    /// Sends an arbitrary envelope (possibly not a valid request object) with dockerd's
    /// headers; a refusal is logged as one of a message dockerd never sends.
    pub async fn call_envelope(&self, phase: Phase, envelope: &[u8]) -> Exchange {
        let exchange = self.post(phase, envelope.to_vec()).await;
        let shown: String = String::from_utf8_lossy(envelope).chars().take(80).collect();
        self.log_refusal(
            format!("{phase:?} envelope {shown:?}"),
            false,
            &exchange.verdict,
        );
        exchange
    }

    /// Sends `request` and returns what dockerd would do.
    pub async fn verdict(&self, phase: Phase, request: &AuthzRequest) -> Verdict {
        self.call(phase, request).await.verdict
    }

    /// Logs a refusal seen on a connection the case owns.
    pub fn log_raw_refusal(&self, call: impl Into<String>, verdict: &Verdict) {
        self.log_refusal(call.into(), false, verdict);
    }

    fn log_refusal(&self, call: String, well_formed: bool, verdict: &Verdict) {
        if verdict.refusal().is_some() {
            self.log.push(SeenRefusal {
                call,
                well_formed,
                verdict: verdict.clone(),
            });
        }
    }

    async fn post(&self, phase: Phase, body: Vec<u8>) -> Exchange {
        self.patience.calls.fetch_add(1, Ordering::Relaxed);
        let limit = self.call_timeout();
        match tokio::time::timeout(limit, self.client.post_raw(phase.path(), body)).await {
            Ok(Ok((status, body))) => Exchange::new(phase, status.as_u16(), body.to_vec()),
            Ok(Err(e)) => Exchange::unanswered(e.to_string()),
            Err(_) => {
                self.patience.given_up.fetch_add(1, Ordering::Relaxed);
                Exchange::unanswered(format!("nothing within {limit:?}"))
            }
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deny_is_a_refusal_the_plugin_decided() {
        let deny = Verdict::from_reply(Phase::Request, 200, br#"{"Allow":false,"Msg":"no"}"#);
        assert_eq!(deny.refusal(), Some(RefusalKind::Deny));
        assert!(!RefusalKind::Deny.is_failure());
    }

    #[test]
    fn a_non_200_reply_is_a_refusal_by_plugin_error() {
        let failed = Verdict::from_reply(Phase::Request, 500, br#"{"Err":"boom"}"#);
        assert_eq!(failed.refusal(), Some(RefusalKind::PluginError));
        assert!(RefusalKind::PluginError.is_failure());
    }

    #[test]
    fn an_undecodable_200_is_a_refusal_by_plugin_error() {
        let failed = Verdict::from_reply(Phase::Request, 200, b"not json");
        assert_eq!(failed.refusal(), Some(RefusalKind::PluginError));
    }

    #[test]
    fn an_allow_is_no_refusal() {
        let allow = Verdict::from_reply(Phase::Request, 200, br#"{"allow":true}"#);
        assert_eq!(allow.refusal(), None);
    }

    #[test]
    fn stopping_to_wait_only_ever_shortens_the_limit() {
        let target = Target::new("/nonexistent.sock", "p", Duration::from_secs(5));
        assert!(!target.is_impatient());
        target.stop_waiting_beyond(Duration::from_secs(1));
        target.stop_waiting_beyond(Duration::from_secs(3));
        assert_eq!(target.call_timeout(), Duration::from_secs(1));
        assert!(target.is_impatient());
    }
}
