//! Rego policies: the same decisions as opa-docker-authz with the same policy file, except
//! where opa-docker-authz is walked around, where authobot denies.
//!
//! opa-docker-authz's answers were recorded once as facts
//! (`tests/data/rego/opa-docker-authz.jsonl`, made by `record-opa-docker-authz.py` from a
//! build of its own sources); every row names a request of the table (the example policy's
//! cases, the recorded CLI workflow, the hostile vectors). Each row where the two differ is
//! listed in `tests/data/rego/bypasses.jsonl` with how opa-docker-authz was walked around;
//! a difference not listed, a listed row that does not differ, or authobot allowing what
//! opa-docker-authz refused fails the test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use authobot::rego::{RegoOptions, RegoPolicy};
use authobot::{decide, Policy};
use protocol::AuthzRequest;
use serde::Deserialize;
use serde_json::Value;

use crate::support::crate_path;

/// One recorded answer of opa-docker-authz.
#[derive(Debug, Deserialize)]
struct Fact {
    policy: String,
    policy_sha256: String,
    source: String,
    index: usize,
    case: String,
    status: u16,
    allow: bool,
}

/// A row where the two differ, and why.
#[derive(Debug, Deserialize)]
struct Bypass {
    policy: String,
    source: String,
    index: usize,
    kind: Difference,
    why: String,
}

/// Why a row differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Difference {
    /// opa-docker-authz allowed what its policy was written to refuse; authobot denies.
    Bypass,
    /// opa-docker-authz could not build its input and answered an error (HTTP 500);
    /// authobot gives the policy the call and follows its verdict.
    OpaDockerAuthzError,
}

fn facts() -> Vec<Fact> {
    read_lines(&crate_path("tests/data/rego/opa-docker-authz.jsonl"))
}

fn bypasses() -> BTreeMap<(String, String, usize), (Difference, String)> {
    read_lines::<Bypass>(&crate_path("tests/data/rego/bypasses.jsonl"))
        .into_iter()
        .map(|b| ((b.policy, b.source, b.index), (b.kind, b.why)))
        .collect()
}

fn read_lines<T: for<'de> Deserialize<'de>>(path: &Path) -> Vec<T> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// The request a fact names, read as the recording script read it: the `index`th line of
/// its source, with `Authz-User: alice` added where it carries none.
fn request_of(fact: &Fact) -> AuthzRequest {
    let (path, field) = match fact.source.as_str() {
        "example-cases" => (crate_path("tests/data/rego/example-cases.jsonl"), "message"),
        "hostile" => (crate_path("tests/data/hostile.jsonl"), "message"),
        workflow => (
            crate_path(&format!("../captures/{workflow}.jsonl")),
            "message",
        ),
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text
        .lines()
        .nth(fact.index)
        .expect("the fact's line exists");
    let row: Value = serde_json::from_str(line).unwrap();
    let mut message = row[field].clone();
    if fact.source != "example-cases" {
        message["RequestHeaders"]
            .as_object_mut()
            .map(|h| h.entry("Authz-User").or_insert("alice".into()));
        if message.get("RequestHeaders").is_none() {
            message["RequestHeaders"] = serde_json::json!({"Authz-User": "alice"});
        }
    }
    serde_json::from_value(message).unwrap()
}

fn rego_policy(path: &Path) -> Policy {
    let text = std::fs::read_to_string(path).unwrap();
    Policy::from_rego(RegoPolicy::compile(path, &text, RegoOptions::default()).unwrap())
}

fn sha256_hex(path: &Path) -> String {
    let output = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum runs");
    String::from_utf8(output.stdout).unwrap()[..64].to_owned()
}

/// Compares authobot with the facts of `policy_name`, run with the policy file at `path`.
fn same_decisions_except_bypasses(policy_name: &str, path: &Path) {
    let policy = rego_policy(path);
    let bypasses = bypasses();
    let mut failures = Vec::new();
    let mut rows = 0;
    for fact in facts().into_iter().filter(|f| f.policy == policy_name) {
        assert_eq!(
            fact.policy_sha256,
            sha256_hex(path),
            "the facts were recorded with another {policy_name}"
        );
        rows += 1;
        let decision = decide(&policy, &request_of(&fact));
        let key = (fact.policy.clone(), fact.source.clone(), fact.index);
        let listed = bypasses.get(&key);
        let name = format!(
            "{} {}#{} {}",
            fact.policy, fact.source, fact.index, fact.case
        );
        match (fact.allow, decision.allow, listed) {
            (a, b, None) if a == b => {}
            (true, false, Some((Difference::Bypass, _))) => {}
            (false, _, Some((Difference::OpaDockerAuthzError, _))) if fact.status != 200 => {}
            (a, b, None) => failures.push(format!(
                "{name}: opa-docker-authz allow={a}, authobot allow={b} ({}), and no difference is listed",
                decision.message
            )),
            (a, b, Some((kind, why))) => failures.push(format!(
                "{name}: listed as {kind:?} ({why}) but opa-docker-authz allow={a} (HTTP {}), authobot allow={b}",
                fact.status
            )),
        }
    }
    assert!(rows > 0, "no facts for {policy_name}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_typical_policy_decides_as_opa_docker_authz_except_its_bypasses() {
    same_decisions_except_bypasses("typical.rego", &crate_path("policies/rego/typical.rego"));
}

/// opa-docker-authz's example.rego is its code, not ours: it is not kept here.
#[test]
#[ignore = "needs opa-docker-authz's example.rego: set OPA_DOCKER_AUTHZ_EXAMPLE=PATH"]
fn the_example_policy_decides_as_opa_docker_authz_except_its_bypasses() {
    let path = PathBuf::from(
        std::env::var_os("OPA_DOCKER_AUTHZ_EXAMPLE").expect("OPA_DOCKER_AUTHZ_EXAMPLE is set"),
    );
    same_decisions_except_bypasses("example.rego", &path);
}

#[test]
fn every_listed_bypass_names_a_recorded_request() {
    let facts: Vec<(String, String, usize)> = facts()
        .into_iter()
        .map(|f| (f.policy, f.source, f.index))
        .collect();
    for key in bypasses().keys() {
        assert!(facts.contains(key), "{key:?} is not in the facts");
    }
}
