//! Security cases, for plugins claiming `no-host-escape`: every vector of DESIGN.md section 5
//! in the spellings Go accepts, routes that decode differently than they read, and bodies the
//! daemon acts on without forwarding them. Each vector is a client request passed through
//! fake-dockerd's daemon profiles, so the plugin is sent exactly what each daemon family
//! would send it. Also the escapes recorded from a real daemon (`captures/escapes/`).

use ::protocol::wire::Phase;
use fake_dockerd::{ClientRequest, Profile, ProfileName};
use serde::Deserialize;

use super::replay::{describe_call, escapes, Recording};
use crate::case::{CaseInfo, Group, Level, Outcome};
use crate::registry::{Case, Check};
use crate::runner::Ctx;

/// The vector table (`conformance/cases/security.toml`).
const VECTOR_TABLE: &str = include_str!("../../cases/security.toml");

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
}

fn must() -> Level {
    Level::Must
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorTable {
    vector: Vec<Vector>,
}

/// The vectors of the table; the table is compiled in and checked by this crate's tests.
pub fn vectors() -> Vec<Vector> {
    toml::from_str::<VectorTable>(VECTOR_TABLE)
        .unwrap_or_else(|e| panic!("cases/security.toml does not parse: {e}"))
        .vector
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
        if self.chunked {
            request.chunked()
        } else {
            request
        }
    }
}

/// The security cases: the vector table, then one case per recorded escape.
pub fn cases() -> Vec<Case> {
    let table = vectors().into_iter().map(|vector| Case {
        info: CaseInfo {
            id: vector.id.clone(),
            group: Group::Security,
            level: vector.level,
            requirement: vector.requirement.clone(),
            source: vector.source.clone(),
        },
        check: Check::Vector(vector),
    });
    let captured = escapes().into_iter().map(|recording| Case {
        info: CaseInfo {
            id: format!("security.captured.{}", recording.name),
            group: Group::Security,
            level: Level::Must,
            requirement: format!(
                "Replaying the recorded `{}` escape, the plugin refuses at least one request-phase call other than a GET or HEAD.",
                recording.name
            ),
            source: format!(
                "captures/escapes/{}.jsonl, recorded from Debian's dockerd 20.10.24 with docker CLI 28",
                recording.name
            ),
        },
        check: Check::CapturedEscape(recording),
    });
    table.chain(captured).collect()
}

/// Passes the vector through each selected profile; the plugin must refuse it under all.
pub async fn run(ctx: &Ctx, vector: &Vector) -> Outcome {
    let request = vector.client_request();
    let mut allowed = Vec::new();
    let mut asked = 0;
    for name in &ctx.profiles {
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
                "refused under every daemon profile ({})",
                profile_list(&ctx.profiles)
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
    fn vector_table_parses_and_every_vector_targets_an_api_path() {
        let vectors = vectors();
        assert!(vectors.len() > 40);
        for vector in vectors {
            assert!(vector.target.starts_with('/'), "{}", vector.id);
            assert!(vector.id.starts_with("security."), "{}", vector.id);
        }
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
