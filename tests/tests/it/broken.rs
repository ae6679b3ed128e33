//! Each deliberately broken plugin fails the conformance case that models its flaw.

use conformance::{Claim, Outcome};
use integration_tests::broken::{AllowAll, DenyAll, Flaw, FlawedPolicy};
use integration_tests::raw::TransportFlaw;

use crate::harness::{
    assert_fails, assert_passes, outcome, run_managed_suite, run_suite, start, start_raw,
};

#[tokio::test]
async fn plugin_dying_on_malformed_json_fails_keeps_serving() {
    let plugin = start_raw(TransportFlaw::DiesOnMalformedJson);
    let report = run_suite(&plugin.socket, &[], &["robustness.malformed-json.*"]).await;
    assert_passes(&report, "robustness.malformed-json.fails-closed");
    assert_fails(&report, "robustness.malformed-json.keeps-serving");
}

#[tokio::test]
async fn plugin_serving_one_connection_at_a_time_fails_concurrent_connections() {
    let plugin = start_raw(TransportFlaw::OneConnectionAtATime);
    let report = run_suite(&plugin.socket, &[], &["protocol.connection.concurrent"]).await;
    assert_fails(&report, "protocol.connection.concurrent");
}

const NO_HOST_ESCAPE: &[Claim] = &[Claim::NoHostEscape];

#[tokio::test]
async fn allow_all_plugin_fails_plain_privileged_create() {
    let plugin = start(AllowAll);
    let report = run_suite(
        &plugin.socket,
        NO_HOST_ESCAPE,
        &["security.create.privileged.plain"],
    )
    .await;
    assert_fails(&report, "security.create.privileged.plain");
}

#[tokio::test]
async fn allow_all_plugin_passes_the_protocol_group() {
    let plugin = start(AllowAll);
    let report = run_suite(&plugin.socket, &[], &["protocol.*"]).await;
    assert_eq!(report.summary().failed, 0, "{}", report.to_text());
}

#[tokio::test]
async fn case_sensitive_body_reader_fails_lower_case_privileged() {
    let plugin = start(FlawedPolicy::new(Flaw::CaseSensitiveBody));
    let report = run_suite(
        &plugin.socket,
        NO_HOST_ESCAPE,
        &["security.create.privileged.*"],
    )
    .await;
    assert_passes(&report, "security.create.privileged.plain");
    assert_fails(&report, "security.create.privileged.lower-case");
}

#[tokio::test]
async fn last_wins_reader_without_merge_fails_merged_hostconfig() {
    let plugin = start(FlawedPolicy::new(Flaw::LastWinsWithoutMerge));
    let report = run_suite(
        &plugin.socket,
        NO_HOST_ESCAPE,
        &["security.create.privileged.*"],
    )
    .await;
    assert_passes(&report, "security.create.privileged.lower-case");
    assert_fails(&report, "security.create.privileged.merged-hostconfig");
    assert_fails(&report, "security.create.privileged.repeated-hostconfig");
}

#[tokio::test]
async fn pattern_over_raw_uri_fails_encoded_slash_route() {
    let plugin = start(FlawedPolicy::new(Flaw::PatternOverRawUri));
    let report = run_suite(
        &plugin.socket,
        NO_HOST_ESCAPE,
        &["security.route.*", "security.create.privileged.plain"],
    )
    .await;
    assert_passes(&report, "security.create.privileged.plain");
    assert_fails(&report, "security.route.encoded-slash");
}

#[tokio::test]
async fn empty_body_create_allowed_fails_chunked_create_cve_2024_41110() {
    let plugin = start(FlawedPolicy::new(Flaw::EmptyBodyCreateAllowed));
    let report = run_suite(
        &plugin.socket,
        NO_HOST_ESCAPE,
        &[
            "security.missing-body.*",
            "security.create.privileged.plain",
        ],
    )
    .await;
    assert_passes(&report, "security.create.privileged.plain");
    assert_fails(&report, "security.missing-body.chunked-create");
}

#[tokio::test]
async fn empty_body_create_allowed_fails_oversized_create_cve_2026_34040() {
    let plugin = start(FlawedPolicy::new(Flaw::EmptyBodyCreateAllowed));
    let report = run_suite(
        &plugin.socket,
        NO_HOST_ESCAPE,
        &["security.missing-body.oversized-create"],
    )
    .await;
    assert_fails(&report, "security.missing-body.oversized-create");
}

#[tokio::test]
async fn unchecked_exec_fails_privileged_exec() {
    let plugin = start(FlawedPolicy::new(Flaw::ExecPrivilegedUnchecked));
    let report = run_suite(
        &plugin.socket,
        NO_HOST_ESCAPE,
        &["security.exec.*", "security.create.privileged.plain"],
    )
    .await;
    assert_passes(&report, "security.create.privileged.plain");
    assert_fails(&report, "security.exec.privileged");
}

#[tokio::test]
async fn unchecked_volume_options_fail_local_bind_volume() {
    let plugin = start(FlawedPolicy::new(Flaw::VolumeBindOptionsUnchecked));
    let report = run_suite(
        &plugin.socket,
        NO_HOST_ESCAPE,
        &["security.volume.*", "security.create.mounts.*"],
    )
    .await;
    assert_passes(&report, "security.create.mounts.bind");
    assert_fails(&report, "security.volume.create.local-bind");
    assert_fails(&report, "security.create.mounts.volume-local-bind");
}

#[tokio::test]
async fn wrong_implements_fails_activation_and_stops_the_run() {
    let plugin = start(FlawedPolicy::new(Flaw::WrongImplements));
    let report = run_suite(&plugin.socket, &[], &["protocol.*"]).await;
    assert_fails(&report, "protocol.activate.implements-authz");
    assert_eq!(report.exit_code(), conformance::report::EXIT_HARNESS);
}

#[tokio::test]
async fn wrong_implements_does_not_matter_for_a_managed_plugin() {
    let plugin = start(FlawedPolicy::new(Flaw::WrongImplements));
    let report = run_managed_suite(&plugin.socket, &["protocol.*"]).await;
    assert!(matches!(
        outcome(&report, "protocol.activate.implements-authz"),
        Outcome::Skipped { .. }
    ));
    assert_eq!(
        report.exit_code(),
        conformance::report::EXIT_OK,
        "{}",
        report.to_text()
    );
}

#[tokio::test]
async fn generated_bodies_catch_the_case_sensitive_reader() {
    let plugin = start(FlawedPolicy::new(Flaw::CaseSensitiveBody));
    let report = run_suite(&plugin.socket, NO_HOST_ESCAPE, &["fuzz.create.*"]).await;
    assert_fails(&report, "fuzz.create.dangerous-spellings");
}

#[tokio::test]
async fn generated_bodies_catch_the_last_wins_reader() {
    let plugin = start(FlawedPolicy::new(Flaw::LastWinsWithoutMerge));
    let report = run_suite(&plugin.socket, NO_HOST_ESCAPE, &["fuzz.create.*"]).await;
    assert_fails(&report, "fuzz.create.dangerous-spellings");
}

#[tokio::test]
async fn generated_body_failure_reports_the_shrunk_body() {
    let plugin = start(FlawedPolicy::new(Flaw::CaseSensitiveBody));
    let report = run_suite(&plugin.socket, NO_HOST_ESCAPE, &["fuzz.create.*"]).await;
    match outcome(&report, "fuzz.create.dangerous-spellings") {
        Outcome::Failed { seen, .. } => assert!(
            seen.contains(" allowed for minimal body {\"Image\":\"busybox\","),
            "{seen}"
        ),
        other => panic!(
            "expected a failure, got {other:?}: {seen_all}",
            seen_all = report.to_text()
        ),
    }
}

#[tokio::test]
async fn deny_all_plugin_passes_security_but_fails_the_run_workflow() {
    let plugin = start(DenyAll);
    let report = run_suite(
        &plugin.socket,
        &[Claim::NoHostEscape, Claim::OrdinaryUse],
        &["security.create.privileged.plain", "replay.workflow.run"],
    )
    .await;
    assert_passes(&report, "security.create.privileged.plain");
    assert_fails(&report, "replay.workflow.run");
}

#[tokio::test]
async fn fail_open_plugin_fails_no_err_with_allow() {
    let plugin = start(FlawedPolicy::new(Flaw::FailOpenWithErr));
    let report = run_suite(&plugin.socket, &[], &["protocol.reply.*"]).await;
    assert_passes(&report, "protocol.reply.decodable");
    assert_fails(&report, "protocol.reply.no-err-with-allow");
}
