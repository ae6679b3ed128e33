//! A whole run against a plugin that answers slowly, or serves one connection at a time, ends
//! with a verdict (exit 1) rather than a hang: once the plugin fails the latency or concurrency
//! case, the suite gives up on every later call at the latency bound. Checked by counting the
//! calls given up, not by timing the run.

use std::time::Duration;

use conformance::report::EXIT_MUST_FAILED;
use conformance::runner::PATIENCE_CASE_IDS;
use conformance::{Claim, Outcome, Report};
use integration_tests::raw::TransportFlaw;

use crate::harness::{assert_fails, start_raw, SuiteRun};

const EVERY_CLAIM: &[Claim] = &[Claim::NoHostEscape, Claim::OrdinaryUse, Claim::Hardening];

/// Calls counted before the suite stops waiting that are not given up: the reply case's call,
/// answered, and the latency case's first call, which that case abandons itself.
const CALLS_BEFORE_THE_STOP: usize = 2;

/// The whole suite, every claim, with a latency bound well under the plugin's delay and a call
/// timeout well over it. A guard turns a hang into a failure instead of a stuck test.
async fn whole_run(flaw: TransportFlaw) -> Report {
    let plugin = start_raw(flaw);
    let run = SuiteRun {
        claims: EVERY_CLAIM,
        call_timeout: Duration::from_secs(30),
        latency_bound: Duration::from_millis(100),
        ..SuiteRun::default()
    }
    .against(&plugin.socket);
    tokio::time::timeout(Duration::from_secs(900), run)
        .await
        .expect("the run ends instead of hanging")
}

fn assert_stopped_waiting(report: &Report) {
    assert_eq!(report.harness_error, None);
    assert_eq!(report.exit_code(), EXIT_MUST_FAILED, "{}", report.to_text());
    let after = report
        .stopped_waiting_after
        .as_deref()
        .unwrap_or_else(|| panic!("the suite kept waiting:\n{}", report.to_text()));
    assert!(PATIENCE_CASE_IDS.contains(&after), "{after}");
    assert!(
        report.calls_sent - report.calls_given_up <= CALLS_BEFORE_THE_STOP,
        "{} calls sent, {} given up: later calls were waited out",
        report.calls_sent,
        report.calls_given_up
    );
    assert!(report
        .results
        .iter()
        .all(|r| !matches!(&r.outcome, Outcome::Failed { seen, .. } if seen.contains("panicked"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_plugin_gets_a_verdict_and_every_later_call_is_given_up_at_the_bound() {
    let report = whole_run(TransportFlaw::SlowAnswers {
        delay: Duration::from_millis(600),
    })
    .await;
    assert_stopped_waiting(&report);
    assert_fails(&report, "protocol.latency.bounded");
    assert!(matches!(
        report
            .result("fuzz.create.dangerous-spellings")
            .map(|r| &r.outcome),
        Some(Outcome::Skipped { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serialising_plugin_gets_a_verdict_and_every_later_call_is_given_up_at_the_bound() {
    let report = whole_run(TransportFlaw::OneConnectionAtATime {
        hold: Duration::from_millis(400),
    })
    .await;
    assert_stopped_waiting(&report);
    assert_fails(&report, "protocol.connection.concurrent");
}
