//! The audit log: one JSON line per decision, and no secret ever in it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use authobot::audit::AuditLog;
use authobot::ownership::store::Store;
use authobot::plugin::Authobot;
use authobot::Policy;
use protocol::AuthzPlugin;

use crate::support::request;

/// A sink the test can read back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn plugin() -> (Authobot, Shared) {
    plugin_with(Policy::embedded_default())
}

fn plugin_with(policy: Policy) -> (Authobot, Shared) {
    let sink = Shared::default();
    let plugin = Authobot::new(policy, AuditLog::new(Box::new(sink.clone())));
    (plugin, sink)
}

fn lines(sink: &Shared) -> Vec<serde_json::Value> {
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).expect("every audit line is JSON"))
        .collect()
}

#[test]
fn writes_one_json_line_per_decision_with_route_rule_and_timing() {
    let (plugin, sink) = plugin();
    let create = request(
        "POST",
        "/v1.41/containers/create?name=web",
        Some(r#"{"Image":"busybox","HostConfig":{"Privileged":true}}"#),
    );
    plugin.authz_request(&create);
    plugin.authz_response(&request("GET", "/v1.41/containers/json", None));
    let lines = lines(&sink);
    assert_eq!(lines.len(), 2);
    let first = &lines[0];
    assert_eq!(first["phase"], "request");
    assert_eq!(first["method"], "POST");
    assert_eq!(first["route"], "/containers/create");
    assert_eq!(first["path"], "/containers/create");
    assert_eq!(first["decision"], "deny");
    assert_eq!(first["rule"], "no-privileged");
    assert!(first["micros"].is_u64());
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(lines[1]["phase"], "response");
}

#[test]
fn unroutable_call_is_audited_with_its_raw_target_up_to_the_query() {
    let (plugin, sink) = plugin();
    plugin.authz_request(&request("GET", "/v1.41/no/such/route?token=s3cret", None));
    let lines = lines(&sink);
    assert_eq!(lines[0]["route"], "");
    assert_eq!(lines[0]["path"], "/v1.41/no/such/route");
    assert_eq!(lines[0]["rule"], "route-unparseable");
}

#[test]
fn call_refused_before_routing_is_audited_with_its_route() {
    let (plugin, sink) = plugin_with(Policy::parse("default = \"deny\"\n").unwrap());
    let target = "/v1.41/containers/web%2Dapp/json";
    plugin.authz_request(&request("GET", target, None));
    let lines = lines(&sink);
    assert_eq!(lines[0]["rule"], "no-profile");
    assert_eq!(
        lines[0]["route"],
        protocol::route::parse("GET", target).unwrap().template
    );
    assert_eq!(lines[0]["path"], "/containers/web-app/json");
}

#[test]
fn responses_are_audited_with_their_route_whether_or_not_they_teach() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Shared::default();
    let plugin = Authobot::with_store(
        Policy::embedded_default(),
        AuditLog::new(Box::new(sink.clone())),
        Store::open(dir.path()).unwrap(),
    );
    let mut created = request("POST", "/v1.41/containers/create?name=web", None);
    created.response_status_code = 201;
    created.response_body = br#"{"Id":"c0ffee","Warnings":[]}"#.to_vec();
    let mut started = request("POST", "/v1.41/containers/web%2Dapp/start", None);
    started.response_status_code = 204;
    let mut unroutable = request("GET", "/v1.41/no/such/route?token=s3cret", None);
    unroutable.response_status_code = 404;
    for answer in [&created, &started, &unroutable] {
        assert!(plugin.authz_response(answer).allow);
    }
    let routes: Vec<(String, String)> = lines(&sink)
        .iter()
        .map(|l| {
            (
                l["route"].as_str().unwrap().into(),
                l["path"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected = [
        ("/containers/create", "/containers/create"),
        ("/containers/{name}/start", "/containers/web-app/start"),
        ("", "/v1.41/no/such/route"),
    ];
    assert_eq!(routes, expected.map(|(r, p)| (r.to_owned(), p.to_owned())));
}

#[test]
fn user_names_are_escaped_into_valid_json_lines() {
    let (plugin, sink) = plugin();
    let mut call = request("GET", "/_ping", None);
    call.user = "eve\"\n{\"decision\":\"allow\"}".into();
    plugin.authz_request(&call);
    let lines = lines(&sink);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["user"], "eve\"\n{\"decision\":\"allow\"}");
}

#[test]
fn registry_password_of_a_login_never_reaches_the_audit_log() {
    let (plugin, sink) = plugin();
    let mut login = request(
        "POST",
        "/v1.41/auth",
        Some(
            r#"{"username":"alice","password":"hunter2-s3cret","serveraddress":"registry.example"}"#,
        ),
    );
    login.request_headers.insert(
        "X-Registry-Auth".into(),
        "eyJwYXNzd29yZCI6InRva2VuLXMzY3JldCJ9".into(),
    );
    plugin.authz_request(&login);
    plugin.authz_response(&login);
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text.lines().count(), 2);
    for secret in [
        "hunter2-s3cret",
        "eyJwYXNzd29yZCI6InRva2VuLXMzY3JldCJ9",
        "alice",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[test]
fn build_args_in_the_query_never_reach_the_audit_log() {
    let (plugin, sink) = plugin();
    plugin.authz_request(&request(
        "POST",
        "/v1.41/build?buildargs=%7B%22NPM_TOKEN%22%3A%22npm-s3cret%22%7D&t=app",
        None,
    ));
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(
        !text.contains("npm-s3cret") && !text.contains("NPM_TOKEN"),
        "{text}"
    );
}

#[test]
fn environment_values_of_an_exec_never_reach_the_decision_or_the_log() {
    let (plugin, sink) = plugin();
    let exec = request(
        "POST",
        "/v1.41/containers/web/exec",
        Some(r#"{"Cmd":["sh"],"Env":["DB_PASSWORD=pg-s3cret"],"Privileged":true}"#),
    );
    let reply = plugin.authz_request(&exec);
    let decision = authobot::decide(&Policy::embedded_default(), &exec);
    let explained = authobot::explain::to_json(&decision);
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    for output in [&reply.msg, &explained, &text] {
        assert!(!output.contains("pg-s3cret"), "{output}");
    }
}
