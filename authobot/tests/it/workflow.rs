//! The ordinary docker CLI workflow as a real dockerd 20.10 forwarded it to a plugin
//! (`captures/workflow/`, recorded with `fake-dockerd record-plugin`): the default policy
//! allows every call. The recorded escapes (`captures/escapes/`) are each refused.

use std::path::{Path, PathBuf};

use authobot::{decide, Policy};
use protocol::{AuthzRequest, Phase};
use serde::Deserialize;

/// One line of a plugin-side recording.
#[derive(Debug, Deserialize)]
struct PluginCall {
    phase: Phase,
    message: AuthzRequest,
}

fn captures(dir: &str) -> Vec<(PathBuf, Vec<AuthzRequest>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../captures")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", root.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "jsonl")
                && !p.to_string_lossy().ends_with(".exchange.jsonl")
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("a readable capture");
            let requests = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str::<PluginCall>(l).expect("a plugin call line"))
                .filter(|call| call.phase == Phase::Request)
                .map(|call| call.message)
                .collect();
            (path, requests)
        })
        .collect()
}

#[test]
fn default_policy_allows_every_call_of_the_recorded_cli_workflow() {
    let policy = Policy::embedded_default();
    let recorded = captures("workflow");
    assert!(recorded.len() >= 20, "the workflow captures are missing");
    let mut refused = Vec::new();
    for (path, requests) in &recorded {
        for request in requests {
            let decision = decide(&policy, request);
            if !decision.allow {
                refused.push(format!(
                    "{}: {} {}: {}",
                    path.file_name().unwrap().to_string_lossy(),
                    request.request_method,
                    request.request_uri,
                    decision.message
                ));
            }
        }
    }
    assert!(refused.is_empty(), "{}", refused.join("\n"));
}

#[test]
fn default_policy_refuses_a_call_in_every_recorded_escape() {
    let policy = Policy::embedded_default();
    for (path, requests) in captures("escapes") {
        assert!(
            requests.iter().any(|r| !decide(&policy, r).allow),
            "{}: every call was allowed",
            path.display()
        );
    }
}
