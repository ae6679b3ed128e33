//! An allow-all authz plugin that writes down every call a daemon makes to it.
//!
//! Pointed at by a real dockerd (`--authorization-plugin`), it yields the ground truth the
//! profiles and the replay tests are checked against: one JSON line per plugin call, the
//! phase and the complete message as the daemon sent it.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

use protocol::{AuthzPlugin, AuthzReply, AuthzRequest, Phase};
use serde::{Deserialize, Serialize};

/// One line of a plugin-side recording: which call the daemon made and what it carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginCall {
    /// `Request` for `AuthZPlugin.AuthZReq`, `Response` for `AuthZPlugin.AuthZRes`.
    pub phase: Phase,
    /// The message exactly as the daemon sent it (decoded from its JSON).
    pub message: AuthzRequest,
}

/// Reads a plugin-side recording (JSON Lines of [`PluginCall`]); blank lines are skipped.
pub fn read_plugin_calls(text: &str) -> Result<Vec<PluginCall>, serde_json::Error> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(serde_json::from_str)
        .collect()
}

/// The recording plugin: allows everything, appends each call to a file, flushed per line.
#[derive(Debug)]
pub struct RecordPlugin {
    out: Mutex<File>,
}

impl RecordPlugin {
    /// Opens (creating or appending to) the recording file.
    pub fn open(path: &Path) -> io::Result<Self> {
        let out = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(RecordPlugin {
            out: Mutex::new(out),
        })
    }

    fn record(&self, phase: Phase, message: &AuthzRequest) {
        let call = PluginCall {
            phase,
            message: message.clone(),
        };
        let mut line = match serde_json::to_vec(&call) {
            Ok(line) => line,
            Err(error) => {
                tracing::error!(%error, "cannot encode a plugin call");
                return;
            }
        };
        line.push(b'\n');
        // A poisoned lock only means another call panicked mid-write; keep recording.
        let mut out = self.out.lock().unwrap_or_else(|poison| poison.into_inner());
        if let Err(error) = out.write_all(&line).and_then(|()| out.flush()) {
            tracing::error!(%error, "cannot append to the recording");
        }
    }
}

impl AuthzPlugin for RecordPlugin {
    fn authz_request(&self, request: &AuthzRequest) -> AuthzReply {
        self.record(Phase::Request, request);
        AuthzReply::allow()
    }

    fn authz_response(&self, request: &AuthzRequest) -> AuthzReply {
        self.record(Phase::Response, request);
        AuthzReply::allow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_each_call_as_one_line_and_allows_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        let plugin = RecordPlugin::open(&path).unwrap();
        let request = AuthzRequest {
            request_method: "GET".into(),
            request_uri: "/_ping".into(),
            ..AuthzRequest::default()
        };
        assert!(plugin.authz_request(&request).allow);
        let response = AuthzRequest {
            response_status_code: 200,
            ..request.clone()
        };
        assert!(plugin.authz_response(&response).allow);

        let calls = read_plugin_calls(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            calls,
            vec![
                PluginCall {
                    phase: Phase::Request,
                    message: request
                },
                PluginCall {
                    phase: Phase::Response,
                    message: response
                },
            ]
        );
    }
}
