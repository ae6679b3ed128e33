//! Raw HTTP/1.1 over the plugin's unix socket, byte for byte under the suite's control.
//!
//! Ordinary calls go through `protocol::client::PluginClient`; the cases about malformed,
//! slow, half-closed and repeated traffic need to own the connection and the bytes sent, which
//! a pooled client hides, so they use this module.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use protocol::wire::PLUGIN_ACCEPT;

/// Why a raw exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Connecting to the socket failed.
    #[error("cannot connect to {path}: {source}")]
    Connect {
        /// The socket path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Reading or writing the stream failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed the connection before a full response.
    #[error("connection closed by the plugin before a complete response")]
    Closed,
    /// The peer answered something that is not an HTTP/1.x response.
    #[error("malformed HTTP response: {0}")]
    Malformed(String),
    /// Nothing complete arrived in time.
    #[error("no complete response within {0:?}")]
    Timeout(Duration),
}

/// A response as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body after de-chunking.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of a header, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The bytes of a plugin call the way dockerd's Go HTTP client writes it: POST, a
/// Content-Length, the plugin Accept header, and no Content-Type.
pub fn plugin_call(path: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!(
        "POST {path} HTTP/1.1\r\nHost: plugin\r\nUser-Agent: Go-http-client/1.1\r\n\
         Content-Length: {}\r\nAccept: {PLUGIN_ACCEPT}\r\nAccept-Encoding: gzip\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// One connection to the plugin.
#[derive(Debug)]
pub struct RawConnection {
    stream: BufReader<UnixStream>,
}

impl RawConnection {
    /// Connects to the plugin socket.
    pub async fn connect(path: &Path) -> Result<Self, TransportError> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|source| TransportError::Connect {
                path: path.display().to_string(),
                source,
            })?;
        Ok(RawConnection {
            stream: BufReader::new(stream),
        })
    }

    /// Writes bytes as they are.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.stream.get_mut().write_all(bytes).await?;
        self.stream.get_mut().flush().await?;
        Ok(())
    }

    /// Closes the write half; the plugin sees end of input.
    pub async fn shutdown_write(&mut self) -> Result<(), TransportError> {
        self.stream.get_mut().shutdown().await?;
        Ok(())
    }

    /// Sends a plugin call and reads its response, all within `within`.
    pub async fn call(
        &mut self,
        path: &str,
        body: &[u8],
        within: Duration,
    ) -> Result<RawResponse, TransportError> {
        self.send(&plugin_call(path, body)).await?;
        self.read_response(within).await
    }

    /// Reads one complete response, giving up after `within`.
    pub async fn read_response(&mut self, within: Duration) -> Result<RawResponse, TransportError> {
        tokio::time::timeout(within, self.read_response_unbounded())
            .await
            .map_err(|_| TransportError::Timeout(within))?
    }

    /// Reads and discards whatever the plugin sends until it closes the connection or
    /// `within` passes, whichever comes first.
    pub async fn drain_until_closed(&mut self, within: Duration) {
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(within, self.stream.read_to_end(&mut sink)).await;
    }

    async fn read_line(&mut self) -> Result<String, TransportError> {
        let mut line = Vec::new();
        let n = self.stream.read_until(b'\n', &mut line).await?;
        if n == 0 {
            return Err(TransportError::Closed);
        }
        if line.len() > 64 * 1024 {
            return Err(TransportError::Malformed("header line over 64 KiB".into()));
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        String::from_utf8(line).map_err(|_| TransportError::Malformed("non-UTF-8 header".into()))
    }

    async fn read_response_unbounded(&mut self) -> Result<RawResponse, TransportError> {
        let status_line = self.read_line().await?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        if !version.starts_with("HTTP/1.") {
            return Err(TransportError::Malformed(format!(
                "status line {status_line:?}"
            )));
        }
        let status = parts
            .next()
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| TransportError::Malformed(format!("status line {status_line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let line = self.read_line().await?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| TransportError::Malformed(format!("header line {line:?}")))?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        let mut response = RawResponse {
            status,
            headers,
            body: Vec::new(),
        };
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        if chunked {
            response.body = self.read_chunked().await?;
        } else if let Some(length) = response.header("content-length") {
            let length: usize = length
                .parse()
                .map_err(|_| TransportError::Malformed(format!("Content-Length {length:?}")))?;
            let mut body = vec![0u8; length];
            self.stream
                .read_exact(&mut body)
                .await
                .map_err(|_| TransportError::Closed)?;
            response.body = body;
        } else if !(status == 204 || status == 304 || (100..200).contains(&status)) {
            self.stream.read_to_end(&mut response.body).await?;
        }
        Ok(response)
    }

    async fn read_chunked(&mut self) -> Result<Vec<u8>, TransportError> {
        let mut body = Vec::new();
        loop {
            let size_line = self.read_line().await?;
            let size_text = size_line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| TransportError::Malformed(format!("chunk size {size_line:?}")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.read_line().await?.is_empty() {}
                return Ok(body);
            }
            let start = body.len();
            body.resize(start + size, 0);
            self.stream
                .read_exact(&mut body[start..])
                .await
                .map_err(|_| TransportError::Closed)?;
            self.read_line().await?;
        }
    }
}
