//! Every capture in `captures/` (plugin-side recordings and client-side exchanges) replayed
//! through the `moby-20.10` chain to authobot with its default policy; the decisions are
//! snapshotted. The ordinary workflow must be allowed
//! throughout and every host-escape attempt refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use authobot::audit::AuditLog;
use authobot::plugin::Authobot;
use authobot::Policy;
use fake_dockerd::capture::read_capture;
use fake_dockerd::chain::{AuthzChain, InProcess};
use fake_dockerd::fidelity::mask;
use fake_dockerd::replay::{replay_capture, LineReport};
use fake_dockerd::{Profile, ProfileName};

fn captures(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../captures")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
}

/// The plugin-side recordings of `captures/DIR/`, then the client-side exchanges of
/// `captures/client/DIR/` (replayed through the profile).
async fn replay_all(dir: &str) -> Vec<LineReport> {
    let mut files = captures(dir);
    if dir != "fidelity" {
        files.extend(
            captures(&format!("client/{dir}"))
                .into_iter()
                .filter(|p| p.to_string_lossy().ends_with(".exchange.jsonl")),
        );
    }
    replay_with(ProfileName::Moby2010, files).await
}

async fn replay_with(profile: ProfileName, files: Vec<PathBuf>) -> Vec<LineReport> {
    let authobot = Authobot::new(
        Policy::embedded_default(),
        AuditLog::new(Box::new(std::io::sink())),
    );
    let chain = AuthzChain::new(
        Profile::get(profile),
        vec![("authobot".to_string(), InProcess(Arc::new(authobot)))],
    );
    let mut reports = Vec::new();
    for path in files {
        let lines = read_capture(&path).unwrap();
        let label = path.file_name().unwrap().to_string_lossy().into_owned();
        reports.extend(replay_capture(&chain, &label, &lines, &mut std::iter::empty()).await);
    }
    reports
}

/// One snapshot line per plugin call: `file#line CALL METHOD URI -> verdict`.
fn decisions(reports: &[LineReport]) -> Vec<String> {
    let mut lines = Vec::new();
    for report in reports {
        for call in &report.calls {
            let verdict: serde_json::Value =
                serde_json::from_str(&call.answer).unwrap_or(serde_json::Value::Null);
            let decision = if verdict["Allow"] == true {
                "allow".to_owned()
            } else {
                format!("deny: {}", verdict["Msg"].as_str().unwrap_or(""))
            };
            lines.push(format!(
                "{}#{} {} {} {} -> {}",
                report.capture,
                report.line,
                call.call.trim_start_matches("AuthZPlugin."),
                report.method,
                mask(&report.target),
                decision
            ));
        }
    }
    lines
}

#[tokio::test]
async fn authobot_allows_the_whole_recorded_cli_workflow() {
    let reports = replay_all("workflow").await;
    assert!(reports.len() > 100, "the workflow captures are there");
    let denied: Vec<&LineReport> = reports.iter().filter(|r| r.client.status == 403).collect();
    assert!(denied.is_empty(), "denied: {denied:#?}");
    insta::assert_yaml_snapshot!(decisions(&reports));
}

#[tokio::test]
async fn authobot_denies_every_recorded_escape() {
    let reports = replay_all("escapes").await;
    let client_side = captures("client/escapes")
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".exchange.jsonl"));
    for path in captures("escapes").into_iter().chain(client_side) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            reports
                .iter()
                .any(|r| r.capture == name && r.client.status == 403),
            "{name}: no call was denied"
        );
    }
    insta::assert_yaml_snapshot!(decisions(&reports));
}

#[tokio::test]
async fn authobot_decisions_on_the_crafted_requests() {
    let reports = replay_all("fidelity").await;
    insta::assert_yaml_snapshot!(decisions(&reports));
}

/// The crafted exchanges under every profile: where a daemon withholds a body, authobot must
/// refuse rather than allow what it cannot see (CVE-2024-41110, CVE-2026-34040).
#[tokio::test]
async fn authobot_client_results_on_the_crafted_exchanges_under_every_profile() {
    let exchanges: Vec<PathBuf> = captures("fidelity")
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".exchange.jsonl"))
        .collect();
    let mut table = Vec::new();
    for profile in ProfileName::ALL {
        for report in replay_with(profile, exchanges.clone()).await {
            table.push(format!(
                "{profile} {} -> {} {}",
                report.capture.trim_end_matches(".exchange.jsonl"),
                report.client.status,
                report.client.message.unwrap_or_default()
            ));
        }
    }
    insta::assert_yaml_snapshot!(table);
}
