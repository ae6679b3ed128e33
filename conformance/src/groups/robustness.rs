//! Robustness cases: malformed, oversized, deeply nested, slow, half-closed and flooding
//! callers. A plugin must fail closed on each and keep answering everyone else.

use std::time::Duration;

use ::protocol::wire::{AuthzRequest, Phase, AUTHZ_REQUEST_PATH};

use super::{ordinary_request, still_serving};
use crate::case::{Group, Level, Outcome};
use crate::registry::{Case, CheckFuture};
use crate::runner::Ctx;
use crate::target::Verdict;
use crate::transport::{plugin_call, RawConnection};

/// The robustness cases.
pub fn cases() -> Vec<Case> {
    let case = |id, requirement, source, probe| {
        Case::probe(
            id,
            Group::Robustness,
            Level::Must,
            requirement,
            source,
            probe,
        )
    };
    vec![
        case(
            "robustness.malformed-json.fails-closed",
            "A call whose envelope is not valid JSON is not allowed.",
            "fail-closed principle; moby pkg/authorization/authz.go lets a call through only on Allow true",
            malformed_json_fails_closed,
        ),
        case(
            "robustness.malformed-json.keeps-serving",
            "After a call whose envelope is not valid JSON, the plugin still answers ordinary calls.",
            "a plugin that dies makes dockerd fail every API call (pkg/plugins/client.go retries, then HTTP 500)",
            malformed_json_keeps_serving,
        ),
        case(
            "robustness.not-an-object.fails-closed",
            "Envelopes that are JSON but not a request object (array, string, null, empty body) are not allowed.",
            "fail-closed principle; moby pkg/authorization/api.go (Request is an object)",
            not_an_object_fails_closed,
        ),
        case(
            "robustness.invalid-base64.fails-closed",
            "A create whose RequestBody is not valid standard base64 is not allowed.",
            "moby pkg/authorization/api.go (RequestBody []byte is base64 in JSON)",
            invalid_base64_fails_closed,
        ),
        case(
            "robustness.wrong-types.fails-closed",
            "A create whose envelope fields have the wrong JSON types (RequestUri a list, RequestBody a number, RequestHeaders a string) is not allowed.",
            "fail-closed principle; Go's encoding/json refuses these types for authorization.Request",
            wrong_types_fail_closed,
        ),
        case(
            "robustness.large-body.answered",
            "A create whose RequestBody is 4 MiB (what dockerd 29.3.1 and later forward) is answered, and the plugin keeps serving.",
            "moby 29.3.1 pkg/authorization: bodies up to 4 MiB are forwarded (CVE-2026-34040 fix)",
            large_body_answered,
        ),
        case(
            "robustness.deep-nesting.answered",
            "Envelopes and bodies nested 100000 levels deep are answered without a crash, and the plugin keeps serving.",
            "stack exhaustion in recursive JSON readers; Go's encoding/json stops at depth 10000",
            deep_nesting_answered,
        ),
        case(
            "robustness.slow-client.others-served",
            "While a client sends half a request and stalls, other clients are answered within the latency bound.",
            "slowloris; dockerd's calls share the plugin with any local process that can reach its socket",
            slow_client_others_served,
        ),
        case(
            "robustness.half-closed.fails-closed",
            "A call whose body is cut short by the client closing its side is not allowed, and the plugin keeps serving.",
            "half-closed TCP/unix connections; a truncated body must not be read as a complete one",
            half_closed_fails_closed,
        ),
        case(
            "robustness.garbage.keeps-serving",
            "After bytes that are not HTTP at all, the plugin still answers ordinary calls.",
            "any local process can write to the plugin socket",
            garbage_keeps_serving,
        ),
        case(
            "robustness.flood.others-served",
            "With 256 idle connections held open, a new client is still answered within 15 seconds.",
            "connection floods on the plugin socket (bounded, unix socket only)",
            flood_others_served,
        ),
    ]
}

const NOT_ALLOWED: &str = "no allow (a deny or an error)";

/// Sends each envelope; fails on the first that is allowed.
async fn none_allowed(ctx: &Ctx, envelopes: &[Vec<u8>]) -> Outcome {
    for envelope in envelopes {
        if let Ok(exchange) = ctx.target.call_envelope(Phase::Request, envelope).await {
            if exchange.verdict.allows() {
                let shown: String = String::from_utf8_lossy(envelope)
                    .chars()
                    .take(160)
                    .collect();
                return Outcome::failed(NOT_ALLOWED, format!("allow for {shown:?}"));
            }
        }
    }
    Outcome::Passed
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
        none_allowed(
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
        none_allowed(ctx, &envelopes).await
    })
}

fn invalid_base64_fails_closed(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        none_allowed(
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
        none_allowed(ctx, &envelopes).await
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
        let request = AuthzRequest {
            request_method: "POST".into(),
            request_uri: "/v1.41/containers/create".into(),
            request_body: padded_create_body(4 * 1024 * 1024),
            ..AuthzRequest::default()
        };
        if let Err(e) = ctx.target.call(Phase::Request, &request).await {
            return Outcome::failed("an answer (any verdict)", e.to_string());
        }
        serving_outcome(ctx).await
    })
}

fn deep_nesting_answered(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        const DEPTH: usize = 100_000;
        let nested = format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH));
        let in_body = format!("{{\"Image\":\"busybox\",\"HostConfig\":{{\"Binds\":{nested}}}}}");
        let in_envelope = format!(
            "{{\"RequestMethod\":\"GET\",\"RequestUri\":\"/_ping\",\"RequestFutureField\":{nested}}}"
        );
        let envelopes = [
            create_envelope(base64_standard(in_body.as_bytes()).into()),
            in_envelope.into_bytes(),
        ];
        for envelope in &envelopes {
            if let Err(e) = ctx.target.call_envelope(Phase::Request, envelope).await {
                return Outcome::failed("an answer (any verdict)", e.to_string());
            }
        }
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

fn half_closed_fails_closed(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
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
        let mut connection = match ctx.target.connect().await {
            Ok(c) => c,
            Err(e) => return Outcome::failed(NOT_ALLOWED, e.to_string()),
        };
        let sent = async {
            connection.send(&call).await?;
            connection.shutdown_write().await
        };
        if sent.await.is_ok() {
            if let Ok(response) = connection.read_response(ctx.target.call_timeout()).await {
                if Verdict::from_reply(Phase::Request, response.status, &response.body).allows() {
                    return Outcome::failed(NOT_ALLOWED, "allow for a truncated call");
                }
            }
        }
        drop(connection);
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
        let bound = Duration::from_secs(15);
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
