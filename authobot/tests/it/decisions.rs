//! Decisions one behaviour at a time: allow-lists, disabled rules, plugin bodies, callers,
//! and insta snapshots of whole decisions and of `explain` output.

use authobot::explain;
use authobot::response::decide_response;
use authobot::{decide, Policy};
use protocol::AuthzRequest;

use crate::support::request;

const CREATE: &str = "/v1.41/containers/create";

fn policy_with_escapes(escapes: &str) -> Policy {
    let text = format!(
        "default = \"allow\"\nanonymous = \"p\"\n[profiles.p]\n[profiles.p.escapes]\n{escapes}\n"
    );
    Policy::parse(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn create(host_config: &str) -> AuthzRequest {
    request(
        "POST",
        CREATE,
        Some(&format!(
            r#"{{"Image":"busybox","HostConfig":{host_config}}}"#
        )),
    )
}

#[test]
fn allows_a_read_only_bind_under_an_allowed_prefix() {
    let policy = policy_with_escapes(r#"bind_prefixes = ["/srv/data"]"#);
    let decision = decide(&policy, &create(r#"{"Binds":["/srv/data/set1:/data:ro"]}"#));
    assert!(decision.allow, "{}", decision.message);
}

#[test]
fn denies_a_writable_bind_under_an_allowed_prefix_without_bind_read_write() {
    let policy = policy_with_escapes(r#"bind_prefixes = ["/srv/data"]"#);
    let decision = decide(&policy, &create(r#"{"Binds":["/srv/data/set1:/data"]}"#));
    assert_eq!(decision.rule, "no-host-binds");
    assert!(
        decision.message.contains("read-only"),
        "{}",
        decision.message
    );
}

#[test]
fn bind_prefix_does_not_cover_a_sibling_with_the_same_start() {
    let policy = policy_with_escapes(r#"bind_prefixes = ["/srv/data"]"#);
    let decision = decide(&policy, &create(r#"{"Binds":["/srv/database:/db:ro"]}"#));
    assert_eq!(decision.rule, "no-host-binds");
}

#[test]
fn bind_escaping_an_allowed_prefix_with_dot_dot_is_denied() {
    let policy = policy_with_escapes(r#"bind_prefixes = ["/srv/data"]"#);
    let decision = decide(
        &policy,
        &create(r#"{"Binds":["/srv/data/../../etc:/e:ro"]}"#),
    );
    assert_eq!(decision.rule, "no-host-binds");
}

#[test]
fn allows_a_listed_capability_spelled_any_way_the_daemon_accepts() {
    let policy = policy_with_escapes(r#"capabilities = ["NET_ADMIN"]"#);
    let decision = decide(&policy, &create(r#"{"CapAdd":"cap_net_admin"}"#));
    assert!(decision.allow, "{}", decision.message);
}

#[test]
fn allows_a_listed_device() {
    let policy = policy_with_escapes(r#"devices = ["/dev/fuse"]"#);
    let decision = decide(
        &policy,
        &create(
            r#"{"Devices":[{"PathOnHost":"/dev/fuse","PathInContainer":"/dev/fuse","CgroupPermissions":"rwm"}]}"#,
        ),
    );
    assert!(decision.allow, "{}", decision.message);
}

#[test]
fn allows_a_listed_security_option() {
    let policy = policy_with_escapes(r#"security_opts = ["apparmor=my-profile"]"#);
    let decision = decide(
        &policy,
        &create(r#"{"SecurityOpt":["apparmor=my-profile"]}"#),
    );
    assert!(decision.allow, "{}", decision.message);
}

#[test]
fn allows_no_new_privileges_which_only_tightens() {
    let policy = policy_with_escapes("");
    let decision = decide(&policy, &create(r#"{"SecurityOpt":["no-new-privileges"]}"#));
    assert!(decision.allow, "{}", decision.message);
}

#[test]
fn a_disabled_rule_is_skipped_while_the_others_still_apply() {
    let policy = policy_with_escapes(r#"disable = ["no-privileged"]"#);
    assert!(decide(&policy, &create(r#"{"Privileged":true}"#)).allow);
    let decision = decide(&policy, &create(r#"{"Privileged":true,"PidMode":"host"}"#));
    assert_eq!(decision.rule, "no-host-namespaces");
}

#[test]
fn denies_plugin_pull_granting_a_host_mount_when_the_route_is_allowed() {
    let policy = policy_with_escapes("");
    let decision = decide(
        &policy,
        &request(
            "POST",
            "/v1.41/plugins/pull?remote=vieux/sshfs",
            Some(r#"[{"Name":"mount","Description":"","Value":["/var/lib/docker/plugins/"]}]"#),
        ),
    );
    assert_eq!(decision.rule, "no-plugin-privileges");
}

#[test]
fn allows_plugin_pull_of_listed_privileges() {
    let policy = policy_with_escapes(r#"plugin_privileges = ["network"]"#);
    let decision = decide(
        &policy,
        &request(
            "POST",
            "/v1.41/plugins/pull?remote=x",
            Some(r#"[{"Name":"network","Value":["bridge"]}]"#),
        ),
    );
    assert!(decision.allow, "{}", decision.message);
}

#[test]
fn denies_plugin_set_of_a_mount_source() {
    let policy = policy_with_escapes("");
    let decision = decide(
        &policy,
        &request(
            "POST",
            "/v1.41/plugins/sshfs/set",
            Some(r#"["state.source=/etc","DEBUG=1"]"#),
        ),
    );
    assert_eq!(decision.rule, "no-plugin-host-settings");
}

#[test]
fn denies_plugin_create_because_its_archive_is_never_forwarded() {
    let policy = policy_with_escapes("");
    let decision = decide(
        &policy,
        &request("POST", "/v1.41/plugins/create?name=x", None),
    );
    assert_eq!(decision.rule, "no-plugin-privileges");
}

#[test]
fn old_api_start_with_a_known_empty_body_is_allowed() {
    let policy = Policy::embedded_default();
    let mut start = request("POST", "/v1.23/containers/web/start", None);
    start
        .request_headers
        .insert("Content-Length".into(), "0".into());
    let decision = decide(&policy, &start);
    assert!(decision.allow, "{}", decision.message);
}

#[test]
fn unknown_tls_user_is_denied_when_the_policy_has_no_fallback() {
    let policy = Policy::parse(
        "default = \"allow\"\nanonymous = \"p\"\n[users]\nalice = \"p\"\n[profiles.p]\n",
    )
    .unwrap();
    let mut call = request("GET", "/v1.41/containers/json", None);
    call.user = "mallory".into();
    call.user_authn_method = "TLS".into();
    assert_eq!(decide(&policy, &call).rule, "no-profile");
    call.user = "alice".into();
    assert!(decide(&policy, &call).allow);
}

#[test]
fn first_matching_route_rule_decides() {
    let policy = Policy::parse(
        r#"default = "allow"
anonymous = "p"
[[profiles.p.routes]]
name = "no-exec"
decision = "deny"
match = ["POST /containers/{id}/exec"]
reason = "exec is off"
[[profiles.p.routes]]
name = "all"
decision = "allow"
match = ["* /**"]
"#,
    )
    .unwrap();
    let decision = decide(
        &policy,
        &request(
            "POST",
            "/v1.41/containers/web/exec",
            Some(r#"{"Cmd":["sh"]}"#),
        ),
    );
    assert_eq!(
        decision.message,
        "POST /containers/{name}/exec is not allowed: exec is off (rule: no-exec)"
    );
}

#[test]
fn response_phase_allows_and_says_so() {
    let decision = decide_response(&request("POST", CREATE, Some(r#"{"Image":"busybox"}"#)));
    assert!(decision.allow);
    assert_eq!(decision.rule, "response-phase");
}

#[test]
fn decisions_of_the_default_policy_snapshot() {
    let policy = Policy::embedded_default();
    let cases = [
        ("ping", request("HEAD", "/_ping", None)),
        ("ps", request("GET", "/v1.41/containers/json", None)),
        ("privileged create", create(r#"{"Privileged":true}"#)),
        ("root bind", create(r#"{"Binds":["/:/host"]}"#)),
        ("sys admin", create(r#"{"CapAdd":["sys_admin"]}"#)),
        (
            "exec",
            request(
                "POST",
                "/v1.41/containers/web/exec",
                Some(r#"{"Cmd":["sh"],"Tty":true}"#),
            ),
        ),
        ("chunked create", request("POST", CREATE, None)),
        (
            "plugin install",
            request("POST", "/v1.41/plugins/pull?remote=x", Some("[]")),
        ),
        ("pprof", request("GET", "/debug/pprof/", None)),
    ];
    let decisions: Vec<_> = cases
        .iter()
        .map(|(name, call)| {
            let decision = decide(&policy, call);
            serde_json::json!({
                "case": name,
                "allow": decision.allow,
                "rule": decision.rule,
                "message": decision.message,
            })
        })
        .collect();
    insta::assert_yaml_snapshot!(decisions);
}

#[test]
fn explain_text_of_a_privileged_create_snapshot() {
    let decision = decide(
        &Policy::embedded_default(),
        &create(r#"{"Binds":["vol:/data"],"Privileged":true}"#),
    );
    insta::assert_snapshot!(explain::to_text(&decision));
}

#[test]
fn explain_json_of_an_allowed_create_snapshot() {
    let decision = decide(
        &Policy::embedded_default(),
        &create(r#"{"Binds":["vol:/data"],"NetworkMode":"default"}"#),
    );
    insta::assert_snapshot!(explain::to_json(&decision));
}

/// See: https://nvd.nist.gov/vuln/detail/CVE-2024-41110 — a chunked body reached plugins
/// empty while the daemon created the container it described.
#[test]
fn cve_2024_41110_chunked_create_without_a_forwarded_body_is_denied() {
    let mut create = request("POST", CREATE, None);
    create
        .request_headers
        .insert("Content-Type".into(), "application/json".into());
    let decision = decide(&Policy::embedded_default(), &create);
    assert_eq!(decision.rule, "body-not-forwarded");
    assert!(
        decision.message.contains("CVE-2024-41110"),
        "{}",
        decision.message
    );
}

/// CVE-2026-34040: dockerd 20.10 forwards no body of 1 MiB or more, yet acts on it.
#[test]
fn cve_2026_34040_create_body_of_one_mib_arrives_empty_and_is_denied() {
    let mut create = request("POST", CREATE, None);
    create
        .request_headers
        .insert("Content-Length".into(), (1u64 << 20).to_string());
    let decision = decide(&Policy::embedded_default(), &create);
    assert_eq!(decision.rule, "body-not-forwarded");
    assert!(
        decision.message.contains("Content-Length is 1048576"),
        "{}",
        decision.message
    );
}
