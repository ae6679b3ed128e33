//! authobot under the conformance suite: every MUST case and the whole security group pass
//! but those `authobot.expected-failures` lists, and its JSON report is pinned as a snapshot.

use std::sync::OnceLock;

use authobot::audit::AuditLog;
use authobot::plugin::Authobot;
use authobot::Policy;
use conformance::expectations::Expectations;
use conformance::{Claim, Group, Level, Outcome, Report};

use crate::harness::{start, SuiteRun};

const ALL_CLAIMS: &[Claim] = &[Claim::NoHostEscape, Claim::OrdinaryUse, Claim::Hardening];

/// What authobot is known to fail, and why.
const EXPECTED_FAILURES: &str = include_str!("authobot.expected-failures");

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
            SuiteRun {
                claims: ALL_CLAIMS,
                expectations: Expectations::parse(EXPECTED_FAILURES)
                    .expect("authobot.expected-failures reads"),
                ..SuiteRun::default()
            }
            .against(&plugin.socket)
            .await
        })
    })
}

/// The failed cases `keep` selects that the expected-failures list does not name.
fn failures(report: &Report, keep: impl Fn(&conformance::CaseInfo) -> bool) -> Vec<String> {
    report
        .results
        .iter()
        .filter(|r| r.outcome.is_failed() && !r.is_expected_failure() && keep(&r.info))
        .map(|r| r.info.id.clone())
        .collect()
}

#[test]
fn authobot_passes_every_must_case_and_the_security_and_hardening_groups() {
    let report = authobot_report();
    assert_eq!(report.harness_error, None);
    let must = failures(report, |info| info.level == Level::Must);
    let refusing = failures(report, |info| {
        matches!(info.group, Group::Security | Group::Hardening)
    });
    assert!(
        must.is_empty() && refusing.is_empty(),
        "MUST failures {must:?}, security and hardening failures {refusing:?}:\n{}",
        report.to_text()
    );
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn authobot_refuses_every_vector_with_a_deny_never_by_failing() {
    let report = authobot_report();
    assert_eq!(
        report.summary().refused_by_failure,
        0,
        "{}",
        report.to_text()
    );
}

#[test]
fn every_expected_failure_of_authobot_still_fails() {
    let report = authobot_report();
    let passing: Vec<&str> = report
        .results
        .iter()
        .filter(|r| r.is_unexpected_pass())
        .map(|r| r.info.id.as_str())
        .collect();
    assert!(
        passing.is_empty() && report.unmatched_expectations.is_empty(),
        "take these off tests/tests/it/authobot.expected-failures: {passing:?}, unmatched {:?}",
        report.unmatched_expectations
    );
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

/// The JSON report's cases, each reduced to its id and outcome: the requirement texts live in
/// the case tables and the README, not in a snapshot.
#[test]
fn authobot_json_report_matches_its_snapshot() {
    let report = authobot_report().to_json();
    let outcomes: Vec<serde_json::Value> = report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|case| serde_json::json!({"id": case["id"], "status": case["status"]}))
        .collect();
    insta::assert_json_snapshot!("authobot-report", outcomes);
}
