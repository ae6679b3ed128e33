//! authobot under the conformance suite: every MUST case and the whole security group pass,
//! and its JSON report is pinned as a snapshot.

use std::sync::OnceLock;

use authobot::audit::AuditLog;
use authobot::plugin::Authobot;
use authobot::Policy;
use conformance::{Claim, Group, Level, Outcome, Report};

use crate::harness::{run_suite, start};

const ALL_CLAIMS: &[Claim] = &[Claim::NoHostEscape, Claim::OrdinaryUse];

/// The suite's report on authobot with its embedded default policy, every claim made and
/// every profile; computed once (a full run takes seconds) and shared by the tests below.
fn authobot_report() -> &'static Report {
    static REPORT: OnceLock<Report> = OnceLock::new();
    REPORT.get_or_init(|| {
        let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
        runtime.block_on(async {
            let plugin = start(Authobot::new(
                Policy::embedded_default(),
                AuditLog::new(Box::new(std::io::sink())),
            ));
            run_suite(&plugin.socket, ALL_CLAIMS, &[]).await
        })
    })
}

fn failures(report: &Report, keep: impl Fn(&conformance::CaseInfo) -> bool) -> Vec<String> {
    report
        .results
        .iter()
        .filter(|r| r.outcome.is_failed() && keep(&r.info))
        .map(|r| r.info.id.clone())
        .collect()
}

#[test]
fn authobot_passes_every_must_case_and_the_whole_security_group() {
    let report = authobot_report();
    assert_eq!(report.harness_error, None);
    let must = failures(report, |info| info.level == Level::Must);
    let security = failures(report, |info| info.group == Group::Security);
    assert!(
        must.is_empty() && security.is_empty(),
        "MUST failures {must:?}, security failures {security:?}:\n{}",
        report.to_text()
    );
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn authobot_run_skips_nothing_when_every_claim_is_made() {
    let report = authobot_report();
    let skipped: Vec<&str> = report
        .results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Skipped { .. }))
        .map(|r| r.info.id.as_str())
        .collect();
    assert!(skipped.is_empty(), "skipped: {skipped:?}");
}

#[test]
fn authobot_json_report_matches_its_snapshot() {
    let report = authobot_report();
    insta::assert_json_snapshot!("authobot-report", report.to_json(), {
        ".plugin.socket" => "[socket]",
        ".cases[].duration_ms" => "[duration]",
    });
}
