//! Each deliberately broken plugin fails the conformance case that models its flaw.

use std::time::Duration;

use conformance::expectations::Expectations;
use conformance::{Claim, Outcome, Verdict};
use integration_tests::broken::{AllowAll, DenyAll, Flaw, FlawedPolicy};
use integration_tests::raw::TransportFlaw;

use crate::harness::{
    assert_fails, assert_passes, outcome, run_managed_suite, run_suite, start, start_raw, SuiteRun,
};

#[tokio::test]
async fn plugin_dying_on_malformed_json_fails_keeps_serving() {
    let plugin = start_raw(TransportFlaw::DiesOnMalformedJson);
    let report = run_suite(&plugin.socket, &[], &["robustness.malformed-json.*"]).await;
    // Dying is a refusal by failure, which a robustness case does not accept.
    assert_fails(&report, "robustness.malformed-json.fails-closed");
    assert_fails(&report, "robustness.malformed-json.keeps-serving");
}

#[tokio::test]
async fn plugin_serving_one_connection_at_a_time_fails_concurrent_connections() {
    let plugin = start_raw(TransportFlaw::OneConnectionAtATime {
        hold: Duration::ZERO,
    });
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
async fn wrong_implements_fails_activation_as_a_must_case_and_the_run_goes_on() {
    let plugin = start(FlawedPolicy::new(Flaw::WrongImplements));
    let report = run_suite(&plugin.socket, &[], &["protocol.*"]).await;
    assert_fails(&report, "protocol.activate.implements-authz");
    assert_passes(&report, "protocol.reply.decodable");
    assert_eq!(report.harness_error, None);
    assert_eq!(report.exit_code(), conformance::report::EXIT_MUST_FAILED);
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

#[tokio::test]
async fn local_driver_checked_for_bind_only_fails_device_volumes_issue_12() {
    let plugin = start(FlawedPolicy::new(Flaw::LocalDriverBindOnly));
    let report = run_suite(
        &plugin.socket,
        NO_HOST_ESCAPE,
        &["security.volume.*", "security.create.mounts.*"],
    )
    .await;
    assert_passes(&report, "security.volume.create.local-bind");
    assert_fails(&report, "security.volume.create.local-device");
    assert_fails(&report, "security.volume.create.local-proc");
    assert_fails(
        &report,
        "security.create.mounts.volume-local-device-anonymous",
    );
}

#[tokio::test]
async fn body_read_only_for_exact_json_fails_the_charset_create() {
    let plugin = start(FlawedPolicy::new(Flaw::BodyOnlyForExactJson));
    let report = run_suite(
        &plugin.socket,
        NO_HOST_ESCAPE,
        &["security.create.privileged.*"],
    )
    .await;
    assert_passes(&report, "security.create.privileged.plain");
    assert_fails(&report, "security.create.privileged.json-charset");
}

#[tokio::test]
async fn pattern_over_the_uri_with_its_query_fails_a_named_create() {
    let plugin = start(FlawedPolicy::new(Flaw::PatternWithQuery));
    let report = run_suite(
        &plugin.socket,
        NO_HOST_ESCAPE,
        &["security.route.*", "security.create.privileged.plain"],
    )
    .await;
    assert_passes(&report, "security.create.privileged.plain");
    assert_fails(&report, "security.route.create-with-name");
}

#[tokio::test]
async fn ascii_media_type_fails_the_dotted_capital_i_build_issue_12() {
    let plugin = start(FlawedPolicy::new(Flaw::AsciiMediaType));
    let report = run_suite(&plugin.socket, NO_HOST_ESCAPE, &["security.build.*"]).await;
    assert_passes(&report, "security.build.network-host");
    assert_passes(&report, "security.build.form-network-host-urlencoded");
    assert_passes(&report, "security.build.form-network-host-multipart");
    assert_fails(&report, "security.build.form-dotted-capital-i");
}

#[tokio::test]
async fn service_network_refused_by_name_only_fails_the_id_prefix_issue_12() {
    let plugin = start(FlawedPolicy::new(Flaw::ServiceNetworkByNameOnly));
    let report = run_suite(&plugin.socket, NO_HOST_ESCAPE, &["security.service.*"]).await;
    assert_passes(&report, "security.service.network-host-name");
    assert_fails(&report, "security.service.network-id-prefix");
}

#[tokio::test]
async fn duplicate_content_type_is_a_should_that_every_build_allowing_plugin_fails() {
    let plugin = start(FlawedPolicy::new(Flaw::AsciiMediaType));
    let report = run_suite(
        &plugin.socket,
        NO_HOST_ESCAPE,
        &["security.build.duplicate-content-type"],
    )
    .await;
    assert_fails(&report, "security.build.duplicate-content-type");
    assert_eq!(report.exit_code(), conformance::report::EXIT_OK);
}

#[tokio::test]
async fn a_plugin_crashing_on_unusual_creates_passes_security_by_failure_and_says_so() {
    let plugin = start_raw(TransportFlaw::CrashesOnUnusualCreates);
    let report = run_suite(
        &plugin.socket,
        NO_HOST_ESCAPE,
        &[
            "security.create.privileged.plain",
            "security.create.privileged.top-level",
        ],
    )
    .await;
    assert_passes(&report, "security.create.privileged.plain");
    assert_passes(&report, "security.create.privileged.top-level");
    let by_failure = |id| report.result(id).and_then(|r| r.refused_by_failure());
    assert!(by_failure("security.create.privileged.plain").is_none());
    let refusal = by_failure("security.create.privileged.top-level")
        .unwrap_or_else(|| panic!("reported as a deny:\n{}", report.to_text()));
    assert!(
        matches!(refusal.verdict, Verdict::Unanswered { .. }),
        "{refusal:?}"
    );
    assert!(
        report
            .to_text()
            .contains("refused by the plugin failing, not by a deny"),
        "{}",
        report.to_text()
    );
    assert_eq!(report.summary().refused_by_failure, 1);
}

#[tokio::test]
async fn a_plugin_crashing_on_a_create_without_host_config_fails_robustness() {
    let plugin = start_raw(TransportFlaw::CrashesOnUnusualCreates);
    let report = run_suite(
        &plugin.socket,
        &[],
        &["robustness.create-without-host-config.*"],
    )
    .await;
    assert_fails(&report, "robustness.create-without-host-config.answered");
}

#[tokio::test]
async fn a_plugin_dying_on_an_empty_bind_fails_invalid_create_keeps_serving() {
    let plugin = start_raw(TransportFlaw::CrashesOnUnusualCreates);
    let report = run_suite(&plugin.socket, &[], &["robustness.invalid-create.*"]).await;
    assert_fails(&report, "robustness.invalid-create.keeps-serving");
}

#[tokio::test]
async fn refusing_with_server_errors_fails_refusal_has_msg_across_the_run() {
    let plugin = start_raw(TransportFlaw::RefusesWithServerErrors);
    let report = run_suite(
        &plugin.socket,
        NO_HOST_ESCAPE,
        &[
            "protocol.reply.refusal-has-msg",
            "security.create.privileged.plain",
        ],
    )
    .await;
    assert_passes(&report, "security.create.privileged.plain");
    assert_fails(&report, "protocol.reply.refusal-has-msg");
    match outcome(&report, "protocol.reply.refusal-has-msg") {
        Outcome::Failed { seen, .. } => assert!(seen.contains("plugin errors"), "{seen}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn refusal_has_msg_judges_every_refusal_and_passes_a_plugin_that_explains_each() {
    let plugin = start(FlawedPolicy::new(Flaw::ExecPrivilegedUnchecked));
    let report = run_suite(
        &plugin.socket,
        NO_HOST_ESCAPE,
        &["protocol.reply.refusal-has-msg", "security.create.*"],
    )
    .await;
    assert_passes(&report, "protocol.reply.refusal-has-msg");
}

#[tokio::test]
async fn refusal_has_msg_is_skipped_when_the_run_saw_no_refusal() {
    let plugin = start(AllowAll);
    let report = run_suite(&plugin.socket, &[], &["protocol.reply.refusal-has-msg"]).await;
    assert!(matches!(
        outcome(&report, "protocol.reply.refusal-has-msg"),
        Outcome::Skipped { .. }
    ));
}

#[tokio::test]
async fn an_expected_failure_does_not_fail_the_run_and_an_unexpected_pass_is_reported() {
    let plugin = start(AllowAll);
    let expectations = Expectations::parse(
        "security.create.privileged.plain = allows everything\nprotocol.reply.decodable = wrong\n",
    )
    .expect("valid");
    let report = SuiteRun {
        claims: NO_HOST_ESCAPE,
        patterns: &[
            "security.create.privileged.plain",
            "protocol.reply.decodable",
        ],
        expectations,
        ..SuiteRun::default()
    }
    .against(&plugin.socket)
    .await;
    assert_fails(&report, "security.create.privileged.plain");
    assert_eq!(report.exit_code(), conformance::report::EXIT_OK);
    assert_eq!(report.summary().expected_failures, 1);
    assert_eq!(report.summary().unexpected_passes, 1);
    let text = report.to_text();
    assert!(
        text.contains("# expected failure: allows everything"),
        "{text}"
    );
    assert!(
        text.contains("ok protocol.reply.decodable (MUST) # unexpectedly passed"),
        "{text}"
    );
}
