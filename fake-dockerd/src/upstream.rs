//! Forwarding API calls to a real daemon over its unix socket (`serve --upstream`, `record`).
//!
//! One connection per call, as the docker CLI's hijacked calls need anyway; the call goes out
//! as it came in (same target, headers and framing: a chunked body stays chunked) and the
//! answer comes back unbuffered, so streams and protocol upgrades pass through. What to buffer
//! for the authz response phase is decided by [`classify`], from where dockerd flushes.

use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use crate::profile_go::canonical_header_key;

mod body;

pub use body::ChannelBody;

/// A real daemon's API socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    socket: PathBuf,
}

/// Why a call could not be forwarded.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The address is not a unix socket (`unix:///path` or a bare path).
    #[error("upstream {0:?} is not a unix socket address (expected unix:///path)")]
    Address(String),
    /// The daemon's socket could not be connected.
    #[error("cannot connect to the upstream daemon at {}: {source}", path.display())]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The connect error.
        source: io::Error,
    },
    /// The HTTP exchange with the daemon failed.
    #[error("exchange with the upstream daemon failed: {0}")]
    Http(#[from] hyper::Error),
    /// The socket answered `/_ping` with something other than 200.
    #[error("{} does not look like a Docker daemon: GET /_ping answered {status}", path.display())]
    NotADaemon {
        /// The socket path.
        path: PathBuf,
        /// The status it answered.
        status: u16,
    },
    /// The client's call could not be rebuilt as an upstream request.
    #[error("cannot rebuild the call for the upstream daemon: {0}")]
    Request(#[from] http::Error),
}

/// Everything the proxy forwards of a client's call.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// The HTTP method.
    pub method: &'a http::Method,
    /// The raw request target, sent unchanged.
    pub target: &'a str,
    /// The client's headers, sent unchanged (framing headers are re-derived from `chunked`).
    pub headers: &'a http::HeaderMap,
    /// The whole request body.
    pub body: Bytes,
    /// Whether the client sent the body chunked; it is forwarded chunked too.
    pub chunked: bool,
}

impl Upstream {
    /// A daemon listening on `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Upstream {
            socket: socket.into(),
        }
    }

    /// Reads a `DOCKER_HOST`-style address: `unix:///var/run/docker.sock` or a bare path.
    pub fn from_address(address: &str) -> Result<Self, UpstreamError> {
        match address.strip_prefix("unix://") {
            Some(path) if path.starts_with('/') => Ok(Upstream::new(path)),
            None if address.starts_with('/') => Ok(Upstream::new(address)),
            _ => Err(UpstreamError::Address(address.to_owned())),
        }
    }

    /// The daemon's socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends one call and returns the daemon's answer with its body still unread. On a
    /// `101 Switching Protocols` answer, `hyper::upgrade::on(response)` yields the stream.
    pub async fn send(&self, call: Outgoing<'_>) -> Result<Response<Incoming>, UpstreamError> {
        let stream =
            UnixStream::connect(&self.socket)
                .await
                .map_err(|source| UpstreamError::Connect {
                    path: self.socket.clone(),
                    source,
                })?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(err) = connection.with_upgrades().await {
                tracing::debug!("upstream connection ended: {err}");
            }
        });
        let mut request = Request::builder()
            .method(call.method.clone())
            .uri(call.target);
        for (name, value) in call.headers {
            if name != TRANSFER_ENCODING && name != CONTENT_LENGTH {
                request = request.header(name, value);
            }
        }
        let body: BoxBody<Bytes, io::Error> = if call.chunked {
            // No length: hyper frames a body of unknown size as chunked, like the client did.
            ChannelBody::once(call.body).boxed()
        } else {
            if !call.body.is_empty() || call.headers.contains_key(CONTENT_LENGTH) {
                request = request.header(CONTENT_LENGTH, call.body.len());
            }
            Full::new(call.body).map_err(|never| match never {}).boxed()
        };
        Ok(sender.send_request(request.body(body)?).await?)
    }

    /// Checks that the daemon answers `GET /_ping` with 200 (so a wrong address fails at
    /// startup) and returns the headers its version middleware puts on every answer
    /// (`Api-Version`, `Server`...): a hijacked call's response phase shows them even where
    /// the daemon wrote its `101` without them.
    pub async fn identity(&self) -> Result<Vec<(String, String)>, UpstreamError> {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_static("docker"));
        let response = self
            .send(Outgoing {
                method: &http::Method::GET,
                target: "/_ping",
                headers: &headers,
                body: Bytes::new(),
                chunked: false,
            })
            .await?;
        if response.status() != http::StatusCode::OK {
            return Err(UpstreamError::NotADaemon {
                path: self.socket.clone(),
                status: response.status().as_u16(),
            });
        }
        Ok(response
            .headers()
            .iter()
            .filter(|(name, _)| IDENTITY_HEADERS.contains(&name.as_str()))
            .filter_map(|(name, value)| {
                let value = value.to_str().ok()?.to_owned();
                Some((canonical_header_key(name.as_str()), value))
            })
            .collect())
    }
}

/// The headers dockerd's version middleware sets on every answer (lower case, as hyper
/// names them).
const IDENTITY_HEADERS: [&str; 4] = ["api-version", "docker-experimental", "ostype", "server"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unix_url_names_the_socket_path() {
        let upstream = Upstream::from_address("unix:///var/run/docker.sock").unwrap();
        assert_eq!(upstream.socket(), Path::new("/var/run/docker.sock"));
    }

    #[test]
    fn a_bare_absolute_path_is_a_socket_path() {
        let upstream = Upstream::from_address("/tmp/d.sock").unwrap();
        assert_eq!(upstream.socket(), Path::new("/tmp/d.sock"));
    }

    #[test]
    fn tcp_and_relative_addresses_are_refused() {
        for address in [
            "tcp://127.0.0.1:2375",
            "unix://relative.sock",
            "docker.sock",
        ] {
            assert!(
                matches!(
                    Upstream::from_address(address),
                    Err(UpstreamError::Address(_))
                ),
                "{address}"
            );
        }
    }

    #[tokio::test]
    async fn a_missing_daemon_socket_is_a_connect_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let upstream = Upstream::new(dir.path().join("absent.sock"));
        let error = upstream.identity().await.unwrap_err();
        assert!(matches!(error, UpstreamError::Connect { .. }), "{error}");
        assert!(error.to_string().contains("absent.sock"));
    }
}
