//! The plugin server: hyper http1 on a unix socket, driving an [`crate::AuthzPlugin`].
//!
//! Every plugin of the project (authobot, the do-nothing reference, the deliberately broken
//! test plugins, fake-dockerd's recorder) answers dockerd through this one server, so the
//! transport behaves the same under all of them: keep-alive connections served concurrently,
//! a header-read timeout, a body size cap, malformed calls and plugin panics answered with a
//! deny (fail closed), and a bounded graceful shutdown.
//!
//! Memory is bounded across connections, not only per call: at most `max_connections` are
//! served at once (one more is answered 503 and closed), each buffering at most
//! [`MAX_CONNECTION_BUFFER`] of headers, and the bodies being read and decided at once hold
//! at most `max_body_bytes_in_flight` between them (a semaphore of bytes, taken once per
//! call for its declared length); a call that would go past it is answered 503 with a deny.

mod listener;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

pub use listener::{bind_unix, systemd_listener, SOCKET_MODE};

use crate::plugin::AuthzPlugin;
use crate::wire::{AuthzReply, AuthzRequest, Phase, ACTIVATE_PATH};

/// The Content-Type Go plugin helpers (`go-plugins-helpers/sdk`) put on every answer.
pub const PLUGIN_CONTENT_TYPE: &str = "application/vnd.docker.plugins.v1.1+json";

/// How long an accept loop waits after a transient accept error (e.g. out of descriptors).
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// The most a connection buffers while reading a call's headers (hyper's own default is
/// 400 KiB; dockerd sends a few hundred bytes of headers).
pub const MAX_CONNECTION_BUFFER: usize = 64 * 1024;

/// How long a connection beyond the cap is given to send its call before the refusal.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);

/// Errors of binding and serving the plugin socket.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The socket's parent directory could not be created.
    #[error("cannot create socket directory {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// What is at the socket path could not be examined.
    #[error("cannot examine {}", path.display())]
    Inspect {
        /// The socket path.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// Something other than a socket is at the socket path; it is never replaced.
    #[error("{} exists and is not a socket; refusing to replace it", path.display())]
    NotASocket {
        /// The socket path.
        path: PathBuf,
    },
    /// Another process is serving on the socket; a live socket is never taken over.
    #[error("{} is in use: another process is listening on it", path.display())]
    SocketInUse {
        /// The socket path.
        path: PathBuf,
    },
    /// Probing the existing socket failed without telling whether anyone listens on it.
    #[error("cannot tell whether {} is still in use", path.display())]
    Probe {
        /// The socket path.
        path: PathBuf,
        /// Why the probe failed.
        source: io::Error,
    },
    /// The stale socket left by a previous process could not be removed.
    #[error("cannot remove stale socket {}", path.display())]
    RemoveStale {
        /// The socket path.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// Binding the socket failed.
    #[error("cannot bind {}", path.display())]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// The socket's mode could not be set to 0660.
    #[error("cannot set mode 0660 on {}", path.display())]
    Permissions {
        /// The socket path.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// `LISTEN_FDS` is set for this process but is not a number.
    #[error("LISTEN_FDS={value:?} is not a descriptor count")]
    ListenFdsInvalid {
        /// The variable's value.
        value: String,
    },
    /// The descriptor the service manager passed is not a usable unix stream socket.
    #[error("the socket passed by the service manager is unusable")]
    PassedSocket(#[source] io::Error),
    /// `LISTEN_FDS` announced a descriptor that is not there.
    #[error("LISTEN_FDS announced a socket but none was passed")]
    PassedSocketMissing,
    /// Accepting connections failed for good (not a transient shortage).
    #[error("cannot accept connections on the plugin socket")]
    Accept(#[source] io::Error),
}

/// Limits of the plugin server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// How long a client may take to send a request's headers; it also closes connections
    /// idle between requests for that long. dockerd's plugin client reconnects on its own.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's body once its headers arrived.
    pub body_read_timeout: Duration,
    /// The largest call body accepted; larger ones are answered 413 with a deny body.
    pub max_body_bytes: usize,
    /// At most this many connections served at once (`Some(0)` counts as 1); one more is
    /// answered 503 with a deny and closed. `None`: no cap.
    pub max_connections: Option<usize>,
    /// At most this many bytes of call bodies being read and decided at once, across all
    /// connections; a call that would go past it is answered 503 with a deny. A call
    /// without a Content-Length counts as `max_body_bytes`.
    pub max_body_bytes_in_flight: usize,
    /// How long a shutdown waits for in-flight calls before dropping them.
    pub shutdown_timeout: Duration,
}

impl Default for ServerConfig {
    /// Defaults for a plugin behind a real dockerd.
    ///
    /// The body cap fits the largest AuthZRes call a daemon makes: a 4 MiB request body
    /// (29.x forwards up to 4 MiB) and a 64 KiB buffered response, both base64 inside JSON
    /// (about 5.7 MiB), with room for headers and escaping. 512 connections and 64 MiB of
    /// bodies in flight bound what calls hold at once to about 100 MiB (the bodies, their
    /// decoded copies, the connections' buffers), and let 8 calls of the largest size, or
    /// hundreds of ordinary ones (a few KiB), be decided together.
    fn default() -> Self {
        ServerConfig {
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            max_body_bytes: 8 * 1024 * 1024,
            max_connections: Some(512),
            max_body_bytes_in_flight: 64 * 1024 * 1024,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `plugin` on `listener` until `shutdown` resolves.
///
/// On shutdown it stops accepting at once (the listener is closed), lets calls in flight
/// finish and closes idle connections, waiting at most `config.shutdown_timeout`. Transient
/// accept errors (out of descriptors or memory) are logged and retried; other accept errors
/// end serving with [`ServerError::Accept`].
pub async fn serve(
    listener: UnixListener,
    plugin: Arc<dyn AuthzPlugin>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let config = Arc::new(config);
    let slots = config
        .max_connections
        .map(|n| Arc::new(Semaphore::new(n.max(1))));
    let budget = Arc::new(Semaphore::new(
        config.max_body_bytes_in_flight.min(Semaphore::MAX_PERMITS),
    ));
    let (stop_connections, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    match listener::listener_path(&listener) {
        Some(path) => tracing::info!(socket = %path.display(), "authz plugin serving"),
        None => tracing::info!("authz plugin serving"),
    }

    tokio::pin!(shutdown);
    let outcome = loop {
        while let Some(finished) = connections.try_join_next() {
            log_task_failure(finished);
        }
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break Ok(()),
        };
        match accepted {
            Ok((stream, _)) => {
                let slot = match &slots {
                    Some(slots) => {
                        match Arc::clone(slots).try_acquire_owned() {
                            Ok(slot) => Some(slot),
                            Err(_) => {
                                let limit = config.max_connections.unwrap_or_default().max(1);
                                tracing::warn!(limit, "connection refused: the plugin serves {limit} connections already");
                                connections.spawn(refuse_connection(stream, limit));
                                continue;
                            }
                        }
                    }
                    None => None,
                };
                let plugin = Arc::clone(&plugin);
                let config = Arc::clone(&config);
                let budget = Arc::clone(&budget);
                let stopping = stopping.clone();
                connections.spawn(async move {
                    serve_connection(stream, plugin, config, budget, stopping).await;
                    drop(slot);
                });
            }
            Err(err) if is_transient_accept_error(&err) => {
                tracing::warn!(error = %err, "accept failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_RETRY_DELAY) => {}
                    () = &mut shutdown => break Ok(()),
                }
            }
            Err(err) => break Err(ServerError::Accept(err)),
        }
    };

    drop(listener);
    stop_connections.send_replace(true);
    while let Some(finished) = connections.try_join_next() {
        log_task_failure(finished);
    }
    let in_flight = connections.len();
    tracing::info!(
        connections = in_flight,
        "shutting down: no longer accepting"
    );
    let drained = tokio::time::timeout(config.shutdown_timeout, async {
        while let Some(finished) = connections.join_next().await {
            log_task_failure(finished);
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            timeout = ?config.shutdown_timeout,
            "shutdown timeout reached; dropping connections still busy"
        );
        connections.abort_all();
    }
    outcome
}

/// Resolves when the process receives SIGTERM or SIGINT.
///
/// If a handler cannot be installed the error is logged and that signal keeps its default
/// action (ending the process), so shutdown still happens, just not gracefully.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};

    async fn received(kind: SignalKind, name: &'static str) -> &'static str {
        match signal(kind) {
            Ok(mut stream) => {
                stream.recv().await;
                name
            }
            Err(err) => {
                tracing::error!(signal = name, error = %err, "cannot handle signal");
                std::future::pending().await
            }
        }
    }

    let name = tokio::select! {
        name = received(SignalKind::terminate(), "SIGTERM") => name,
        name = received(SignalKind::interrupt(), "SIGINT") => name,
    };
    tracing::info!(signal = name, "shutdown requested");
}

/// Answers a connection beyond the cap with a 503 deny once its call's headers arrived
/// (or a second passed), then closes it.
async fn refuse_connection(mut stream: UnixStream, limit: usize) {
    let body = serde_json::to_vec(&fault_reply(format!(
        "the plugin serves at most {limit} connections at once; this call is refused"
    )))
    .unwrap_or_default();
    let mut answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: {PLUGIN_CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, async {
        let mut head = Vec::with_capacity(1024);
        let mut chunk = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_CONNECTION_BUFFER {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let _ = tokio::time::timeout(REFUSAL_TIMEOUT, async {
        stream.write_all(&answer).await?;
        stream.shutdown().await
    })
    .await;
}

/// Serves one connection until the client closes it, a timeout cuts it, or shutdown drains it.
async fn serve_connection(
    stream: UnixStream,
    plugin: Arc<dyn AuthzPlugin>,
    config: Arc<ServerConfig>,
    budget: Arc<Semaphore>,
    mut stopping: watch::Receiver<bool>,
) {
    let service = {
        let config = Arc::clone(&config);
        service_fn(move |request| {
            let plugin = Arc::clone(&plugin);
            let config = Arc::clone(&config);
            let budget = Arc::clone(&budget);
            async move { Ok::<_, Infallible>(answer(request, plugin.as_ref(), &config, &budget).await) }
        })
    };
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(MAX_CONNECTION_BUFFER)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = async { drop(stopping.wait_for(|stop| *stop).await) } => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    match result {
        Ok(()) => tracing::trace!("connection closed"),
        Err(err) if err.is_timeout() => {
            tracing::debug!("connection cut: headers not received within the timeout");
        }
        Err(err) => tracing::debug!(error = %err, "connection ended with an error"),
    }
}

/// The calls the server knows.
enum Call {
    Activate,
    Authz(Phase),
}

impl Call {
    fn from_path(path: &str) -> Option<Call> {
        if path == ACTIVATE_PATH {
            Some(Call::Activate)
        } else if path == Phase::Request.path() {
            Some(Call::Authz(Phase::Request))
        } else if path == Phase::Response.path() {
            Some(Call::Authz(Phase::Response))
        } else {
            None
        }
    }
}

/// Answers one HTTP request: routing, body limits, decoding, the plugin's decision.
async fn answer(
    request: Request<Incoming>,
    plugin: &dyn AuthzPlugin,
    config: &ServerConfig,
    budget: &Arc<Semaphore>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let Some(call) = Call::from_path(&path) else {
        tracing::debug!(path, "unknown plugin call");
        return failure(StatusCode::NOT_FOUND, format!("unknown plugin call {path}"));
    };
    if request.method() != Method::POST {
        let mut response = failure(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{path} must be called with POST, not {}", request.method()),
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    // Held until the answer is built: the body and what decoding it makes are in memory.
    let (body, _bytes_held) = match read_body(request, config, budget).await {
        Ok(read) => read,
        Err(refusal) => return refusal,
    };
    match call {
        Call::Activate => json_response(StatusCode::OK, &plugin.manifest()),
        Call::Authz(phase) => {
            let reply = decide(plugin, phase, &body);
            json_response(StatusCode::OK, &reply)
        }
    }
}

/// Reads the whole call body within the size cap and the body timeout, holding its share
/// of the bytes in flight (its declared length, or the cap when it declares none).
async fn read_body(
    request: Request<Incoming>,
    config: &ServerConfig,
    budget: &Arc<Semaphore>,
) -> Result<(Bytes, OwnedSemaphorePermit), Response<Full<Bytes>>> {
    let too_large = || {
        failure(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "call body larger than the plugin's limit of {} bytes",
                config.max_body_bytes
            ),
        )
    };
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > config.max_body_bytes as u64) {
        return Err(too_large());
    }
    let needed = declared.map_or(config.max_body_bytes, |length| length as usize);
    let held = u32::try_from(needed)
        .ok()
        .and_then(|n| Arc::clone(budget).try_acquire_many_owned(n).ok())
        .ok_or_else(|| {
            tracing::warn!(needed, limit = config.max_body_bytes_in_flight, "call refused: the bytes in flight are at the limit");
            failure(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the plugin is reading and deciding as many calls as its memory bound allows ({} bytes in flight); this call of {needed} bytes is refused",
                    config.max_body_bytes_in_flight
                ),
            )
        })?;
    let limited = Limited::new(request.into_body(), config.max_body_bytes);
    match tokio::time::timeout(config.body_read_timeout, limited.collect()).await {
        Ok(Ok(collected)) => Ok((collected.to_bytes(), held)),
        Ok(Err(err)) if err.is::<LengthLimitError>() => Err(too_large()),
        Ok(Err(err)) => Err(failure(
            StatusCode::BAD_REQUEST,
            format!("cannot read the call body: {err}"),
        )),
        Err(_) => Err(failure(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "call body not received within {:?}",
                config.body_read_timeout
            ),
        )),
    }
}

/// Decodes an authz call and asks the plugin; any fault on the way is a deny saying why.
///
/// Nothing of the call's values reaches a log or a fault message: a query carries build
/// args, a body or a header carries credentials. Logs name the route and the decision; a
/// malformed call is described by the field at fault and where, never by what it holds.
fn decide(plugin: &dyn AuthzPlugin, phase: Phase, body: &[u8]) -> AuthzReply {
    let method = phase.method_name();
    if let Some(fault) = envelope_shape_fault(body) {
        tracing::warn!(call = method, fault, "malformed call denied");
        return fault_reply(format!("malformed {method} call: {fault}"));
    }
    let request: AuthzRequest = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(err) => {
            let fault = envelope_fault(body, &err);
            tracing::warn!(call = method, fault, "malformed call denied");
            return fault_reply(format!("malformed {method} call: {fault}"));
        }
    };
    let started = Instant::now();
    let decision = catch_unwind(AssertUnwindSafe(|| match phase {
        Phase::Request => plugin.authz_request(&request),
        Phase::Response => plugin.authz_response(&request),
    }));
    match decision {
        Ok(reply) => {
            tracing::debug!(
                call = method,
                method = %request.request_method,
                route = route_template(&request),
                allow = reply.allow,
                elapsed_us = started.elapsed().as_micros() as u64,
                "decided"
            );
            reply
        }
        Err(panic) => {
            let what = panic_message(panic.as_ref());
            tracing::error!(
                call = method,
                method = %request.request_method,
                route = route_template(&request),
                panic = what,
                "plugin panicked; call denied"
            );
            fault_reply(format!("plugin failed while deciding {method}: {what}"))
        }
    }
}

/// The route template a call names (`/containers/{name}/exec`), for logs: never its path,
/// query or parameters.
fn route_template(request: &AuthzRequest) -> &'static str {
    crate::route::parse(&request.request_method, &request.request_uri)
        .map_or("(unroutable)", |route| route.template)
}

/// What is wrong with an envelope serde could not read, without any of its values: serde's
/// own text quotes them (`invalid type: string "s3cret"`, a base64 error's offending byte).
/// Syntax errors quote nothing and are kept; a value that does not fit its field is named
/// by the field (found by reading the envelope again, on this cold path only).
fn envelope_fault(body: &[u8], err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => err.to_string(),
        Category::Data => {
            let mut reader = serde_json::Deserializer::from_slice(body);
            let field = match serde_path_to_error::deserialize::<_, AuthzRequest>(&mut reader) {
                Err(located) => located.path().to_string(),
                Ok(_) => String::from("?"),
            };
            format!(
                "the value of {field} is not of its type (line {} column {})",
                err.line(),
                err.column()
            )
        }
    }
}

/// Go's `encoding/json` refuses values nested deeper than this (`exceeded max depth`).
const GO_MAX_NESTING_DEPTH: usize = 10_000;

/// What serde would accept in an envelope but Go's decoder (the daemon's and Go plugins')
/// refuses: a top level that is not an object (serde reads a struct from an array,
/// positionally), or nesting deeper than Go's limit (serde skips unknown fields at any depth).
fn envelope_shape_fault(body: &[u8]) -> Option<&'static str> {
    let first = body
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first.is_some_and(|b| *b != b'{') {
        return Some("the body is not a JSON object");
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in body {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > GO_MAX_NESTING_DEPTH {
                    return Some("the body nests deeper than Go's limit of 10000 levels");
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// The text a panic was raised with, when it has one.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "panic without a message"
    }
}

/// A deny produced by the server itself; `Err` repeats `Msg` for daemons reading either.
fn fault_reply(message: String) -> AuthzReply {
    AuthzReply {
        allow: false,
        msg: message.clone(),
        err: message,
    }
}

/// A non-200 answer whose body still reads as a deny, with `Err` for dockerd's error text.
fn failure(status: StatusCode, message: String) -> Response<Full<Bytes>> {
    json_response(status, &fault_reply(message))
}

/// Serialises `value` into a response with the plugin Content-Type.
fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response<Full<Bytes>> {
    let body = match serde_json::to_vec(value) {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(error = %err, "cannot encode the answer");
            return plain_deny();
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PLUGIN_CONTENT_TYPE));
    response
}

/// The deny sent when even encoding an answer failed.
fn plain_deny() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(
        br#"{"Allow":false,"Msg":"plugin could not encode its answer","Err":"plugin could not encode its answer"}"#,
    )));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PLUGIN_CONTENT_TYPE));
    response
}

/// Accept errors that say "not now" (resources, an aborted handshake), not "never".
fn is_transient_accept_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::OutOfMemory
    ) || err
        .raw_os_error()
        .is_some_and(|errno| TRANSIENT_ACCEPT_ERRNOS.contains(&errno))
}

/// Linux errnos of accept(2) that clear up by themselves: EMFILE, ENFILE, ENOBUFS, ENOMEM,
/// EPROTO, and EPERM (a security module refused that one connection).
const TRANSIENT_ACCEPT_ERRNOS: [i32; 6] = [24, 23, 105, 12, 71, 1];

/// Reports a connection task that panicked or was cancelled.
fn log_task_failure(finished: Result<(), tokio::task::JoinError>) {
    if let Err(err) = finished {
        tracing::error!(error = %err, "connection task failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_descriptors_is_retried() {
        assert!(is_transient_accept_error(&io::Error::from_raw_os_error(24)));
    }

    #[test]
    fn accepting_on_a_socket_that_is_not_listening_is_fatal() {
        // EINVAL: e.g. a passed descriptor on which listen() was never called.
        assert!(!is_transient_accept_error(&io::Error::from_raw_os_error(
            22
        )));
    }

    #[test]
    fn envelope_nested_to_gos_limit_is_accepted() {
        let nested = format!("{}{}", "[".repeat(9_999), "]".repeat(9_999));
        let body = format!(r#"{{"Future":{nested}}}"#);
        assert_eq!(envelope_shape_fault(body.as_bytes()), None);
    }

    #[test]
    fn envelope_nested_past_gos_limit_is_refused() {
        let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let body = format!(r#"{{"Future":{nested}}}"#);
        assert!(envelope_shape_fault(body.as_bytes()).is_some());
    }

    #[test]
    fn brackets_inside_strings_do_not_count_as_nesting() {
        let body = format!(
            r#"{{"RequestUri":"{}\"{}"}}"#,
            "[".repeat(20_000),
            "{".repeat(20_000)
        );
        assert_eq!(envelope_shape_fault(body.as_bytes()), None);
    }

    #[test]
    fn envelope_that_is_an_array_is_refused() {
        assert_eq!(
            envelope_shape_fault(br#" ["POST","/allowed"]"#),
            Some("the body is not a JSON object")
        );
    }

    #[test]
    fn server_made_denies_carry_the_reason_in_msg_and_err() {
        let reply = fault_reply("malformed call".to_owned());
        assert_eq!(
            serde_json::to_string(&reply).unwrap(),
            r#"{"Allow":false,"Msg":"malformed call","Err":"malformed call"}"#
        );
    }
}
