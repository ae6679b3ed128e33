//! The `authobot` command line: check, explain, rules, and serve with a SIGHUP reload.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use predicates::prelude::*;

use crate::support::{authobot, check_policy_text, crate_path};

const PRIVILEGED_CREATE: &str = r#"{"RequestMethod":"POST","RequestUri":"/v1.41/containers/create","RequestBody":"eyJJbWFnZSI6ImJ1c3lib3giLCJIb3N0Q29uZmlnIjp7IlByaXZpbGVnZWQiOnRydWV9fQ==","RequestHeaders":{"Content-Type":"application/json"}}"#;

#[test]
fn check_accepts_every_shipped_policy() {
    for name in [
        "default",
        "strict-whitelist",
        "ci-runner",
        "read-only-monitor",
    ] {
        authobot()
            .args(["check", "--policy"])
            .arg(crate_path(&format!("policies/{name}.toml")))
            .assert()
            .success()
            .stdout(predicate::str::contains("valid policy"));
    }
}

#[test]
fn check_reports_problems_with_file_and_line_and_exits_1() {
    check_policy_text(
        "bad.toml",
        "default = \"deny\"\nanonymous = \"ghost\"\n\n[profiles.p]\nroutes = [{ name = \"r\", decision = \"allow\", match = [\"GET containers\"] }]\n",
    )
    .code(1)
        .stderr(predicate::str::contains(
            "bad.toml:2: `anonymous` names profile \"ghost\"",
        ))
        .stderr(predicate::str::contains(
            "bad.toml:5: route pattern \"GET containers\"",
        ));
}

#[test]
fn check_of_a_missing_file_is_an_error_exit_2() {
    authobot()
        .args(["check", "--policy", "/nonexistent/policy.toml"])
        .assert()
        .code(2);
}

#[test]
fn explain_reads_stdin_and_exits_1_on_a_deny() {
    let output = authobot()
        .arg("explain")
        .write_stdin(PRIVILEGED_CREATE)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    insta::assert_snapshot!(String::from_utf8(output).unwrap());
}

#[test]
fn explain_json_from_a_file_is_machine_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ping.json");
    std::fs::write(&path, r#"{"RequestMethod":"HEAD","RequestUri":"/_ping"}"#).unwrap();
    let output = authobot()
        .args(["explain", "--format", "json"])
        .arg(&path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let decision: serde_json::Value = serde_json::from_slice(&output).unwrap();
    assert_eq!(decision["allow"], true);
    assert_eq!(decision["rule"], "system");
}

#[test]
fn explain_of_something_that_is_not_a_message_exits_2() {
    authobot()
        .arg("explain")
        .write_stdin("not json")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not an AuthZReq message"));
}

#[test]
fn rules_lists_every_built_in_rule() {
    let assert = authobot().arg("rules").assert().success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    for rule in authobot::rules::RULES {
        assert!(stdout.contains(rule.id), "{} missing", rule.id);
    }
}

/// One plugin call over the socket, as the daemon makes it; returns the reply's JSON.
pub(crate) fn call(socket: &Path, message: &str) -> serde_json::Value {
    let mut stream = UnixStream::connect(socket).expect("the plugin socket accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: plugin\r\nAccept: application/vnd.docker.plugins.v1.2+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{message}",
        message.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .expect("an HTTP response");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("reply {body:?}: {e}"))
}

pub(crate) fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const PS: &str = r#"{"RequestMethod":"GET","RequestUri":"/v1.41/containers/json"}"#;

#[test]
fn serve_reloads_a_valid_policy_on_sighup_and_keeps_the_old_one_when_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("authobot.sock");
    let policy = dir.path().join("policy.toml");
    let audit = dir.path().join("audit.jsonl");
    std::fs::copy(crate_path("policies/strict-whitelist.toml"), &policy).unwrap();
    let mut server = Server(
        Command::cargo_bin("authobot")
            .expect("the authobot binary is built")
            .args(["serve", "--socket"])
            .arg(&socket)
            .arg("--policy")
            .arg(&policy)
            .arg("--audit-log")
            .arg(&audit)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .stderr(Stdio::piped())
            .spawn()
            .expect("authobot serve starts"),
    );
    wait_for("the socket", || UnixStream::connect(&socket).is_ok());
    assert_eq!(call(&socket, PS)["Allow"], false);

    std::fs::copy(crate_path("policies/default.toml"), &policy).unwrap();
    let pid = Pid::from_raw(i32::try_from(server.0.id()).unwrap());
    kill(pid, Signal::SIGHUP).unwrap();
    wait_for("the reloaded policy", || call(&socket, PS)["Allow"] == true);

    std::fs::write(&policy, "default = \"allow\"\nbroken = [\n").unwrap();
    kill(pid, Signal::SIGHUP).unwrap();
    let mut stderr = server.0.stderr.take().unwrap();
    let mut logs = Vec::new();
    let mut buf = [0u8; 4096];
    wait_for("the reload error in the log", || {
        let n = stderr.read(&mut buf).unwrap_or(0);
        logs.extend_from_slice(&buf[..n]);
        String::from_utf8_lossy(&logs).contains("policy not reloaded")
    });
    assert_eq!(call(&socket, PS)["Allow"], true);

    kill(pid, Signal::SIGTERM).unwrap();
    let status = server.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let audit = std::fs::read_to_string(&audit).unwrap();
    assert!(audit.lines().count() >= 3, "{audit}");
    assert!(audit
        .lines()
        .all(|l| l.contains("\"route\":\"/containers/json\"")));
}

#[test]
fn explain_accepts_a_line_of_a_plugin_side_capture() {
    let capture = crate_path("../captures/escapes/privileged.jsonl");
    let text = std::fs::read_to_string(capture).unwrap();
    let create = text
        .lines()
        .find(|l| l.contains("\"Request\"") && l.contains("/containers/create"))
        .expect("the capture holds the create");
    authobot()
        .arg("explain")
        .write_stdin(create)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("rule:     no-privileged"));
}
