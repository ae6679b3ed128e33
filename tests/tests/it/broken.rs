//! Each deliberately broken plugin fails the conformance case that models its flaw.

use integration_tests::raw::TransportFlaw;

use crate::harness::{assert_fails, assert_passes, run_suite, start_raw};

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
    let report = run_suite(&plugin.socket, &[], &["protocol.connection.*"]).await;
    assert_passes(&report, "protocol.connection.keep-alive");
    assert_fails(&report, "protocol.connection.concurrent");
}
