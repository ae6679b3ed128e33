//! `fake-dockerd serve --upstream` in front of a throwaway real dockerd: the docker CLI's
//! streaming and hijacked calls work end to end through the authz chain.

use protocol::Phase;

use crate::serve_harness::{ok_stdout, real_dockerd, FakeDockerd, RealDockerd, RunningPlugin};

fn proxy(daemon: &RealDockerd) -> (tempfile::TempDir, RunningPlugin, FakeDockerd) {
    let dir = tempfile::tempdir().unwrap();
    let plugin = RunningPlugin::start(dir.path(), "upauthz", None);
    let upstream = format!("unix://{}", daemon.socket.display());
    let fake = FakeDockerd::serve(dir.path(), "upauthz", &["--upstream", &upstream]);
    (dir, plugin, fake)
}

#[test]
fn docker_run_rm_echo_prints_through_the_proxy() {
    let Some(daemon) = real_dockerd() else { return };
    let (_dir, plugin, fake) = proxy(daemon);
    let out = fake.docker(&["run", "--rm", daemon.image, "echo", "hi"]);
    assert_eq!(ok_stdout(&out, "docker run --rm"), "hi\n");
    let requests = plugin.uris(Phase::Request);
    assert!(
        requests.iter().any(|u| u.contains("/attach")),
        "{requests:?}"
    );
}

#[test]
fn docker_exec_prints_through_the_proxy() {
    let Some(daemon) = real_dockerd() else { return };
    let (_dir, _plugin, fake) = proxy(daemon);
    let id = ok_stdout(
        &fake.docker(&["run", "-d", daemon.image, "sleep", "30"]),
        "docker run -d",
    );
    let id = id.trim();
    let out = fake.docker(&["exec", id, "echo", "from", "exec"]);
    let printed = ok_stdout(&out, "docker exec");
    let _ = fake.docker(&["rm", "-f", id]);
    assert_eq!(printed, "from exec\n");
}

#[test]
fn docker_logs_prints_through_the_proxy() {
    let Some(daemon) = real_dockerd() else { return };
    let (_dir, plugin, fake) = proxy(daemon);
    let id = ok_stdout(
        &fake.docker(&["run", "-d", daemon.image, "echo", "logged line"]),
        "docker run -d",
    );
    let id = id.trim();
    ok_stdout(&fake.docker(&["wait", id]), "docker wait");
    let out = fake.docker(&["logs", id]);
    let printed = ok_stdout(&out, "docker logs");
    let _ = fake.docker(&["rm", "-f", id]);
    assert_eq!(printed, "logged line\n");
    // Logs are flushed as written: the response phase sees no status and no body.
    let calls = plugin.calls.lock().unwrap();
    let logs_response = calls
        .iter()
        .find(|(phase, r)| *phase == Phase::Response && r.request_uri.contains("/logs"))
        .map(|(_, r)| r.clone())
        .expect("logs got a response phase");
    assert_eq!(logs_response.response_status_code, 0);
    assert!(logs_response.response_body.is_empty());
}

#[test]
fn a_buffered_answer_reaches_the_response_phase_whole() {
    let Some(daemon) = real_dockerd() else { return };
    let (_dir, plugin, fake) = proxy(daemon);
    ok_stdout(&fake.docker(&["ps"]), "docker ps");
    let calls = plugin.calls.lock().unwrap();
    let ps = calls
        .iter()
        .find(|(phase, r)| *phase == Phase::Response && r.request_uri.contains("/containers/json"))
        .map(|(_, r)| r.clone())
        .expect("ps got a response phase");
    assert_eq!(ps.response_status_code, 200);
    assert!(ps.response_body.starts_with(b"["), "{:?}", ps.response_body);
}
