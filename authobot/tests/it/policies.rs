//! The shipped policies: every one loads, and each does what its header promises.

use authobot::{decide, Policy};

use crate::support::{crate_path, request};

fn shipped(name: &str) -> Policy {
    let path = crate_path("policies").join(name);
    let text = std::fs::read_to_string(&path).expect("a shipped policy");
    Policy::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const RUN_IT_CREATE: &str = r#"{"AttachStdin":true,"Tty":true,"OpenStdin":true,"Cmd":["echo","hello world!"],"Image":"ubuntu","HostConfig":{"Binds":null,"NetworkMode":"default","Privileged":false,"MaskedPaths":null,"ReadonlyPaths":null}}"#;

#[test]
fn every_shipped_policy_loads() {
    let dir = crate_path("policies");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            Policy::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            count += 1;
        }
    }
    assert_eq!(count, 4);
}

#[test]
fn strict_whitelist_lets_docker_run_it_echo_through() {
    let policy = shipped("strict-whitelist.toml");
    let id = "212daf61fe5a";
    let calls = [
        request("HEAD", "/_ping", None),
        request("POST", "/v1.41/containers/create", Some(RUN_IT_CREATE)),
        request(
            "POST",
            &format!("/v1.41/containers/{id}/attach?stderr=1&stdin=1&stdout=1&stream=1"),
            None,
        ),
        request(
            "POST",
            &format!("/v1.41/containers/{id}/wait?condition=next-exit"),
            None,
        ),
        request("POST", &format!("/v1.41/containers/{id}/start"), None),
        request(
            "POST",
            &format!("/v1.41/containers/{id}/resize?h=24&w=80"),
            None,
        ),
    ];
    for call in &calls {
        let decision = decide(&policy, call);
        assert!(decision.allow, "{}: {}", call.request_uri, decision.message);
    }
}

#[test]
fn strict_whitelist_refuses_docker_ps() {
    let decision = decide(
        &shipped("strict-whitelist.toml"),
        &request("GET", "/v1.41/containers/json", None),
    );
    assert!(!decision.allow);
    assert_eq!(decision.rule, "default");
}

#[test]
fn strict_whitelist_still_refuses_a_privileged_run() {
    let body = RUN_IT_CREATE.replace(r#""Privileged":false"#, r#""Privileged":true"#);
    let decision = decide(
        &shipped("strict-whitelist.toml"),
        &request("POST", "/v1.41/containers/create", Some(&body)),
    );
    assert_eq!(decision.rule, "no-privileged");
}

#[test]
fn ci_runner_allows_a_writable_bind_of_its_workspace() {
    let body = r#"{"Image":"rust","HostConfig":{"Binds":["/srv/ci/workspace/job-42:/work"]}}"#;
    let decision = decide(
        &shipped("ci-runner.toml"),
        &request("POST", "/v1.41/containers/create", Some(body)),
    );
    assert!(decision.allow, "{}", decision.message);
}

#[test]
fn ci_runner_refuses_binding_the_docker_socket() {
    let body =
        r#"{"Image":"rust","HostConfig":{"Binds":["/var/run/docker.sock:/var/run/docker.sock"]}}"#;
    let decision = decide(
        &shipped("ci-runner.toml"),
        &request("POST", "/v1.41/containers/create", Some(body)),
    );
    assert_eq!(decision.rule, "no-host-binds");
}

#[test]
fn read_only_monitor_lists_containers() {
    let decision = decide(
        &shipped("read-only-monitor.toml"),
        &request("GET", "/v1.41/containers/json?all=1", None),
    );
    assert!(decision.allow, "{}", decision.message);
}

#[test]
fn read_only_monitor_refuses_creating_a_container() {
    let decision = decide(
        &shipped("read-only-monitor.toml"),
        &request("POST", "/v1.41/containers/create", Some(RUN_IT_CREATE)),
    );
    assert!(!decision.allow);
}

#[test]
fn read_only_monitor_refuses_exporting_a_container_filesystem() {
    let decision = decide(
        &shipped("read-only-monitor.toml"),
        &request("GET", "/v1.41/containers/web/export", None),
    );
    assert!(!decision.allow);
}
