//! Shared helpers: building AuthZReq messages and reading the data tables.

use std::path::PathBuf;

use protocol::AuthzRequest;
use serde::Deserialize;

/// A path under `authobot/`.
pub fn crate_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The `authobot` binary, ready to be given arguments.
pub fn authobot() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("authobot").expect("the authobot binary is built")
}

/// Runs `authobot check --policy FILE` on `text`, written to a file named `file_name`.
pub fn check_policy_text(file_name: &str, text: &str) -> assert_cmd::assert::Assert {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file_name);
    std::fs::write(&path, text).unwrap();
    authobot().args(["check", "--policy"]).arg(&path).assert()
}

/// A request as the docker CLI would send it over the unix socket.
pub fn request(method: &str, uri: &str, body: Option<&str>) -> AuthzRequest {
    let mut request = AuthzRequest {
        request_method: method.to_owned(),
        request_uri: uri.to_owned(),
        ..AuthzRequest::default()
    };
    if let Some(body) = body {
        request.request_body = body.as_bytes().to_vec();
        request
            .request_headers
            .insert("Content-Type".into(), "application/json".into());
        request
            .request_headers
            .insert("Content-Length".into(), body.len().to_string());
    }
    request
}

/// One row of `tests/data/hostile.jsonl`.
#[derive(Debug, Deserialize)]
pub struct HostileCase {
    /// What the row tries.
    pub case: String,
    /// The rule the default policy must deny it by.
    pub rule: String,
    /// The full AuthZReq message.
    pub message: AuthzRequest,
}

/// Every row of the hostile table.
pub fn hostile_cases() -> Vec<HostileCase> {
    let text = std::fs::read_to_string(crate_path("tests/data/hostile.jsonl"))
        .expect("tests/data/hostile.jsonl is readable");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("hostile.jsonl line {}: {e}", i + 1))
        })
        .collect()
}
