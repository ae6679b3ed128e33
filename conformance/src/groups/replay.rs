//! Replay cases: the ordinary CLI workflows recorded from a real dockerd (`captures/workflow/`)
//! must stay allowed, call after call, for a plugin claiming `ordinary-use`. Stopping host
//! escapes is worth little if it also stops `docker run`.

use ::protocol::wire::Phase;
use fake_dockerd::record_plugin::{read_plugin_calls, PluginCall};

use crate::case::{CaseInfo, Group, Level, Outcome};
use crate::registry::{Case, Check};
use crate::runner::Ctx;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/captures.rs"));
}

/// A plugin-side recording: what a real daemon sent its plugin for one CLI command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// The file stem (`run-with-volume`).
    pub name: String,
    /// The calls in the order the daemon made them.
    pub calls: Vec<PluginCall>,
}

/// Parses an embedded recording table; a recording that does not parse is a build defect,
/// caught by this crate's unit tests.
fn parse_table(table: &[(&str, &str)]) -> Vec<Recording> {
    table
        .iter()
        .map(|(name, text)| Recording {
            name: (*name).to_owned(),
            calls: read_plugin_calls(text)
                .unwrap_or_else(|e| panic!("embedded capture {name}.jsonl does not parse: {e}")),
        })
        .collect()
}

/// The recordings of `captures/workflow/`.
pub fn workflows() -> Vec<Recording> {
    parse_table(embedded::WORKFLOWS)
}

/// The recordings of `captures/escapes/`.
pub fn escapes() -> Vec<Recording> {
    parse_table(embedded::ESCAPES)
}

/// One line naming a call for reports: `call 3 (Request POST /v1.41/containers/create)`.
pub fn describe_call(index: usize, call: &PluginCall) -> String {
    format!(
        "call {} ({:?} {} {})",
        index + 1,
        call.phase,
        call.message.request_method,
        call.message.request_uri
    )
}

/// The replay cases, one per recorded workflow.
pub fn cases() -> Vec<Case> {
    workflows()
        .into_iter()
        .map(|recording| Case {
            info: CaseInfo {
                id: format!("replay.workflow.{}", recording.name),
                group: Group::Replay,
                level: Level::Must,
                requirement: format!(
                    "Every call of the recorded `{}` CLI workflow is allowed, in both phases.",
                    recording.name
                ),
                source: format!(
                    "captures/workflow/{}.jsonl, recorded from Debian's dockerd 20.10.24 with docker CLI 28",
                    recording.name
                ),
            },
            check: Check::Replay(recording),
        })
        .collect()
}

/// Sends every call of the recording in order; the first one not allowed fails the case.
pub async fn run(ctx: &Ctx, recording: &Recording) -> Outcome {
    for (index, call) in recording.calls.iter().enumerate() {
        let verdict = ctx.target.verdict(call.phase, &call.message).await;
        if !verdict.allows() {
            return Outcome::failed(
                "every call allowed",
                format!("{}: {verdict}", describe_call(index, call)),
            );
        }
    }
    if recording.calls.iter().any(|c| c.phase == Phase::Request) {
        Outcome::Passed
    } else {
        Outcome::skipped("the recording holds no request-phase call")
    }
}
