//! Fuzz cases, for plugins claiming `no-host-escape`: proptest generates create and exec
//! bodies that hide dangerous fields in spellings Go accepts (case and Unicode folding,
//! `\u` escapes, duplicate keys, repeated HostConfig objects that merge, `null`s). The
//! protocol crate's canonicaliser is the oracle: whatever it reads as dangerous, the plugin
//! must refuse. A failure reports the shrunk, minimal body.

use std::fmt;

use ::protocol::body::{decode, ContainerCreate, ExecCreate};
use ::protocol::wire::{AuthzRequest, Phase};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

use crate::case::{CaseInfo, Group, Level, Outcome};
use crate::registry::{Case, Check};
use crate::runner::Ctx;
use crate::target::Target;

/// Which endpoint's bodies are generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FuzzTarget {
    /// `POST /containers/create`: Privileged, CapAdd, Binds, PidMode, NetworkMode.
    ContainerCreate,
    /// `POST /containers/{name}/exec`: Privileged.
    ExecCreate,
}

/// The fuzz cases.
pub fn cases() -> Vec<Case> {
    let case = |id: &str, requirement: &str, target| {
        Case {
        info: CaseInfo {
            id: id.to_owned(),
            group: Group::Fuzz,
            level: Level::Must,
            requirement: requirement.to_owned(),
            source: "Go encoding/json key folding, duplicate and merge rules (DESIGN.md 4); oracle: protocol::body::decode".to_owned(),
        },
        check: Check::Fuzz(target),
    }
    };
    vec![
        case(
            "fuzz.create.dangerous-spellings",
            "Every generated container create that the canonicaliser reads as privileged, adding SYS_ADMIN, SYS_MODULE, DAC_READ_SEARCH or ALL, binding a host path or sharing the host's pid or network namespace is refused.",
            FuzzTarget::ContainerCreate,
        ),
        case(
            "fuzz.exec.dangerous-spellings",
            "Every generated exec create that the canonicaliser reads as privileged is refused.",
            FuzzTarget::ExecCreate,
        ),
    ]
}

/// Capabilities whose addition is a way onto the host, as the daemon normalises them (the
/// security table's; SYS_PTRACE and NET_ADMIN act in the container's own namespaces and are
/// hardening vectors).
const DANGEROUS_CAPS: &[&str] = &[
    "ALL",
    "CAP_SYS_ADMIN",
    "CAP_SYS_MODULE",
    "CAP_DAC_READ_SEARCH",
];

/// What the canonicaliser says makes this create dangerous, if anything.
fn create_danger(body: &[u8]) -> Option<String> {
    let create: ContainerCreate = decode(body).ok()?;
    let host = &create.host_config;
    if host.privileged {
        return Some("Privileged".into());
    }
    if let Some(cap) = host
        .normalized_cap_add()
        .into_iter()
        .find(|c| DANGEROUS_CAPS.contains(&c.as_str()))
    {
        return Some(format!("CapAdd {cap}"));
    }
    if let Ok(binds) = host.parsed_binds() {
        if let Some(bind) = binds.iter().find(|b| b.host_path) {
            return Some(format!("Binds host path {}", bind.source));
        }
    }
    if host.pid_mode == "host" {
        return Some("PidMode host".into());
    }
    if host.network_mode == "host" {
        return Some("NetworkMode host".into());
    }
    None
}

/// What the canonicaliser says makes this exec dangerous, if anything.
fn exec_danger(body: &[u8]) -> Option<String> {
    let exec: ExecCreate = decode(body).ok()?;
    exec.privileged.then(|| "Privileged".to_owned())
}

/// A JSON object member as generated: a key spelling and a raw JSON value.
#[derive(Clone, PartialEq, Eq)]
struct Member {
    key: String,
    value: String,
}

impl fmt::Debug for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.key, self.value)
    }
}

/// A generated body: its fields, split over one or two HostConfig objects for a create.
#[derive(Clone, PartialEq, Eq)]
struct Body {
    /// The spelled `HostConfig` keys, one per object (create only).
    host_config_keys: Vec<String>,
    /// The members of each object.
    objects: Vec<Vec<Member>>,
    target: FuzzTarget,
}

impl Body {
    fn text(&self) -> String {
        let object = |members: &[Member]| {
            let inner: Vec<String> = members
                .iter()
                .map(|m| format!("{}:{}", m.key, m.value))
                .collect();
            format!("{{{}}}", inner.join(","))
        };
        match self.target {
            FuzzTarget::ExecCreate => {
                let mut members = vec![Member {
                    key: "\"Cmd\"".into(),
                    value: "[\"sh\"]".into(),
                }];
                members.extend(self.objects.iter().flatten().cloned());
                object(&members)
            }
            FuzzTarget::ContainerCreate => {
                let mut members = vec![Member {
                    key: "\"Image\"".into(),
                    value: "\"busybox\"".into(),
                }];
                for (key, fields) in self.host_config_keys.iter().zip(&self.objects) {
                    members.push(Member {
                        key: key.clone(),
                        value: object(fields),
                    });
                }
                object(&members)
            }
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// One character of a key as Go would still match it: itself, the other case, a Unicode
/// character that folds to it (ſ for s, K for k), or a `\u` escape.
fn spelled_char(c: char) -> BoxedStrategy<String> {
    let mut options = vec![
        Just(c.to_string()).boxed(),
        Just(
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
            .to_string(),
        )
        .boxed(),
        Just(format!("\\u{:04x}", c as u32)).boxed(),
    ];
    match c.to_ascii_lowercase() {
        's' => options.push(Just("ſ".to_owned()).boxed()),
        'k' => options.push(Just("\u{212A}".to_owned()).boxed()),
        _ => {}
    }
    proptest::strategy::Union::new(options).boxed()
}

/// A quoted key spelling that Go matches to `name`.
fn spelled_key(name: &'static str) -> BoxedStrategy<String> {
    let chars: Vec<BoxedStrategy<String>> = name.chars().map(spelled_char).collect();
    chars
        .prop_map(|parts| format!("\"{}\"", parts.concat()))
        .boxed()
}

/// A capability name spelled as a client might: any case, with or without `CAP_`.
fn capability() -> BoxedStrategy<String> {
    (
        prop::sample::select(vec![
            "SYS_ADMIN",
            "SYS_MODULE",
            "DAC_READ_SEARCH",
            "NET_ADMIN",
            "CHOWN",
            "ALL",
            "ſys_admın",
        ]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(name, lower, prefix)| {
            let name = if lower {
                name.to_lowercase()
            } else {
                name.to_owned()
            };
            if prefix {
                format!("cap_{name}")
            } else {
                name
            }
        })
        .boxed()
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// A HostConfig (or exec) member: a spelled key and a dangerous, harmless or null value.
fn member(target: FuzzTarget) -> BoxedStrategy<Member> {
    let privileged = (
        spelled_key("Privileged"),
        prop::sample::select(vec!["true", "false", "null"]),
    )
        .prop_map(|(key, value)| Member {
            key,
            value: value.to_owned(),
        })
        .boxed();
    if target == FuzzTarget::ExecCreate {
        let user = (spelled_key("User"), Just("\"root\"")).prop_map(|(key, value)| Member {
            key,
            value: value.to_owned(),
        });
        return prop_oneof![3 => privileged, 1 => user].boxed();
    }
    let cap_add = (
        spelled_key("CapAdd"),
        prop::collection::vec(capability(), 0..3),
        any::<bool>(),
    )
        .prop_map(|(key, caps, single)| {
            let value = match (single, caps.first()) {
                (true, Some(cap)) => json_string(cap),
                _ => serde_json::to_string(&caps).expect("a list serializes"),
            };
            Member { key, value }
        });
    let binds = (
        spelled_key("Binds"),
        prop::sample::select(vec![
            "/:/host",
            "/etc/..//:/host:ro",
            "data:/data",
            "/var/lib/../..:/h",
        ]),
    )
        .prop_map(|(key, bind)| Member {
            key,
            value: format!("[{}]", json_string(bind)),
        });
    let namespace = (
        prop_oneof![spelled_key("PidMode"), spelled_key("NetworkMode")],
        prop::sample::select(vec!["\"host\"", "\"bridge\"", "\"\"", "null"]),
    )
        .prop_map(|(key, value)| Member {
            key,
            value: value.to_owned(),
        });
    prop_oneof![privileged, cap_add, binds, namespace].boxed()
}

fn body(target: FuzzTarget) -> impl Strategy<Value = Body> {
    (
        prop::collection::vec(member(target), 1..6),
        0usize..6,
        prop::collection::vec(spelled_key("HostConfig"), 2),
    )
        .prop_map(move |(members, split, keys)| {
            let split = split.min(members.len());
            let objects = if split == 0 || target == FuzzTarget::ExecCreate {
                vec![members]
            } else {
                vec![members[..split].to_vec(), members[split..].to_vec()]
            };
            Body {
                host_config_keys: keys.into_iter().take(objects.len()).collect(),
                objects,
                target,
            }
        })
}

fn request_for(target: FuzzTarget, body: Vec<u8>) -> AuthzRequest {
    let uri = match target {
        FuzzTarget::ContainerCreate => "/v1.41/containers/create",
        FuzzTarget::ExecCreate => "/v1.41/containers/web/exec",
    };
    AuthzRequest {
        request_method: "POST".into(),
        request_uri: uri.into(),
        request_headers: [("Content-Type".to_owned(), "application/json".to_owned())].into(),
        request_body: body,
        ..AuthzRequest::default()
    }
}

/// Runs `ctx.fuzz_cases` generated bodies; shrinks and reports the first one let through.
pub async fn run(ctx: &Ctx, target: FuzzTarget) -> Outcome {
    if ctx.target.is_impatient() {
        // Each generated body would be refused by the plugin not answering in time.
        return Outcome::skipped(
            "the plugin already failed to answer within the latency bound; generated bodies would only time out",
        );
    }
    let plugin: Target = ctx.target.clone();
    let cases = ctx.fuzz_cases;
    let runtime = tokio::runtime::Handle::current();
    let outcome = tokio::task::spawn_blocking(move || {
        let config = Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        let dangerous_seen = std::cell::Cell::new(0u32);
        let result = runner.run(&body(target), |generated| {
            let text = generated.text();
            let danger = match target {
                FuzzTarget::ContainerCreate => create_danger(text.as_bytes()),
                FuzzTarget::ExecCreate => exec_danger(text.as_bytes()),
            };
            let Some(danger) = danger else {
                return Ok(());
            };
            dangerous_seen.set(dangerous_seen.get() + 1);
            let request = request_for(target, text.into_bytes());
            let verdict = runtime.block_on(plugin.verdict(Phase::Request, &request));
            if verdict.allows() {
                Err(TestCaseError::fail(format!("{danger} allowed")))
            } else {
                Ok(())
            }
        });
        (result, dangerous_seen.get())
    })
    .await;
    match outcome {
        Err(e) => Outcome::failed("the generator to run", e.to_string()),
        Ok((Ok(()), 0)) => Outcome::skipped("no generated body was dangerous"),
        Ok((Ok(()), _)) => Outcome::Passed,
        Ok((Err(TestError::Fail(reason, minimal)), _)) => Outcome::failed(
            "refused, since the canonicaliser reads it as dangerous",
            format!("{reason} for minimal body {}", minimal.text()),
        ),
        Ok((Err(TestError::Abort(reason)), _)) => {
            Outcome::failed("the generator to run", reason.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::strategy::ValueTree;

    use super::*;

    #[test]
    fn most_generated_create_bodies_decode() {
        let mut runner = TestRunner::deterministic();
        let mut decoded = 0;
        for _ in 0..200 {
            let tree = body(FuzzTarget::ContainerCreate)
                .new_tree(&mut runner)
                .expect("a value");
            if decode::<ContainerCreate>(tree.current().text().as_bytes()).is_ok() {
                decoded += 1;
            }
        }
        assert!(
            decoded > 150,
            "only {decoded} of 200 generated bodies decode"
        );
    }

    #[test]
    fn oracle_reads_a_folded_privileged_key_as_dangerous() {
        let body = br#"{"Image":"x","hostconfig":{"PRIVILEGED":true},"HostConfig":{"Memory":1}}"#;
        assert_eq!(create_danger(body).as_deref(), Some("Privileged"));
    }
}
