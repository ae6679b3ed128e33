//! Security and hardening cases: client requests passed through fake-dockerd's daemon
//! profiles, so the plugin is sent exactly what each daemon family would send it, and the
//! escapes recorded from a real daemon (`captures/escapes/`).
//!
//! Security (`no-host-escape`): every way onto the host of DESIGN.md section 5 in the
//! spellings Go accepts, routes that decode differently than they read, and bodies the daemon
//! acts on without forwarding them; each vector's source names the mechanism that reaches the
//! host. Hardening (`hardening`): choices that loosen confinement or place resources without
//! reaching the host by themselves; each source says what the daemon does with them.

use ::protocol::wire::Phase;
use fake_dockerd::{ClientRequest, Profile, ProfileName};
use serde::{Deserialize, Deserializer};

use super::replay::{describe_call, escapes, Recording};
use crate::case::{CaseInfo, Group, Level, Outcome};
use crate::registry::{Case, Check};
use crate::runner::Ctx;

/// The host-escape table (`conformance/cases/security.toml`).
const SECURITY_TABLE: &str = include_str!("../../cases/security.toml");
/// The hardening table (`conformance/cases/hardening.toml`).
const HARDENING_TABLE: &str = include_str!("../../cases/hardening.toml");

/// A host-escape attempt as a client sends it to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    /// Stable case id.
    pub id: String,
    /// Level; MUST unless the table says otherwise.
    #[serde(default = "must")]
    pub level: Level,
    /// One sentence.
    pub requirement: String,
    /// CVE, moby source or daemon behaviour modelled.
    pub source: String,
    /// HTTP method.
    pub method: String,
    /// Raw request target.
    pub target: String,
    /// Body bytes exactly as sent.
    #[serde(default)]
    pub body: String,
    /// Content-Type of the body; `application/json` when absent and there is a body.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Sent with `Transfer-Encoding: chunked` instead of a Content-Length.
    #[serde(default)]
    pub chunked: bool,
    /// Spaces appended after the JSON value up to this many bytes (0: none).
    #[serde(default)]
    pub pad_to: usize,
    /// Header lines sent after the Content-Type, as `[name, value]` pairs.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The daemon profiles whose daemon acts on the vector; every profile when absent. Under
    /// the others the plugin's verdict changes nothing, so it is not asked.
    #[serde(default, deserialize_with = "profile_names")]
    pub profiles: Option<Vec<ProfileName>>,
}

fn must() -> Level {
    Level::Must
}

fn profile_names<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<ProfileName>>, D::Error> {
    let names = Vec::<String>::deserialize(deserializer)?;
    names
        .iter()
        .map(|name| name.parse().map_err(serde::de::Error::custom))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// A recorded escape (`captures/escapes/NAME.jsonl`) and why it belongs in its table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapturedEntry {
    /// The recording's file stem.
    pub name: String,
    /// The mechanism that reaches the host (security), or what the daemon does (hardening).
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorTable {
    vector: Vec<Vector>,
    #[serde(default)]
    captured: Vec<CapturedEntry>,
}

fn table(group: Group) -> VectorTable {
    let (name, text) = match group {
        Group::Hardening => ("hardening", HARDENING_TABLE),
        _ => ("security", SECURITY_TABLE),
    };
    toml::from_str::<VectorTable>(text)
        .unwrap_or_else(|e| panic!("cases/{name}.toml does not parse: {e}"))
}

/// The host-escape vectors; the table is compiled in and checked by this crate's tests.
pub fn vectors() -> Vec<Vector> {
    table(Group::Security).vector
}

/// The hardening vectors.
pub fn hardening_vectors() -> Vec<Vector> {
    table(Group::Hardening).vector
}

impl Vector {
    /// The request as the docker CLI (or curl) puts it on the wire.
    pub fn client_request(&self) -> ClientRequest {
        let mut body = self.body.clone().into_bytes();
        if body.len() < self.pad_to {
            body.resize(self.pad_to, b' ');
        }
        let request = ClientRequest::new(&self.method, &self.target)
            .header("Host", "docker")
            .header("User-Agent", "Docker-Client/28.0.0 (linux)");
        let request = if body.is_empty() {
            request
        } else {
            match self.content_type.as_deref() {
                None | Some("application/json") => request.json(body),
                Some(content_type) => {
                    let length = body.len().to_string();
                    let mut request = request
                        .header("Content-Type", content_type)
                        .header("Content-Length", &length);
                    request.body = body;
                    request
                }
            }
        };
        let request = self.headers.iter().fold(request, |request, (name, value)| {
            request.header(name, value)
        });
        if self.chunked {
            request.chunked()
        } else {
            request
        }
    }
}

/// The cases of `group` (security or hardening): its vector table, then one case per
/// recorded escape its table claims.
pub fn cases(group: Group) -> Vec<Case> {
    let VectorTable { vector, captured } = table(group);
    let recordings = escapes();
    let vectors = vector.into_iter().map(|vector| Case {
        info: CaseInfo {
            id: vector.id.clone(),
            group,
            level: vector.level,
            requirement: vector.requirement.clone(),
            source: vector.source.clone(),
        },
        check: Check::Vector(vector),
    });
    let captured = captured.into_iter().map(move |entry| {
        let recording = recordings
            .iter()
            .find(|r| r.name == entry.name)
            .unwrap_or_else(|| panic!("captures/escapes/{}.jsonl is not embedded", entry.name))
            .clone();
        Case {
            info: CaseInfo {
                id: format!("{group}.captured.{}", recording.name),
                group,
                level: Level::Must,
                requirement: format!(
                    "Replaying the recorded `{}` escape attempt, the plugin refuses at least one request-phase call other than a GET or HEAD.",
                    recording.name
                ),
                source: format!(
                    "captures/escapes/{}.jsonl, recorded from Debian's dockerd 20.10.24 with docker CLI 28; {}",
                    recording.name, entry.source
                ),
            },
            check: Check::CapturedEscape(recording),
        }
    });
    vectors.chain(captured).collect()
}

/// Passes the vector through each selected profile whose daemon acts on it; the plugin must
/// refuse it under all.
pub async fn run(ctx: &Ctx, vector: &Vector) -> Outcome {
    let request = vector.client_request();
    let mut allowed = Vec::new();
    let mut asked = 0;
    let profiles: Vec<ProfileName> = ctx
        .profiles
        .iter()
        .copied()
        .filter(|p| vector.profiles.as_ref().is_none_or(|held| held.contains(p)))
        .collect();
    if profiles.is_empty() {
        return Outcome::skipped(format!(
            "held only under {} (where the daemon acts on it), none selected",
            profile_list(vector.profiles.as_deref().unwrap_or_default())
        ));
    }
    for name in &profiles {
        let message = match Profile::get(*name).plugin_request(&request) {
            Ok(message) => message,
            // The daemon answers by itself (404, 301, body too large): nothing to check.
            Err(refusal) => {
                tracing::debug!(id = %vector.id, profile = %name, %refusal, "daemon refuses");
                continue;
            }
        };
        asked += 1;
        let verdict = ctx.target.verdict(Phase::Request, &message).await;
        if verdict.allows() {
            allowed.push(format!(
                "{name}: allow (the plugin was sent RequestUri {:?} with a {}-byte body)",
                message.request_uri,
                message.request_body.len()
            ));
        }
    }
    if asked == 0 {
        return Outcome::skipped("no selected daemon profile forwards this request to plugins");
    }
    if allowed.is_empty() {
        Outcome::Passed
    } else {
        Outcome::failed(
            format!(
                "refused under every daemon profile that acts on it ({})",
                profile_list(&profiles)
            ),
            allowed.join("; "),
        )
    }
}

fn profile_list(profiles: &[ProfileName]) -> String {
    profiles
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Replays a recorded escape's request-phase calls; one mutating call must be refused.
pub async fn run_captured(ctx: &Ctx, recording: &Recording) -> Outcome {
    let mut allowed = Vec::new();
    for (index, call) in recording.calls.iter().enumerate() {
        if call.phase != Phase::Request
            || matches!(call.message.request_method.as_str(), "GET" | "HEAD")
        {
            continue;
        }
        let verdict = ctx.target.verdict(Phase::Request, &call.message).await;
        if !verdict.allows() {
            return Outcome::Passed;
        }
        allowed.push(describe_call(index, call));
    }
    Outcome::failed(
        "one request-phase call refused",
        format!("all allowed: {}", allowed.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_tables_parse_and_every_vector_targets_an_api_path() {
        assert!(vectors().len() > 40);
        for (group, vectors) in [
            (Group::Security, vectors()),
            (Group::Hardening, hardening_vectors()),
        ] {
            for vector in vectors {
                assert!(vector.target.starts_with('/'), "{}", vector.id);
                assert!(
                    vector.id.starts_with(&format!("{group}.")),
                    "{} is in the {group} table",
                    vector.id
                );
            }
        }
    }

    #[test]
    fn every_recorded_escape_is_classified_exactly_once() {
        let claimed: Vec<String> = [Group::Security, Group::Hardening]
            .into_iter()
            .flat_map(|g| table(g).captured)
            .map(|entry| entry.name)
            .collect();
        for recording in escapes() {
            let times = claimed.iter().filter(|n| **n == recording.name).count();
            assert_eq!(
                times, 1,
                "captures/escapes/{}.jsonl is classified {times} times (security.toml or hardening.toml)",
                recording.name
            );
        }
        assert_eq!(claimed.len(), escapes().len());
    }

    // See: https://github.com/moby/moby/pull/48007 (first released in 27.0): the daemon no
    // longer reads HostConfig fields spelled at the top level of a create body.
    #[test]
    fn top_level_host_config_is_held_only_under_daemons_that_read_it() {
        let vector = vectors()
            .into_iter()
            .find(|v| v.id == "security.create.privileged.top-level")
            .expect("the vector exists");
        assert_eq!(
            vector.profiles,
            Some(vec![ProfileName::MobyPre2024, ProfileName::Moby2010])
        );
    }

    #[tokio::test]
    async fn a_vector_no_selected_profile_acts_on_is_skipped_without_a_call() {
        let vector = vectors()
            .into_iter()
            .find(|v| v.id == "security.create.privileged.top-level")
            .expect("the vector exists");
        let ctx = Ctx {
            target: crate::Target::new("/nonexistent.sock", "p", std::time::Duration::from_secs(1)),
            managed: false,
            profiles: vec![ProfileName::Moby271, ProfileName::Moby293],
            latency_bound: std::time::Duration::from_secs(1),
            fuzz_cases: 1,
            jobs: 1,
            expectations: crate::expectations::Expectations::default(),
        };
        let outcome = run(&ctx, &vector).await;
        assert!(matches!(outcome, Outcome::Skipped { .. }), "{outcome:?}");
        assert_eq!(ctx.target.calls_sent(), 0);
    }

    #[test]
    fn extra_header_lines_follow_the_content_type() {
        let vector = vectors()
            .into_iter()
            .find(|v| v.id == "security.build.duplicate-content-type")
            .expect("the vector exists");
        let request = vector.client_request();
        let content_types: Vec<&str> = request
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            .map(|(_, value)| value.as_str())
            .collect();
        assert_eq!(
            content_types,
            ["application/x-www-form-urlencoded", "application/x-tar"]
        );
    }

    #[test]
    fn padded_vector_body_has_the_requested_length() {
        let vector = vectors()
            .into_iter()
            .find(|v| v.id == "security.missing-body.oversized-create")
            .expect("the vector exists");
        assert_eq!(vector.client_request().body.len(), vector.pad_to);
    }

    #[test]
    fn chunked_vector_carries_no_content_length() {
        let vector = vectors()
            .into_iter()
            .find(|v| v.id == "security.missing-body.chunked-create")
            .expect("the vector exists");
        assert_eq!(vector.client_request().content_length(), -1);
    }
}
