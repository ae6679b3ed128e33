//! The `record-plugin` and `replay` commands end to end: replay drives a recording plugin over
//! its socket, and what the plugin recorded is what the real 20.10 daemon sent.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt;
use fake_dockerd::fidelity::compare_plugin_calls;
use fake_dockerd::record_plugin::read_plugin_calls;

fn fidelity(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../captures/fidelity")
        .join(name)
}

/// A `fake-dockerd record-plugin` child, killed (by its own handle) when dropped.
struct Recorder {
    child: Child,
    socket: PathBuf,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Recorder {
    fn start() -> Recorder {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("recorder.sock");
        let out = dir.path().join("calls.jsonl");
        let child = Command::cargo_bin("fake-dockerd")
            .unwrap()
            .args(["record-plugin", "--socket"])
            .arg(&socket)
            .arg("--out")
            .arg(&out)
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if socket.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(socket.exists(), "record-plugin did not listen");
        Recorder {
            child,
            socket,
            out,
            _dir: dir,
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn replay(recorder: &Recorder, extra: &[&str], captures: &[PathBuf]) -> std::process::Output {
    Command::cargo_bin("fake-dockerd")
        .unwrap()
        .arg("replay")
        .args(captures)
        .arg("--plugin-socket")
        .arg(&recorder.socket)
        .args(["--profile", "moby-20.10"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn replay_through_record_plugin_reproduces_the_real_daemons_messages() {
    let recorder = Recorder::start();
    let names = [
        "create-chunked",
        "create-over-1mib",
        "headers-flattened",
        "ping",
    ];
    let captures: Vec<PathBuf> = names
        .iter()
        .map(|n| fidelity(&format!("{n}.exchange.jsonl")))
        .collect();
    let output = replay(&recorder, &[], &captures);
    assert!(output.status.success(), "{output:?}");
    let produced = read_plugin_calls(&std::fs::read_to_string(&recorder.out).unwrap()).unwrap();
    let mut recorded = Vec::new();
    for name in names {
        let text = std::fs::read_to_string(fidelity(&format!("{name}.jsonl"))).unwrap();
        recorded.extend(read_plugin_calls(&text).unwrap());
    }
    assert_eq!(compare_plugin_calls(&recorded, &produced), vec![]);
}

#[test]
fn replay_exits_1_when_the_client_result_differs_from_the_expectation() {
    let recorder = Recorder::start();
    let dir = tempfile::tempdir().unwrap();
    let expect = dir.path().join("expect.jsonl");
    std::fs::write(&expect, "{\"status\":403}\n").unwrap();
    let output = replay(
        &recorder,
        &["--expect", expect.to_str().unwrap()],
        &[fidelity("create-plain.exchange.jsonl")],
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("UNEXPECTED, expected 403"), "{text}");
}

#[test]
fn replay_json_reports_what_the_plugin_was_sent_and_answered() {
    let recorder = Recorder::start();
    let output = replay(
        &recorder,
        &["--format", "json"],
        &[fidelity("create-plain.exchange.jsonl")],
    );
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["client"]["status"], 201);
    assert_eq!(report["calls"][0]["call"], "AuthZPlugin.AuthZReq");
    assert_eq!(
        report["calls"][0]["sent"]["RequestUri"],
        "/v1.41/containers/create"
    );
    assert_eq!(report["calls"][0]["status"], 200);
    assert_eq!(report["calls"][1]["call"], "AuthZPlugin.AuthZRes");
}

#[test]
fn replay_of_an_unreadable_capture_exits_2() {
    let recorder = Recorder::start();
    let output = replay(
        &recorder,
        &[],
        &[PathBuf::from("/nonexistent/capture.jsonl")],
    );
    assert_eq!(output.status.code(), Some(2));
}
