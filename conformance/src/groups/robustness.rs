//! Robustness cases: malformed, oversized, deeply nested, slow, half-closed and flooding
//! callers. A plugin must fail closed on each and keep answering everyone else.

use std::time::Duration;

use std::collections::BTreeMap;

use ::protocol::wire::{AuthzRequest, Phase, AUTHZ_REQUEST_PATH};

use super::{ordinary_request, still_serving};
use crate::case::{Group, Level, Outcome};
use crate::registry::{Case, CheckFuture};
use crate::runner::Ctx;
use crate::target::Verdict;
use crate::transport::{plugin_call, RawConnection};

/// Why the cases about envelopes dockerd never sends are SHOULD: the verdict goes back only to
/// the local process that sent the envelope, never to dockerd, so an allow lets nothing
/// through; a deny is still what a plugin that fails closed everywhere gives.
const NEVER_SENT: &str = "dockerd never sends this (its envelope is json.Marshal of pkg/authorization Request, in a whole HTTP request), so the verdict reaches only the local process that sent it; fail-closed principle";

/// The robustness cases.
///
/// Every call a robustness case sends must be answered with a verdict (HTTP 200 that dockerd
/// decodes): a refusal by an error status, a dropped connection or a timeout fails it. The
/// cases about messages dockerd never sends are SHOULD ([`NEVER_SENT`]); keeping serving
/// everyone else is MUST whatever was sent, since any local process can write to the socket.
pub fn cases() -> Vec<Case> {
    let case = |id, level, requirement, source, probe| {
        Case::probe(id, Group::Robustness, level, requirement, source, probe)
    };
    vec![
        case(
            "robustness.malformed-json.fails-closed",
            Level::Should,
            "A call whose envelope is not valid JSON is answered with a deny (HTTP 200, Allow false), not allowed and not by an error status or a dropped connection.",
            NEVER_SENT,
            malformed_json_fails_closed,
        ),
        case(
            "robustness.malformed-json.keeps-serving",
            Level::Must,
            "After a call whose envelope is not valid JSON, the plugin still answers ordinary calls.",
            "a plugin that dies makes dockerd fail every API call (pkg/plugins/client.go retries, then HTTP 500); any local process can write to the socket",
            malformed_json_keeps_serving,
        ),
        case(
            "robustness.not-an-object.fails-closed",
            Level::Should,
            "Envelopes that are JSON but not a request object (array, string, null, empty body, true) are answered with a deny, not allowed and not by an error status or a dropped connection.",
            NEVER_SENT,
            not_an_object_fails_closed,
        ),
        case(
            "robustness.invalid-base64.fails-closed",
            Level::Should,
            "A create whose RequestBody is not valid standard base64 is answered with a deny, not allowed and not by an error status or a dropped connection.",
            NEVER_SENT,
            invalid_base64_fails_closed,
        ),
        case(
            "robustness.wrong-types.fails-closed",
            Level::Should,
            "A create whose envelope fields have the wrong JSON types (RequestUri a list, RequestBody a number, RequestHeaders a string) is answered with a deny, not allowed and not by an error status or a dropped connection.",
            NEVER_SENT,
            wrong_types_fail_closed,
        ),
        case(
            "robustness.large-body.answered",
            Level::Must,
            "A create whose RequestBody is 4 MiB (what dockerd 29.3.1 and later forward) is answered with a verdict (HTTP 200, allow or deny), and the plugin keeps serving.",
            "moby 29.3.1 pkg/authorization: bodies up to 4 MiB are forwarded (CVE-2026-34040 fix), and the daemon creates the container",
            large_body_answered,
        ),
        case(
            "robustness.deep-nesting.answered",
            Level::Should,
            "Envelopes and bodies nested 100000 levels deep are answered with a verdict (HTTP 200, allow or deny).",
            "stack exhaustion in recursive JSON readers; dockerd forwards such a body but refuses it itself (Go's encoding/json stops at depth 10000), so a plugin error only changes the client's error",
            deep_nesting_answered,
        ),
        case(
            "robustness.deep-nesting.keeps-serving",
            Level::Must,
            "After envelopes and bodies nested 100000 levels deep, the plugin still answers ordinary calls.",
            "stack exhaustion in recursive JSON readers kills the process; a dead plugin fails every API call",
            deep_nesting_keeps_serving,
        ),
        case(
            "robustness.create-without-host-config.answered",
            Level::Must,
            "Creates with no HostConfig, a null one, an empty one or null Binds are answered with a verdict (HTTP 200, allow or deny), not by an error status or a dropped connection.",
            "moby daemon/create.go (a create without HostConfig gets an empty one and runs) and runconfig/config.go; the Engine API makes HostConfig optional",
            create_without_host_config_answered,
        ),
        case(
            "robustness.invalid-create.keeps-serving",
            Level::Must,
            "After creates dockerd forwards but then refuses itself (an empty bind, a bare colon, a body that is not an object), the plugin still answers ordinary calls.",
            "moby volume/mounts/linux_parser.go (an empty bind is an invalid volume specification, refused after the plugin answered); a plugin that dies on it fails every later API call",
            invalid_create_keeps_serving,
        ),
        case(
            "robustness.slow-client.others-served",
            Level::Must,
            "While a client sends half a request and stalls, other clients are answered within the latency bound.",
            "slowloris; dockerd's calls share the plugin with any local process that can reach its socket",
            slow_client_others_served,
        ),
        case(
            "robustness.half-closed.fails-closed",
            Level::Should,
            "A call whose body is cut short by the client closing its side is not allowed.",
            NEVER_SENT,
            half_closed_fails_closed,
        ),
        case(
            "robustness.half-closed.keeps-serving",
            Level::Must,
            "After a call whose body is cut short by the client closing its side, the plugin still answers ordinary calls.",
            "half-closed unix connections; any local process can write to the socket, and a dead plugin fails every API call",
            half_closed_keeps_serving,
        ),
        case(
            "robustness.garbage.keeps-serving",
            Level::Must,
            "After bytes that are not HTTP at all, the plugin still answers ordinary calls.",
            "any local process can write to the plugin socket",
            garbage_keeps_serving,
        ),
        case(
            "robustness.flood.others-served",
            Level::Must,
            "With 256 idle connections held open, a new client is still answered within 15 seconds.",
            "connection floods on the plugin socket (bounded, unix socket only)",
            flood_others_served,
        ),
    ]
}

/// Sends each envelope; every one must be answered with a deny.
async fn all_denied(ctx: &Ctx, envelopes: &[Vec<u8>]) -> Outcome {
    for envelope in envelopes {
        let verdict = ctx
            .target
            .call_envelope(Phase::Request, envelope)
            .await
            .verdict;
        if !matches!(verdict, Verdict::Deny { .. }) {
            let shown: String = String::from_utf8_lossy(envelope)
                .chars()
                .take(160)
                .collect();
            return Outcome::failed(
                "a deny (HTTP 200, Allow false)",
                format!("{verdict} for {shown:?}"),
            );
        }
    }
    Outcome::Passed
}

/// Sends each create body as dockerd forwards it; every one must get a verdict.
async fn all_answered(ctx: &Ctx, bodies: &[&[u8]]) -> Outcome {
    for body in bodies {
        let verdict = ctx
            .target
            .verdict(Phase::Request, &create_request(body))
            .await;
        if !verdict.is_answer() {
            return Outcome::failed(
                "a verdict (HTTP 200, allow or deny)",
                format!("{verdict} for body {:?}", String::from_utf8_lossy(body)),
            );
        }
    }
    Outcome::Passed
}

/// A create as dockerd forwards it: the body with its Content-Type.
fn create_request(body: &[u8]) -> AuthzRequest {
    AuthzRequest {
        request_method: "POST".into(),
        request_uri: "/v1.41/containers/create".into(),
        request_headers: BTreeMap::from([(
            "Content-Type".to_owned(),
            "application/json".to_owned(),
        )]),
        request_body: body.to_vec(),
        ..AuthzRequest::default()
    }
}

/// Passes when the plugin still answers ordinary calls.
async fn serving_outcome(ctx: &Ctx) -> Outcome {
    match still_serving(ctx).await {
        Ok(()) => Outcome::Passed,
        Err(seen) => Outcome::failed("the plugin keeps answering ordinary calls", seen),
    }
}

fn create_envelope(body_field: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "RequestMethod": "POST",
        "RequestUri": "/v1.41/containers/create",
        "RequestHeaders": {"Content-Type": "application/json"},
        "RequestBody": body_field,
    }))
    .expect("JSON serializes")
}

const TRUNCATED: &[u8] =
    br#"{"RequestMethod":"POST","RequestUri":"/v1.41/containers/create","RequestBody":"e30="#;

fn malformed_json_fails_closed(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        all_denied(
            ctx,
            &[
                TRUNCATED.to_vec(),
                b"{\"RequestMethod\":\"GET\",\"RequestUri\":\"/_ping\",}".to_vec(),
                b"\xff\xfe{".to_vec(),
            ],
        )
        .await
    })
}

fn malformed_json_keeps_serving(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let _ = ctx.target.call_envelope(Phase::Request, TRUNCATED).await;
        // Give a crashing plugin the moment it needs to go away.
        tokio::time::sleep(Duration::from_millis(100)).await;
        serving_outcome(ctx).await
    })
}

fn not_an_object_fails_closed(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let envelopes: Vec<Vec<u8>> = [&b"[]"[..], b"\"allow\"", b"null", b"", b"true"]
            .iter()
            .map(|e| e.to_vec())
            .collect();
        all_denied(ctx, &envelopes).await
    })
}

fn invalid_base64_fails_closed(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        all_denied(
            ctx,
            &[
                create_envelope("{\"Image\":\"busybox\"}".into()),
                create_envelope("e30".into()),
                create_envelope("e3=0".into()),
            ],
        )
        .await
    })
}

fn wrong_types_fail_closed(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let mut envelopes = vec![create_envelope(serde_json::json!(12))];
        for (field, value) in [
            (
                "RequestUri",
                serde_json::json!(["/v1.41/containers/create"]),
            ),
            (
                "RequestHeaders",
                serde_json::json!("Content-Type: application/json"),
            ),
            ("RequestMethod", serde_json::json!({"POST": true})),
        ] {
            let mut envelope: serde_json::Value =
                serde_json::from_slice(&create_envelope("e30=".into())).expect("valid JSON");
            envelope[field] = value;
            envelopes.push(serde_json::to_vec(&envelope).expect("JSON serializes"));
        }
        all_denied(ctx, &envelopes).await
    })
}

/// A create body of exactly `size` bytes, padded inside a label so it stays valid JSON.
pub fn padded_create_body(size: usize) -> Vec<u8> {
    let head = br#"{"Image":"busybox","Labels":{"pad":""#;
    let tail = br#""}}"#;
    let mut body = head.to_vec();
    body.resize(size.saturating_sub(tail.len()).max(head.len()), b'a');
    body.extend_from_slice(tail);
    body
}

fn large_body_answered(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let outcome = all_answered(ctx, &[&padded_create_body(4 * 1024 * 1024)]).await;
        if outcome != Outcome::Passed {
            return outcome;
        }
        serving_outcome(ctx).await
    })
}

/// An envelope and a create body, each nested 100000 levels deep.
fn deeply_nested_calls() -> [Vec<u8>; 2] {
    const DEPTH: usize = 100_000;
    let nested = format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH));
    let in_body = format!("{{\"Image\":\"busybox\",\"HostConfig\":{{\"Binds\":{nested}}}}}");
    let in_envelope = format!(
        "{{\"RequestMethod\":\"GET\",\"RequestUri\":\"/_ping\",\"RequestFutureField\":{nested}}}"
    );
    [
        create_envelope(base64_standard(in_body.as_bytes()).into()),
        in_envelope.into_bytes(),
    ]
}

fn deep_nesting_answered(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        for envelope in &deeply_nested_calls() {
            let exchange = ctx.target.call_envelope(Phase::Request, envelope).await;
            if !exchange.verdict.is_answer() {
                return Outcome::failed("a verdict (HTTP 200, allow or deny)", exchange.describe());
            }
        }
        Outcome::Passed
    })
}

fn deep_nesting_keeps_serving(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        for envelope in &deeply_nested_calls() {
            ctx.target.call_envelope(Phase::Request, envelope).await;
        }
        serving_outcome(ctx).await
    })
}

fn create_without_host_config_answered(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        all_answered(
            ctx,
            &[
                br#"{"Image":"busybox"}"#,
                br#"{"Image":"busybox","HostConfig":null}"#,
                br#"{"Image":"busybox","HostConfig":{}}"#,
                br#"{"Image":"busybox","HostConfig":{"Binds":null,"Mounts":null}}"#,
            ],
        )
        .await
    })
}

fn invalid_create_keeps_serving(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        for body in [
            &br#"{"Image":"busybox","HostConfig":{"Binds":[""]}}"#[..],
            br#"{"Image":"busybox","HostConfig":{"Binds":[":"]}}"#,
            br#"{"Image":"busybox","HostConfig":{"Mounts":[{}]}}"#,
            b"[]",
            b"null",
        ] {
            ctx.target.call(Phase::Request, &create_request(body)).await;
        }
        // Give a crashing plugin the moment it needs to go away.
        tokio::time::sleep(Duration::from_millis(100)).await;
        serving_outcome(ctx).await
    })
}

fn base64_standard(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An ordinary call on a fresh connection, answered within `bound`; the failure text otherwise.
async fn answered_within(ctx: &Ctx, bound: Duration) -> Result<(), String> {
    let body = serde_json::to_vec(&ordinary_request()).expect("a request serializes");
    let attempt = async {
        let mut connection = ctx.target.connect().await.map_err(|e| e.to_string())?;
        connection
            .call(AUTHZ_REQUEST_PATH, &body, bound)
            .await
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(bound, attempt).await {
        Err(_) => Err(format!("no answer within {bound:?}")),
        Ok(Err(e)) => Err(e),
        Ok(Ok(response)) if response.status == 200 => Ok(()),
        Ok(Ok(response)) => Err(format!("HTTP {}", response.status)),
    }
}

fn slow_client_others_served(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let expected = format!("an answer to another client within {:?}", ctx.latency_bound);
        let mut stalled = match ctx.target.connect().await {
            Ok(c) => c,
            Err(e) => return Outcome::failed(expected, e.to_string()),
        };
        let call = plugin_call(AUTHZ_REQUEST_PATH, b"{}");
        if let Err(e) = stalled.send(&call[..call.len() / 3]).await {
            return Outcome::failed(expected, e.to_string());
        }
        let result = answered_within(ctx, ctx.latency_bound).await;
        drop(stalled);
        match result {
            Ok(()) => Outcome::Passed,
            Err(seen) => Outcome::failed(expected, seen),
        }
    })
}

/// Sends a privileged create whose body is cut to `{}` and closes the write side; what came
/// back, if anything.
async fn half_closed_call(ctx: &Ctx) -> Result<Verdict, String> {
    let body = serde_json::to_vec(&AuthzRequest {
        request_method: "POST".into(),
        request_uri: "/v1.41/containers/create".into(),
        request_body: br#"{"Image":"busybox","HostConfig":{"Privileged":true}}"#.to_vec(),
        ..AuthzRequest::default()
    })
    .expect("a request serializes");
    let mut call = plugin_call(AUTHZ_REQUEST_PATH, &body);
    // Cut the body so that what arrived is still a complete JSON value: `{}` would be
    // a valid (empty) request if the plugin ignored Content-Length.
    let header_end = call.len() - body.len();
    call.truncate(header_end);
    call.extend_from_slice(b"{}");
    let mut connection = ctx.target.connect().await.map_err(|e| e.to_string())?;
    connection.send(&call).await.map_err(|e| e.to_string())?;
    connection
        .shutdown_write()
        .await
        .map_err(|e| e.to_string())?;
    let verdict = match connection.read_response(ctx.target.call_timeout()).await {
        Ok(response) => Verdict::from_reply(Phase::Request, response.status, &response.body),
        Err(e) => Verdict::Unanswered {
            reason: e.to_string(),
        },
    };
    ctx.target
        .log_raw_refusal("Request POST /v1.41/containers/create cut short", &verdict);
    Ok(verdict)
}

fn half_closed_fails_closed(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        match half_closed_call(ctx).await {
            Ok(verdict) if verdict.allows() => {
                Outcome::failed("no allow", "allow for a truncated call")
            }
            Ok(_) => Outcome::Passed,
            Err(e) => Outcome::failed("a connection to send the call on", e),
        }
    })
}

fn half_closed_keeps_serving(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        // Whatever came back, the plugin must still serve.
        let _ = half_closed_call(ctx).await;
        serving_outcome(ctx).await
    })
}

fn garbage_keeps_serving(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        if let Ok(mut connection) = ctx.target.connect().await {
            let _ = connection
                .send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n\0\0\0")
                .await;
            connection
                .drain_until_closed(Duration::from_millis(500))
                .await;
        }
        serving_outcome(ctx).await
    })
}

fn flood_others_served(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        const IDLE: usize = 256;
        // A plugin that already failed the latency case gets no longer than the latency bound.
        let bound = if ctx.target.is_impatient() {
            ctx.target.call_timeout()
        } else {
            Duration::from_secs(15)
        };
        let expected = format!("an answer within {bound:?} with {IDLE} idle connections open");
        let mut idle: Vec<RawConnection> = Vec::with_capacity(IDLE);
        for _ in 0..IDLE {
            // A plugin may refuse or leave pending connections past its limit: its right.
            match tokio::time::timeout(Duration::from_millis(500), ctx.target.connect()).await {
                Ok(Ok(c)) => idle.push(c),
                _ => break,
            }
        }
        let result = answered_within(ctx, bound).await;
        drop(idle);
        match result {
            Ok(()) => Outcome::Passed,
            Err(seen) => Outcome::failed(expected, seen),
        }
    })
}
