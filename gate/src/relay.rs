//! The relay: each connection to the gate's socket becomes one TLS connection to dockerd,
//! made with a certificate for the user the kernel says is calling.
//!
//! The identity belongs to the connection, so the relay never reads the HTTP inside it:
//! bytes go both ways unchanged until each side has closed its half. Every call on the
//! connection (keep-alive requests, a hijacked attach or exec, an upgraded BuildKit session,
//! a streamed build context or log) reaches dockerd exactly as the client sent it, under the
//! caller's name. A caller without an identity, or one the daemon cannot be reached for, gets
//! an HTTP error the docker CLI prints (`Error response from daemon: authobot gate: ...`).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use tokio::net::{TcpStream, UnixListener, UnixStream};
use tokio::task::JoinSet;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::ca::DAEMON_NAME;
use crate::identity::{Identity, Peer, Resolver};
use crate::tls::{ClientSettings, TlsError};

/// How long dialling dockerd (TCP connect and TLS handshake) may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a refused caller has to send its request before the connection is closed.
const REFUSAL_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connections in flight may go on after a shutdown was asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why a connection could not be relayed to dockerd.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// No TLS settings for the user.
    #[error(transparent)]
    Settings(#[from] TlsError),
    /// dockerd's TLS port did not accept the connection.
    #[error("cannot reach the docker daemon at {address}: {source}")]
    Connect {
        /// The daemon's address.
        address: SocketAddr,
        /// The error.
        source: io::Error,
    },
    /// The TLS handshake with dockerd failed (or its certificate is not the gate CA's).
    #[error("TLS handshake with the docker daemon at {address} failed: {source}")]
    Handshake {
        /// The daemon's address.
        address: SocketAddr,
        /// The error.
        source: io::Error,
    },
}

/// What the gate needs to relay a connection.
#[derive(Debug)]
pub struct Gate {
    resolver: Resolver,
    settings: ClientSettings,
    daemon: SocketAddr,
}

impl Gate {
    /// A gate relaying to dockerd's TLS port at `daemon`.
    pub fn new(resolver: Resolver, settings: ClientSettings, daemon: SocketAddr) -> Self {
        Gate {
            resolver,
            settings,
            daemon,
        }
    }

    /// Opens a TLS connection to dockerd as `identity`.
    pub async fn dial(&self, identity: &Identity) -> Result<TlsStream<TcpStream>, DialError> {
        let config = self.settings.for_identity(identity)?;
        let address = self.daemon;
        let timed_out = || io::Error::new(io::ErrorKind::TimedOut, "timed out");
        let tcp = tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(address))
            .await
            .unwrap_or_else(|_| Err(timed_out()))
            .map_err(|source| DialError::Connect { address, source })?;
        // Interactive sessions send keystrokes one by one.
        let _ = tcp.set_nodelay(true);
        let name = ServerName::DnsName(DAEMON_NAME.try_into().expect("a valid DNS name"));
        tokio::time::timeout(DIAL_TIMEOUT, TlsConnector::from(config).connect(name, tcp))
            .await
            .unwrap_or_else(|_| Err(timed_out()))
            .map_err(|source| DialError::Handshake { address, source })
    }

    /// Relays one accepted connection until both sides closed it.
    pub async fn relay(self: Arc<Self>, mut client: UnixStream) {
        let peer = match client.peer_cred() {
            Ok(credentials) => Peer {
                uid: credentials.uid(),
                gid: credentials.gid(),
                pid: credentials.pid().filter(|&pid| pid > 0),
            },
            Err(error) => {
                tracing::warn!(%error, "cannot read the caller's credentials; connection closed");
                return;
            }
        };
        let pid = peer.pid.unwrap_or(0);
        let gate = Arc::clone(&self);
        let resolved = tokio::task::spawn_blocking(move || gate.resolver.resolve(peer)).await;
        let identity = match resolved {
            Ok(Ok(identity)) => identity,
            Ok(Err(refusal)) => {
                tracing::warn!(uid = peer.uid, pid, %refusal, "caller refused");
                refuse(client, StatusCode::FORBIDDEN, &refusal.to_string()).await;
                return;
            }
            Err(join_error) => {
                tracing::error!(uid = peer.uid, pid, %join_error, "the user lookup failed");
                refuse(
                    client,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the user lookup failed",
                )
                .await;
                return;
            }
        };
        let mut daemon = match self.dial(&identity).await {
            Ok(daemon) => daemon,
            Err(error) => {
                tracing::error!(uid = peer.uid, pid, user = %identity.name, %error, "cannot relay");
                refuse(client, StatusCode::BAD_GATEWAY, &error.to_string()).await;
                return;
            }
        };
        tracing::info!(uid = peer.uid, pid, user = %identity.name, "relaying");
        match tokio::io::copy_bidirectional(&mut client, &mut daemon).await {
            Ok((sent, received)) => {
                tracing::debug!(uid = peer.uid, pid, user = %identity.name, sent, received, "connection ended")
            }
            Err(error) => {
                tracing::debug!(uid = peer.uid, pid, user = %identity.name, %error, "connection broke")
            }
        }
    }
}

/// Answers every request on `client` with `status` and dockerd's error shape
/// (`{"message": ...}`), then closes it.
async fn refuse(client: UnixStream, status: StatusCode, message: &str) {
    let body = Bytes::from(
        serde_json::json!({ "message": format!("authobot gate: {message}") }).to_string() + "\n",
    );
    let service = service_fn(move |_request| {
        let mut response = Response::new(Full::new(body.clone()));
        *response.status_mut() = status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        async move { Ok::<_, std::convert::Infallible>(response) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(REFUSAL_READ_TIMEOUT)
        .keep_alive(false)
        .serve_connection(TokioIo::new(client), service);
    if let Err(error) = connection.await {
        tracing::debug!(%error, "refused connection ended");
    }
}

/// Accepts connections on `listener` and relays each until `shutdown` completes; then stops
/// accepting and gives connections in flight [`SHUTDOWN_GRACE`] to end.
pub async fn serve(listener: UnixListener, gate: Arc<Gate>, shutdown: impl Future<Output = ()>) {
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    connections.spawn(Arc::clone(&gate).relay(client));
                }
                Err(error) => {
                    // Out of descriptors or memory: wait for connections to end.
                    tracing::error!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
        while connections.try_join_next().is_some() {}
    }
    let open = connections.len();
    if open > 0 {
        tracing::info!(open, "waiting for connections in flight");
        let drained = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drained).await.is_err() {
            tracing::info!(open = connections.len(), "closing connections still open");
        }
    }
}
