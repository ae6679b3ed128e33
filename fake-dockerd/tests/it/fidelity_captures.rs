//! The `moby-20.10` profile against the real daemon: for every capture that has a client side
//! (`NAME.exchange.jsonl`) next to its plugin side (`NAME.jsonl`) — the crafted requests of
//! `captures/fidelity/` and the CLI workflow and escapes of `captures/client/` — the profile
//! must send exactly what the real dockerd 20.10 sent, and the client must see what it saw.

use std::path::{Path, PathBuf};

use fake_dockerd::capture::{handler_result, read_capture, CaptureLine};
use fake_dockerd::fidelity::{
    allow_all_plugin_calls, compare_client_results, compare_plugin_calls, in_canonical_order,
};
use fake_dockerd::record_plugin::read_plugin_calls;
use fake_dockerd::{Profile, ProfileName};

fn exchange_captures(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../captures")
        .join(dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".exchange.jsonl"))
        .collect();
    files.sort();
    files
}

/// Every mismatch between the profile's run of the exchanges and the real recording.
fn mismatches(path: &Path) -> Vec<String> {
    let profile = Profile::get(ProfileName::Moby2010);
    let name = path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace(".exchange.jsonl", "");
    let recorded_path = path.with_file_name(format!("{name}.jsonl"));
    let recorded = read_plugin_calls(&std::fs::read_to_string(&recorded_path).unwrap()).unwrap();
    let mut produced = Vec::new();
    let mut failures = Vec::new();
    for (index, line) in read_capture(path).unwrap().iter().enumerate() {
        let CaptureLine::Exchange(exchange) = line else {
            panic!("{name}: a client-side capture holds exchanges only");
        };
        let (calls, client) = allow_all_plugin_calls(&profile, exchange);
        produced.extend(calls);
        if let Some(m) = compare_client_results(index, &handler_result(&exchange.response), &client)
        {
            failures.push(format!("{name}: {m:?}"));
        }
    }
    let compared = compare_plugin_calls(
        &in_canonical_order(&recorded),
        &in_canonical_order(&produced),
    );
    failures.extend(compared.into_iter().map(|m| format!("{name}: {m:?}")));
    failures
}

#[test]
fn moby_20_10_profile_sends_what_the_real_daemon_sent_for_every_crafted_request() {
    let exchanges = exchange_captures("fidelity");
    assert!(exchanges.len() >= 20, "expected the crafted captures");
    let failures: Vec<String> = exchanges.iter().flat_map(|p| mismatches(p)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn moby_20_10_profile_sends_what_the_real_daemon_sent_for_the_cli_workflow() {
    let exchanges = exchange_captures("client/workflow");
    assert!(exchanges.len() >= 30, "expected the workflow captures");
    let failures: Vec<String> = exchanges.iter().flat_map(|p| mismatches(p)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn moby_20_10_profile_sends_what_the_real_daemon_sent_for_the_escape_attempts() {
    let exchanges = exchange_captures("client/escapes");
    assert!(exchanges.len() >= 20, "expected the escape captures");
    let failures: Vec<String> = exchanges.iter().flat_map(|p| mismatches(p)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
