//! The capture format (version 1): JSON Lines, one client-to-daemon exchange a line.
//!
//! A capture file is an ordered sequence of exchanges, typically one CLI command. Each line
//! holds the request as it crossed the wire, the daemon's response, and optionally the
//! outcome the client is expected to see when the exchange is replayed through a plugin
//! chain. Plugin-side recordings (`record-plugin` output) can be read from the same files.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::profile::{ClientRequest, ClientResponse};
use crate::record_plugin::PluginCall;

/// The capture format version this crate writes and reads.
pub const CAPTURE_VERSION: u32 = 1;

/// One client-to-daemon exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// Always [`CAPTURE_VERSION`].
    pub version: u32,
    /// What the client sent.
    pub request: ClientRequest,
    /// What the daemon's handler answered (as the client saw it when nothing refused it).
    pub response: ClientResponse,
    /// What the client should see when this exchange goes through a plugin chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expectation>,
}

/// What the client sees at the end of an exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expectation {
    /// The HTTP status the client gets.
    pub status: u16,
    /// The daemon's error message, when the daemon (or a plugin through it) refused; absent
    /// when the handler's answer reached the client unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What the client sees when the handler's answer stands: its status, and the daemon's
/// error message when the body is a `{"message":...}` error (status 300 or more).
pub fn handler_result(response: &ClientResponse) -> Expectation {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: String,
    }
    let message = (response.status >= 300)
        .then(|| serde_json::from_slice::<ErrorBody>(&response.body).ok())
        .flatten()
        .map(|body| body.message);
    Expectation {
        status: response.status,
        message,
    }
}

/// One line of a capture file: an exchange, or a plugin call recorded by `record-plugin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CaptureLine {
    /// A client-to-daemon exchange (capture format v1).
    Exchange(Box<Exchange>),
    /// A plugin-side message as a real daemon sent it.
    PluginCall(Box<PluginCall>),
}

/// Why a capture file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line is neither an exchange nor a plugin call.
    #[error("{path}:{line}: not a capture line: {source}")]
    Line {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// An exchange of a version this build does not know.
    #[error("{path}:{line}: capture version {version} (this build reads {CAPTURE_VERSION})")]
    Version {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The version found.
        version: u32,
    },
}

/// Parses capture text; blank lines are skipped. `path` only labels errors.
pub fn parse_capture(path: &str, text: &str) -> Result<Vec<CaptureLine>, CaptureError> {
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed: CaptureLine =
            serde_json::from_str(line).map_err(|source| CaptureError::Line {
                path: path.to_owned(),
                line: index + 1,
                source,
            })?;
        if let CaptureLine::Exchange(exchange) = &parsed {
            if exchange.version != CAPTURE_VERSION {
                return Err(CaptureError::Version {
                    path: path.to_owned(),
                    line: index + 1,
                    version: exchange.version,
                });
            }
        }
        lines.push(parsed);
    }
    Ok(lines)
}

/// Reads and parses a capture file.
pub fn read_capture(path: &Path) -> Result<Vec<CaptureLine>, CaptureError> {
    let label = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| CaptureError::Io {
        path: label.clone(),
        source,
    })?;
    parse_capture(&label, &text)
}

/// Bytes as standard base64 text, as Go encodes `[]byte` (and as captures store bodies).
pub mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `bytes` as base64.
    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    /// Reads base64 (or `null`, as empty).
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text: Option<String> = Option::deserialize(deserializer)?;
        STANDARD
            .decode(text.unwrap_or_default())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ResponseKind;

    #[test]
    fn an_exchange_round_trips_through_its_json_line() {
        let exchange = Exchange {
            version: CAPTURE_VERSION,
            request: ClientRequest::new("POST", "/v1.41/containers/create").json(&b"{}"[..]),
            response: ClientResponse {
                status: 201,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: b"{\"Id\":\"x\"}".to_vec(),
                kind: ResponseKind::Buffered,
            },
            expect: Some(Expectation {
                status: 201,
                message: None,
            }),
        };
        let line = serde_json::to_string(&exchange).unwrap();
        let parsed = parse_capture("t", &line).unwrap();
        assert_eq!(parsed, vec![CaptureLine::Exchange(Box::new(exchange))]);
    }

    #[test]
    fn plugin_side_recordings_read_as_plugin_calls() {
        let line = r#"{"phase":"Request","message":{"RequestMethod":"GET","RequestUri":"/_ping"}}"#;
        let parsed = parse_capture("t", line).unwrap();
        assert!(
            matches!(&parsed[0], CaptureLine::PluginCall(call) if call.message.request_uri == "/_ping")
        );
    }

    #[test]
    fn an_unknown_capture_version_is_refused() {
        let line =
            r#"{"version":2,"request":{"method":"GET","target":"/"},"response":{"status":200}}"#;
        assert!(matches!(
            parse_capture("t", line),
            Err(CaptureError::Version { version: 2, .. })
        ));
    }
}
