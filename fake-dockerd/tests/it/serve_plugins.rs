//! How `fake-dockerd serve` finds and activates its plugins at startup, as dockerd does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::Phase;

use crate::serve_harness::{CallLog, FakeDockerd, RunningPlugin, TestPlugin};

#[test]
fn serve_waits_with_backoff_for_a_plugin_that_appears_late() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut fake = FakeDockerd::spawn_serve(dir.path(), "late", &[], None);
    let socket = fake.socket.clone();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !socket.exists(),
        "serve must not listen before its plugin is up"
    );
    let plugin = RunningPlugin::start(dir.path(), "late", None);
    // Retries come after 1 s and then 2 s more: the plugin is found on the second retry.
    assert_eq!(fake.wait_exit(Duration::ZERO), None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        assert!(
            Instant::now() < deadline,
            "serve never came up: {}",
            fake.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(fake.log().contains("retrying in"), "{}", fake.log());
    drop(plugin);
}

#[test]
fn serve_refuses_to_start_with_a_plugin_that_does_not_implement_authz() {
    let dir = tempfile::tempdir().unwrap();
    let calls = CallLog::default();
    let _plugin = RunningPlugin::serve(
        dir.path(),
        "notauthz",
        TestPlugin {
            deny: None,
            calls: Arc::clone(&calls),
            implements: vec!["VolumeDriver".into()],
            activations: Arc::default(),
        },
    );
    let mut fake = FakeDockerd::spawn_serve(dir.path(), "notauthz", &[], None);
    let code = fake.wait_exit(Duration::from_secs(10));
    assert!(
        matches!(code, Some(c) if c != 0),
        "exit {code:?}: {}",
        fake.log()
    );
    assert!(
        fake.log()
            .contains("Plugin does not implement the requested driver"),
        "{}",
        fake.log()
    );
}

#[test]
fn serve_activates_each_plugin_once_before_its_first_call() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = RunningPlugin::start(dir.path(), "once", None);
    let fake = FakeDockerd::serve(dir.path(), "once", &[]);
    for _ in 0..2 {
        let mut stream = std::os::unix::net::UnixStream::connect(&fake.socket).unwrap();
        use std::io::{Read, Write};
        stream
            .write_all(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    assert_eq!(plugin.uris(Phase::Request), ["/_ping", "/_ping"]);
    assert_eq!(plugin.activations(), 1);
}
