//! The messages the benchmarks run on: what the docker CLI 28 sent a real dockerd 20.10 for
//! `docker run` (`captures/workflow/run.jsonl`), so every figure is about realistic input.
//! Shared by the protocol and authobot benches (`#[path]`), which cannot share a crate.

use std::path::Path;

use protocol::AuthzRequest;

/// The request-phase messages of the recorded `docker run`, in order.
pub fn recorded_requests() -> Vec<AuthzRequest> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../captures/workflow/run.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a capture line"))
        .filter(|call| call["phase"] == "Request")
        .map(|call| serde_json::from_value::<AuthzRequest>(call["message"].clone()).unwrap())
        .collect()
}

/// The first container create among them.
pub fn recorded_create() -> AuthzRequest {
    recorded_requests()
        .into_iter()
        .find(|m| m.request_uri.contains("/containers/create"))
        .expect("the capture holds a container create")
}
