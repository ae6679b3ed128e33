//! The daemon side of the protocol: a pooled plugin client over a unix socket.
//!
//! It speaks to a plugin the way dockerd 20.10's `pkg/plugins` client does, so that harnesses
//! (fake-dockerd, conformance) see what a real daemon would: every call is a `POST` with
//! `Accept: application/vnd.docker.plugins.v1.2+json`, Go's `User-Agent`, an empty `Host`
//! (Go's `cleanHost` of the socket path), no `Content-Type` and no `Accept-Encoding`
//! (go-connections disables compression on unix sockets); the body is the JSON object
//! followed by a newline (Go's `json.Encoder`), Activate has an empty body, connections are
//! kept alive and reused, and there is no timeout unless one is asked for.
//! Replies are judged as dockerd judges them ([`judge_reply`], whose verdict is
//! [`PluginAnswer::reply`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use hyperlocal::UnixConnector;

use crate::body::{decode, PluginErrorBody};
use crate::wire::{
    ActivateManifest, AuthzReply, AuthzRequest, Phase, ACTIVATE_PATH, PLUGIN_ACCEPT,
};

/// The `User-Agent` Go's HTTP client sends, which is what plugins see from dockerd.
const GO_USER_AGENT: &str = "Go-http-client/1.1";

/// Why a plugin call did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket path cannot be put in a request URI.
    #[error("socket path {path:?} is not usable: {reason}")]
    SocketPath {
        /// The path given.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// Connecting, sending or receiving failed.
    #[error("plugin call {call} failed: {source}")]
    Transport {
        /// The call path (`/AuthZPlugin.AuthZReq`).
        call: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The per-call timeout ran out before the plugin answered.
    #[error("plugin call {call} timed out after {timeout:?}")]
    Timeout {
        /// The call path.
        call: String,
        /// The timeout that ran out.
        timeout: Duration,
    },
    /// The request object could not be encoded.
    #[error("cannot encode the request: {0}")]
    Encode(#[from] serde_json::Error),
    /// Activate was answered, but not the way dockerd accepts.
    #[error("activation refused: {0}")]
    Activate(ReplyError),
}

/// Why dockerd would not take a plugin's reply as a verdict; each one fails the API call
/// with HTTP 500 (`plugin NAME failed with error: ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// A status other than 200; dockerd reports the reply's `Err`, or else the raw body.
    #[error("{method}: {message}")]
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The call name (`AuthZPlugin.AuthZReq`), as dockerd prefixes it.
        method: String,
        /// `Err` from the body, or the body itself.
        message: String,
    },
    /// A 200 whose body Go's JSON decoder refuses.
    #[error("cannot decode the reply: {0}")]
    Decode(String),
}

/// What a plugin answered to one call, raw and as dockerd reads it.
#[derive(Debug, Clone)]
pub struct PluginAnswer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body exactly as received.
    pub body: Bytes,
    /// The verdict dockerd takes from it: on 200 the first JSON value decoded with Go's rules
    /// (a missing `Allow` is a deny, trailing bytes are never read, `Err` is ignored); any
    /// other status is an error carrying `Err` or the raw body.
    pub reply: Result<AuthzReply, ReplyError>,
}

/// A client for one plugin socket; cheap to clone, connections are pooled and kept alive.
#[derive(Debug, Clone)]
pub struct PluginClient {
    socket: PathBuf,
    client: Client<UnixConnector, Full<Bytes>>,
    timeout: Option<Duration>,
}

/// Builds a [`PluginClient`] with options.
#[derive(Debug, Clone)]
pub struct PluginClientBuilder {
    socket: PathBuf,
    timeout: Option<Duration>,
    pool_idle_timeout: Option<Duration>,
}

impl PluginClientBuilder {
    /// Gives every call (connect, send, whole reply) at most `timeout`; dockerd has none.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Closes kept-alive connections idle for longer than `idle` (Go's default is 90 s).
    pub fn pool_idle_timeout(mut self, idle: Duration) -> Self {
        self.pool_idle_timeout = Some(idle);
        self
    }

    /// The client.
    pub fn build(self) -> PluginClient {
        let mut builder = Client::builder(TokioExecutor::new());
        builder.pool_idle_timeout(self.pool_idle_timeout.unwrap_or(Duration::from_secs(90)));
        PluginClient {
            socket: self.socket,
            client: builder.build(UnixConnector),
            timeout: self.timeout,
        }
    }
}

impl PluginClient {
    /// A client for the plugin listening on `socket_path`, with dockerd's defaults.
    pub fn new(socket_path: impl AsRef<Path>) -> Self {
        Self::builder(socket_path).build()
    }

    /// A builder for a client with options.
    pub fn builder(socket_path: impl AsRef<Path>) -> PluginClientBuilder {
        PluginClientBuilder {
            socket: socket_path.as_ref().to_owned(),
            timeout: None,
            pool_idle_timeout: None,
        }
    }

    /// The socket this client calls.
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// `POST /Plugin.Activate` with an empty body; the manifest if dockerd would accept the
    /// answer (200 and a JSON object). Whether it lists `authz` is for the caller to check
    /// ([`ActivateManifest::implements_authz`]).
    pub async fn activate(&self) -> Result<ActivateManifest, ClientError> {
        let (status, body) = self.post_raw(ACTIVATE_PATH, Bytes::new()).await?;
        if status != StatusCode::OK {
            let error = status_error(status, &ACTIVATE_PATH[1..], &body);
            return Err(ClientError::Activate(error));
        }
        decode::<ActivateManifest>(&body)
            .map_err(|e| ClientError::Activate(ReplyError::Decode(e.to_string())))
    }

    /// Sends `request` as the call for `phase` and returns the answer, judged as dockerd
    /// would judge it.
    pub async fn call(
        &self,
        phase: Phase,
        request: &AuthzRequest,
    ) -> Result<PluginAnswer, ClientError> {
        let mut body = serde_json::to_vec(request)?;
        // Go's json.Encoder ends every value with a newline.
        body.push(b'\n');
        let (status, body) = self.post_raw(phase.path(), Bytes::from(body)).await?;
        let reply = judge_reply(phase, status, &body);
        Ok(PluginAnswer {
            status,
            body,
            reply,
        })
    }

    /// Posts `body` to `path` exactly as given, with dockerd's headers; for harnesses that
    /// send what a daemon never would.
    pub async fn post_raw(
        &self,
        path: &str,
        body: impl Into<Bytes>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let exchange = self.exchange(path, body.into());
        match self.timeout {
            None => exchange.await,
            Some(timeout) => tokio::time::timeout(timeout, exchange)
                .await
                .unwrap_or_else(|_| {
                    Err(ClientError::Timeout {
                        call: path.to_owned(),
                        timeout,
                    })
                }),
        }
    }

    async fn exchange(&self, path: &str, body: Bytes) -> Result<(StatusCode, Bytes), ClientError> {
        let transport = |source: Box<dyn std::error::Error + Send + Sync>| ClientError::Transport {
            call: path.to_owned(),
            source,
        };
        let uri: hyper::Uri = hyperlocal::Uri::new(&self.socket, path).into();
        if uri.path() != path {
            return Err(ClientError::SocketPath {
                path: self.socket.clone(),
                reason: format!("call path {path:?} does not survive as a URI"),
            });
        }
        let request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::HOST, "")
            .header(header::USER_AGENT, GO_USER_AGENT)
            .header(header::ACCEPT, PLUGIN_ACCEPT)
            .header(header::CONTENT_LENGTH, body.len())
            .body(Full::new(body))
            .map_err(|e| transport(e.into()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| transport(e.into()))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| transport(e.into()))?
            .to_bytes();
        Ok((status, body))
    }
}

/// Reads a plugin's answer to a `phase` call the way dockerd 20.10 does: `callWithRetry`
/// turns any status but 200 into an error carrying the body's `Err` (or else the raw body),
/// then `json.Decoder` reads the first JSON value of a 200 body with Go's rules (a missing
/// `Allow` is a deny, trailing bytes are never read, `Err` is ignored).
///
/// This is the one place the workspace judges replies; harnesses that send calls some other
/// way (raw sockets, odd envelopes) judge what came back with it too.
pub fn judge_reply(
    phase: Phase,
    status: StatusCode,
    body: &[u8],
) -> Result<AuthzReply, ReplyError> {
    if status != StatusCode::OK {
        return Err(status_error(status, phase.method_name(), body));
    }
    decode::<AuthzReply>(body).map_err(|e| ReplyError::Decode(e.to_string()))
}

/// The error dockerd builds from a non-200 reply: `Err` of `json.Unmarshal` into
/// `struct{ Err string }` when that succeeds with a non-empty `Err`, else the raw body.
fn status_error(status: StatusCode, method: &str, body: &[u8]) -> ReplyError {
    let message = decode::<PluginErrorBody>(body)
        .map(|b| b.err)
        .ok()
        .filter(|err| !err.is_empty())
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    ReplyError::Status {
        status,
        method: method.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_error_prefers_err_over_the_body() {
        let error = status_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "AuthZPlugin.AuthZReq",
            br#"{"eRR":"boom"}"#,
        );
        assert_eq!(error.to_string(), "AuthZPlugin.AuthZReq: boom");
    }

    #[test]
    fn status_error_falls_back_to_the_raw_body() {
        for body in [
            &br#"{"Err":""}"#[..],
            b"not json",
            br#"{"Err":5}"#,
            br#"{"Err":"x"} tail"#,
        ] {
            let error = status_error(StatusCode::BAD_REQUEST, "AuthZPlugin.AuthZReq", body);
            let text = String::from_utf8_lossy(body);
            assert_eq!(error.to_string(), format!("AuthZPlugin.AuthZReq: {text}"));
        }
    }

    #[test]
    fn status_error_takes_the_last_err_and_ignores_null() {
        let body = br#"{"Err":"first","err":"second","ERR":null}"#;
        let error = status_error(StatusCode::FORBIDDEN, "AuthZPlugin.AuthZRes", body);
        assert_eq!(error.to_string(), "AuthZPlugin.AuthZRes: second");
    }

    #[test]
    fn manifest_keys_fold_like_go() {
        let manifest =
            decode::<ActivateManifest>(br#"{"implement\u017f":["authz"]} trailing"#).unwrap();
        assert!(manifest.implements_authz());
    }

    #[test]
    fn null_manifest_is_empty() {
        assert_eq!(
            decode::<ActivateManifest>(b"null").unwrap(),
            ActivateManifest::default()
        );
    }
}
