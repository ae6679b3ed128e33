//! `fake-dockerd serve` without an upstream: the real docker CLI against the in-memory
//! engine, with an authz plugin in the chain.

use protocol::Phase;

use crate::serve_harness::{docker_cli_available, ok_stdout, Deny, FakeDockerd, RunningPlugin};

/// A plugin directory, its plugin and fake-dockerd serving through it.
type Served = (tempfile::TempDir, RunningPlugin, FakeDockerd);

/// A plugin directory with plugin `testauthz` (allowing all but `deny`) and fake-dockerd
/// (profile `moby-20.10`) serving through it.
fn serve_with(deny: Option<Deny>) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let plugin = RunningPlugin::start(dir.path(), "testauthz", deny);
    let fake = FakeDockerd::serve(dir.path(), "testauthz", &["--profile", "moby-20.10"]);
    (dir, plugin, fake)
}

/// [`serve_with`] for a test that drives the docker CLI: `None` (the skip printed) where
/// there is none.
fn cli_serve_with(deny: Option<Deny>) -> Option<Served> {
    docker_cli_available().then(|| serve_with(deny))
}

#[test]
fn docker_version_shows_the_profiles_engine_and_api_version() {
    let Some((_dir, plugin, fake)) = cli_serve_with(None) else {
        return;
    };
    let out = ok_stdout(
        &fake.docker(&[
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.APIVersion}}",
        ]),
        "docker version",
    );
    assert_eq!(out.trim(), "20.10.24+dfsg1 1.41");
    assert!(plugin
        .uris(Phase::Request)
        .iter()
        .any(|u| u.ends_with("/version")));
}

#[test]
fn docker_run_d_prints_the_id_and_docker_ps_lists_the_container() {
    let Some((_dir, _plugin, fake)) = cli_serve_with(None) else {
        return;
    };
    let id = ok_stdout(
        &fake.docker(&["run", "-d", "--name", "web", "busybox", "sleep", "100"]),
        "docker run -d",
    );
    assert_eq!(id.trim().len(), 64, "{id:?}");
    let ps = ok_stdout(
        &fake.docker(&["ps", "--format", "{{.ID}} {{.Names}} {{.Command}}"]),
        "docker ps",
    );
    assert_eq!(ps.trim(), format!("{} web \"sleep 100\"", &id.trim()[..12]));
}

#[test]
fn docker_exec_prints_the_simulated_output_over_the_hijacked_stream() {
    let Some((_dir, plugin, fake)) = cli_serve_with(None) else {
        return;
    };
    ok_stdout(
        &fake.docker(&["run", "-d", "--name", "box", "busybox", "sleep", "100"]),
        "run",
    );
    let out = ok_stdout(
        &fake.docker(&["exec", "box", "echo", "hello", "exec"]),
        "docker exec",
    );
    assert_eq!(out, "hello exec\n");
    // The hijacked exec start still gets its response phase once the stream ended.
    let responses = plugin.uris(Phase::Response);
    assert!(
        responses
            .iter()
            .any(|u| u.contains("/exec/") && u.ends_with("/start")),
        "{responses:?}"
    );
}

#[test]
fn docker_exec_reports_the_simulated_exit_code() {
    let Some((_dir, _plugin, fake)) = cli_serve_with(None) else {
        return;
    };
    ok_stdout(
        &fake.docker(&["run", "-d", "--name", "box", "busybox", "sleep", "100"]),
        "run",
    );
    let failed = fake.docker(&["exec", "box", "false"]);
    assert_eq!(failed.status.code(), Some(1));
}

#[test]
fn docker_logs_shows_what_the_container_printed() {
    let Some((_dir, _plugin, fake)) = cli_serve_with(None) else {
        return;
    };
    ok_stdout(
        &fake.docker(&[
            "run", "-d", "--name", "hello", "busybox", "echo", "hi there",
        ]),
        "run",
    );
    let out = fake.docker(&["logs", "hello"]);
    assert_eq!(ok_stdout(&out, "docker logs"), "hi there\n");
}

#[test]
fn docker_stop_then_rm_removes_the_container() {
    let Some((_dir, _plugin, fake)) = cli_serve_with(None) else {
        return;
    };
    ok_stdout(
        &fake.docker(&["run", "-d", "--name", "box", "busybox", "sleep", "100"]),
        "run",
    );
    assert_eq!(
        ok_stdout(&fake.docker(&["stop", "box"]), "docker stop").trim(),
        "box"
    );
    assert_eq!(
        ok_stdout(&fake.docker(&["rm", "box"]), "docker rm").trim(),
        "box"
    );
    let ps = ok_stdout(&fake.docker(&["ps", "-a", "-q"]), "docker ps -a");
    assert_eq!(ps.trim(), "");
}

#[test]
fn docker_rm_f_removes_a_running_container() {
    let Some((_dir, _plugin, fake)) = cli_serve_with(None) else {
        return;
    };
    ok_stdout(
        &fake.docker(&["run", "-d", "--name", "box", "busybox", "sleep", "100"]),
        "run",
    );
    assert_eq!(
        ok_stdout(&fake.docker(&["rm", "-f", "box"]), "docker rm -f").trim(),
        "box"
    );
    assert_eq!(
        ok_stdout(&fake.docker(&["ps", "-a", "-q"]), "docker ps -a").trim(),
        ""
    );
}

#[test]
fn a_denying_plugin_reaches_the_cli_as_authorization_denied_by_plugin_name() {
    let Some((_dir, plugin, fake)) =
        cli_serve_with(Deny::request("/containers/create", "no containers for you"))
    else {
        return;
    };
    let out = fake.docker(&["run", "-d", "busybox", "sleep", "1"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("authorization denied by plugin testauthz: no containers for you"),
        "{stderr}"
    );
    // A request-phase deny means no plugin is asked about the response.
    assert!(!plugin
        .uris(Phase::Response)
        .iter()
        .any(|u| u.contains("/containers/create")));
}

#[test]
fn the_plugin_sees_every_call_of_docker_run_d_in_both_phases() {
    let Some((_dir, plugin, fake)) = cli_serve_with(None) else {
        return;
    };
    ok_stdout(
        &fake.docker(&["run", "-d", "--name", "seen", "busybox", "sleep", "1"]),
        "run",
    );
    let requests = plugin.uris(Phase::Request);
    let create = requests
        .iter()
        .position(|u| u.contains("/containers/create?name=seen"))
        .expect("create reached the plugin");
    let start = requests
        .iter()
        .position(|u| u.ends_with("/containers/seen/start") || u.contains("/start"))
        .expect("start reached the plugin");
    assert!(create < start, "{requests:?}");
    let calls = plugin.calls.lock().unwrap();
    let create_response = calls
        .iter()
        .find(|(phase, r)| {
            *phase == Phase::Response && r.request_uri.contains("/containers/create")
        })
        .map(|(_, r)| r.clone())
        .expect("create got a response phase");
    assert_eq!(create_response.response_status_code, 201);
    assert!(String::from_utf8_lossy(&create_response.response_body).contains("\"Id\""));
}

#[test]
fn an_unknown_route_is_answered_404_without_asking_the_plugin() {
    use std::io::{Read, Write};
    let (_dir, plugin, fake) = serve_with(None);
    let mut stream = std::os::unix::net::UnixStream::connect(&fake.socket).unwrap();
    stream
        .write_all(b"GET /v1.41/no/such/route HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(
        answer.ends_with("{\"message\":\"page not found\"}\n"),
        "{answer}"
    );
    assert!(plugin.uris(Phase::Request).is_empty());
}

#[test]
fn a_response_phase_deny_replaces_a_buffered_answer_with_the_denial() {
    let Some((_dir, _plugin, fake)) =
        cli_serve_with(Deny::response("/containers/json", "listing hidden"))
    else {
        return;
    };
    let out = fake.docker(&["ps"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("authorization denied by plugin testauthz: listing hidden"),
        "{stderr}"
    );
}

#[test]
fn a_response_phase_deny_after_a_hijacked_exec_changes_nothing() {
    let Some((_dir, _plugin, fake)) = cli_serve_with(Deny::response("/start", "too late")) else {
        return;
    };
    // The deny on the container start replaces its buffered 204 with the denial ...
    let run = fake.docker(&["run", "-d", "--name", "box", "busybox", "sleep", "100"]);
    assert!(String::from_utf8_lossy(&run.stderr).contains("too late"));
    // ... but the container started anyway (side effects stay), and the exec stream,
    // hijacked before AuthZRes, reaches the client whole.
    let out = fake.docker(&["exec", "box", "echo", "still", "here"]);
    assert_eq!(ok_stdout(&out, "docker exec"), "still here\n");
}

/// [`serve_with_authobot`] for a test that drives the docker CLI: `None` (the skip printed)
/// where there is none.
fn cli_serve_with_authobot() -> Option<Served> {
    docker_cli_available().then(serve_with_authobot)
}

/// fake-dockerd serving through authobot with its embedded default policy.
fn serve_with_authobot() -> Served {
    use authobot::audit::AuditLog;
    use authobot::plugin::Authobot;
    use authobot::Policy;
    let dir = tempfile::tempdir().unwrap();
    let plugin = RunningPlugin::serve_any(
        dir.path(),
        "authobot",
        std::sync::Arc::new(Authobot::new(
            Policy::embedded_default(),
            AuditLog::new(Box::new(std::io::sink())),
        )),
    );
    let fake = FakeDockerd::serve(dir.path(), "authobot", &[]);
    (dir, plugin, fake)
}

#[test]
fn authobot_lets_the_everyday_cli_commands_through() {
    let Some((_dir, _plugin, fake)) = cli_serve_with_authobot() else {
        return;
    };
    ok_stdout(&fake.docker(&["version"]), "docker version");
    ok_stdout(
        &fake.docker(&["run", "-d", "--name", "app", "busybox", "sleep", "100"]),
        "docker run -d",
    );
    assert!(ok_stdout(&fake.docker(&["ps"]), "docker ps").contains("app"));
    assert_eq!(
        ok_stdout(&fake.docker(&["exec", "app", "echo", "ok"]), "docker exec"),
        "ok\n"
    );
    ok_stdout(&fake.docker(&["logs", "app"]), "docker logs");
    ok_stdout(&fake.docker(&["stop", "app"]), "docker stop");
    assert_eq!(
        ok_stdout(&fake.docker(&["rm", "-f", "app"]), "docker rm -f").trim(),
        "app"
    );
}

#[test]
fn authobot_denies_a_privileged_run_with_its_reason() {
    let Some((_dir, _plugin, fake)) = cli_serve_with_authobot() else {
        return;
    };
    let out = fake.docker(&["run", "-d", "--privileged", "busybox", "sleep", "1"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("authorization denied by plugin authobot: "),
        "{stderr}"
    );
    assert!(stderr.to_lowercase().contains("privileged"), "{stderr}");
    let ps = ok_stdout(&fake.docker(&["ps", "-a", "-q"]), "docker ps -a");
    assert_eq!(ps.trim(), "", "the denied container must not exist");
}

#[test]
fn docker_run_rm_prints_the_output_and_removes_the_container() {
    let Some((_dir, _plugin, fake)) = cli_serve_with(None) else {
        return;
    };
    let out = fake.docker(&["run", "--rm", "busybox", "echo", "attached", "run"]);
    assert_eq!(ok_stdout(&out, "docker run --rm"), "attached run\n");
    assert_eq!(
        ok_stdout(&fake.docker(&["ps", "-a", "-q"]), "docker ps -a").trim(),
        ""
    );
}

#[test]
fn docker_run_exits_with_the_simulated_exit_code() {
    let Some((_dir, _plugin, fake)) = cli_serve_with(None) else {
        return;
    };
    let out = fake.docker(&["run", "busybox", "false"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[test]
fn no_log_level_shows_a_query_a_body_or_what_a_plugin_said() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let _plugin = RunningPlugin::start(
        dir.path(),
        "testauthz",
        Deny::request(
            "/containers/create",
            "Env entry s3cret-message is not allowed",
        ),
    );
    let fake = FakeDockerd::serve_logging(
        dir.path(),
        "testauthz",
        &["--profile", "moby-20.10"],
        "trace",
    );
    let body = r#"{"Image":"busybox","Env":["TOKEN=s3cret-body"]}"#;
    let mut stream = std::os::unix::net::UnixStream::connect(&fake.socket).unwrap();
    write!(
        stream,
        "POST /v1.41/containers/create?name=s3cret-query HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nX-Registry-Auth: s3cret-header\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    let log = fake.log();
    assert!(log.contains("denied by a plugin"), "{log}");
    assert!(log.contains("/containers/create"), "{log}");
    assert!(!log.contains("s3cret"), "{log}");
}
