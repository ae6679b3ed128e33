//! The record survives the plugin: `authobot serve` killed with SIGKILL right after it
//! answered, restarted on the same `--state-dir`, still knows every owner.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::support::{assert_refused, default_policy_with_admin, TlsDaemon};

/// An `authobot serve` child, SIGKILLed when dropped.
struct Served(Child);

impl Served {
    fn start(dir: &Path, fsync_interval_ms: &str) -> Served {
        let socket = socket(dir);
        let _ = std::fs::remove_file(&socket);
        let child = Command::new(assert_cmd::cargo::cargo_bin("authobot"))
            .arg("serve")
            .arg("--socket")
            .arg(&socket)
            .arg("--policy")
            .arg(dir.join("policy.toml"))
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--audit-log")
            .arg(dir.join("audit.log"))
            .args(["--fsync-interval-ms", fsync_interval_ms])
            .stderr(Stdio::null())
            .spawn()
            .expect("authobot serve starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "authobot serve never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        Served(child)
    }

    fn kill_9(mut self) {
        let pid = Pid::from_raw(i32::try_from(self.0.id()).unwrap());
        kill(pid, Signal::SIGKILL).unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn socket(dir: &Path) -> PathBuf {
    dir.join("authobot.sock")
}

fn bob_alice_and_carol_on_web(daemon: &TlsDaemon) {
    for (user, allowed) in [("bob", false), ("alice", true), ("carol", true)] {
        for (method, target, body) in [
            (
                "POST",
                "/v1.41/containers/web/exec",
                Some(r#"{"Cmd":["sh"]}"#),
            ),
            (
                "POST",
                "/v1.41/containers/web/attach?stream=1&stdout=1",
                None,
            ),
            ("GET", "/v1.41/containers/web/logs?stdout=1", None),
            ("GET", "/v1.41/containers/web/archive?path=%2Fetc", None),
            ("POST", "/v1.41/commit?container=web&repo=x", None),
        ] {
            let result = match body {
                Some(body) => daemon.touch_json(user, method, target, body),
                None => daemon.touch(user, method, target),
            };
            if allowed {
                result.unwrap_or_else(|d| panic!("{user} {method} {target}: {}", d.message));
            } else {
                assert_refused(result, &["user \"alice\""]);
            }
        }
    }
    if let Err(d) = daemon.remove("bob", "web") {
        assert!(d.message.contains("user \"alice\""));
    } else {
        panic!("bob removed alice's container");
    }
}

#[test]
fn ownership_survives_a_kill_9_and_restart_of_the_plugin() {
    survives_a_kill_9_with_fsync_interval("100");
}

#[test]
fn ownership_survives_a_kill_9_with_an_fsync_before_every_answer() {
    survives_a_kill_9_with_fsync_interval("0");
}

fn survives_a_kill_9_with_fsync_interval(fsync_interval_ms: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.toml"), default_policy_with_admin()).unwrap();

    let first = Served::start(dir.path(), fsync_interval_ms);
    let daemon = TlsDaemon::over_socket(&socket(dir.path()));
    daemon.create("alice", "web").expect("alice creates web");
    bob_alice_and_carol_on_web(&daemon);
    first.kill_9();
    drop(daemon);

    let _second = Served::start(dir.path(), fsync_interval_ms);
    let daemon = TlsDaemon::over_socket(&socket(dir.path()));
    bob_alice_and_carol_on_web(&daemon);
    daemon.remove("alice", "web").expect("alice removes web");
    assert_refused(
        daemon.touch("alice", "GET", "/v1.41/containers/web/json"),
        &["rule: ownership-unknown"],
    );
}
