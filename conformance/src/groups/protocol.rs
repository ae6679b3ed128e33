//! Protocol cases: activation, the reply's shape and meaning, both phases, tolerance of
//! unknown and absent fields, connection reuse and concurrency, and latency.

use std::collections::BTreeMap;

use ::protocol::body::decode;
use ::protocol::wire::{AuthzReply, AuthzRequest, Phase, AUTHZ_REQUEST_PATH};

use super::ordinary_request;
use crate::case::{CaseInfo, Group, Level, Outcome};
use crate::registry::{Case, Check, CheckFuture};
use crate::runner::{Ctx, ACTIVATE_CASE_ID};
use crate::target::{Exchange, RefusalKind, SeenRefusal, Verdict};

/// The protocol cases.
pub fn cases() -> Vec<Case> {
    let case = |id, level, requirement, source, probe| {
        Case::probe(id, Group::Protocol, level, requirement, source, probe)
    };
    let refusal_has_msg = Case {
        info: CaseInfo {
            id: "protocol.reply.refusal-has-msg".to_owned(),
            group: Group::Protocol,
            level: Level::Should,
            requirement: "Every refusal of a request dockerd could send, in the whole run, is a deny with a non-empty Msg, which dockerd shows the client after \"authorization denied by plugin NAME: \"; a refusal by an error status reaches the client as \"plugin NAME failed with error\", a dropped call as nothing.".to_owned(),
            source: "moby pkg/authorization/authz.go (newAuthorizationError) and pkg/plugins/client.go (callWithRetry: a non-200 reply is a plugin error)".to_owned(),
        },
        check: Check::RunWide {
            probe: refusal_candidates,
            judge: every_refusal_has_msg,
        },
    };
    vec![
        case(
            ACTIVATE_CASE_ID,
            Level::Must,
            "Plugin.Activate with an empty body is answered HTTP 200 with a manifest whose Implements lists exactly \"authz\".",
            "moby pkg/plugins/plugins.go (activateWithLock, Implements) and pkg/authorization/plugin.go",
            activate_implements_authz,
        ),
        case(
            "protocol.reply.decodable",
            Level::Must,
            "An ordinary request-phase call, sent as dockerd sends it (no Content-Type), is answered HTTP 200 with a reply dockerd decodes.",
            "moby pkg/plugins/client.go (callWithRetry, Call) and pkg/authorization/api.go (Response)",
            reply_decodable,
        ),
        case(
            "protocol.connection.concurrent",
            Level::Must,
            "32 connections opened at once each get their call answered within the latency bound while all stay open.",
            "dockerd serves API calls concurrently and each in-flight call holds its own plugin connection",
            concurrent_connections,
        ),
        case(
            "protocol.latency.bounded",
            Level::Must,
            "Each of 50 ordinary calls is answered within the latency bound (default 1 s): dockerd waits on the plugin with no timeout of its own.",
            "moby pkg/authorization/plugin.go (Call without a request timeout): a slow plugin stalls every API call",
            latency_bounded,
        ),
        case(
            "protocol.request.unknown-fields-tolerated",
            Level::Must,
            "A request carrying fields the plugin does not know gets the same verdict as one without them.",
            "moby pkg/authorization/api.go: newer daemons add fields (RequestPeerCertificates arrived in 1.12.x)",
            unknown_fields_tolerated,
        ),
        case(
            "protocol.request.absent-fields-tolerated",
            Level::Must,
            "A request with only RequestMethod and RequestUri (every other field omitted, as Go's omitempty does) is answered HTTP 200 with a decodable reply.",
            "moby pkg/authorization/api.go (omitempty on every field); real 20.10 over the unix socket sends no User",
            absent_fields_tolerated,
        ),
        case(
            "protocol.request.tls-fields-tolerated",
            Level::Should,
            "A request from a TLS client (User, UserAuthNMethod \"TLS\", RequestPeerCertificates) is answered HTTP 200 with a decodable reply.",
            "moby pkg/authorization/authz.go (PeerCertificate) with dockerd --tlsverify",
            tls_fields_tolerated,
        ),
        case(
            "protocol.response.buffered-answered",
            Level::Must,
            "A response-phase call with ResponseStatusCode, ResponseHeaders and ResponseBody is answered HTTP 200 with a decodable reply.",
            "moby pkg/authorization/authz.go (AuthZResponse) and middleware.go",
            response_buffered_answered,
        ),
        case(
            "protocol.response.streamed-answered",
            Level::Must,
            "A response-phase call with no status, headers or body (a flushed or hijacked stream) is answered HTTP 200 with a decodable reply.",
            "moby pkg/authorization/response.go (Flush, Hijack): streamed responses reach AuthZRes empty",
            response_streamed_answered,
        ),
        case(
            "protocol.reply.refusal-is-a-deny",
            Level::Should,
            "A call the plugin refuses (here: a malformed one) is answered HTTP 200 with Allow false, not with an HTTP error status that dockerd reports as a plugin failure.",
            "moby pkg/plugins/client.go: a non-200 reply becomes \"plugin NAME failed with error\" (HTTP 500), not a 403 deny",
            refusal_is_a_deny,
        ),
        refusal_has_msg,
        case(
            "protocol.reply.no-err-with-allow",
            Level::Must,
            "No HTTP 200 reply sets Allow true together with an Err: dockerd ignores Err on 200 and lets the call through.",
            "moby pkg/authorization/authz.go (only Allow is read on success) and pkg/plugins/client.go (Err only read on non-200)",
            no_err_with_allow,
        ),
        case(
            "protocol.connection.keep-alive",
            Level::Must,
            "Several calls in sequence on one kept-alive connection are each answered.",
            "Go net/http Transport as used by moby pkg/plugins/transport: idle plugin connections are reused",
            keep_alive,
        ),
    ]
}

/// Passes when `request` in `phase` is answered HTTP 200 with a decodable reply.
async fn expect_answered(ctx: &Ctx, phase: Phase, request: &AuthzRequest) -> Outcome {
    let exchange = ctx.target.call(phase, request).await;
    if exchange.verdict.is_answer() {
        Outcome::Passed
    } else {
        Outcome::failed("HTTP 200 with a reply dockerd decodes", exchange.describe())
    }
}

fn activate_implements_authz(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        match ctx.target.activate().await {
            Ok(_) => Outcome::Passed,
            Err(e) => Outcome::failed("HTTP 200 {\"Implements\":[\"authz\"]}", e.to_string()),
        }
    })
}

fn reply_decodable(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move { expect_answered(ctx, Phase::Request, &ordinary_request()).await })
}

fn unknown_fields_tolerated(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let plain = ordinary_request();
        let mut value = serde_json::to_value(&plain).expect("a request serializes");
        let object = value.as_object_mut().expect("a request is an object");
        object.insert(
            "RequestFutureField".into(),
            serde_json::json!({"Nested": [1, "two", null], "Flag": true}),
        );
        object.insert("ResponseTrailers".into(), serde_json::json!({}));
        let with_extra = serde_json::to_vec(&value).expect("JSON serializes");
        let baseline = ctx.target.verdict(Phase::Request, &plain).await;
        let extra = ctx
            .target
            .call_envelope(Phase::Request, &with_extra)
            .await
            .verdict;
        if baseline.allows() == extra.allows() && extra.is_answer() {
            Outcome::Passed
        } else {
            Outcome::failed(
                format!("the same verdict as without the fields ({baseline})"),
                extra.to_string(),
            )
        }
    })
}

fn absent_fields_tolerated(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let minimal = AuthzRequest {
            request_method: "GET".into(),
            request_uri: "/_ping".into(),
            ..AuthzRequest::default()
        };
        expect_answered(ctx, Phase::Request, &minimal).await
    })
}

/// The client certificate dockerd would forward for TLS user `common_name`: a whole
/// self-signed certificate made for this run, as the PEM text dockerd's `PeerCertificate`
/// marshals (the wire type base64-encodes it, as Go does for `[]byte`).
pub fn peer_certificate(common_name: &str) -> Result<String, rcgen::Error> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate()?;
    Ok(params.self_signed(&key)?.pem())
}

fn tls_fields_tolerated(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let certificate = match peer_certificate("alice") {
            Ok(pem) => pem,
            Err(e) => {
                return Outcome::failed("a client certificate to send", e.to_string());
            }
        };
        let request = AuthzRequest {
            user: "alice".into(),
            user_authn_method: "TLS".into(),
            request_peer_certificates: vec![base64_standard(certificate.as_bytes())],
            ..ordinary_request()
        };
        expect_answered(ctx, Phase::Request, &request).await
    })
}

fn base64_standard(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn response_buffered_answered(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let request = AuthzRequest {
            response_status_code: 200,
            response_headers: BTreeMap::from([
                ("Api-Version".to_owned(), "1.41".to_owned()),
                ("Content-Type".to_owned(), "application/json".to_owned()),
            ]),
            response_body: br#"{"Version":"20.10.24","ApiVersion":"1.41"}"#.to_vec(),
            ..ordinary_request()
        };
        expect_answered(ctx, Phase::Response, &request).await
    })
}

fn response_streamed_answered(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let request = AuthzRequest {
            request_method: "GET".into(),
            request_uri: "/v1.41/events".into(),
            ..AuthzRequest::default()
        };
        expect_answered(ctx, Phase::Response, &request).await
    })
}

/// Calls every plugin refuses whatever its policy: the envelope cannot be read as a request.
const MALFORMED_ENVELOPES: &[&[u8]] = &[
    br#"{"RequestMethod":"POST","RequestUri":"/v1.41/containers/create""#,
    br#"{"RequestMethod":"POST","RequestUri":"/v1.41/containers/create","RequestBody":"not base64!"}"#,
];

/// The refusals the plugin gives to [`MALFORMED_ENVELOPES`]; `Err` when one was allowed.
async fn refusals(ctx: &Ctx) -> Result<Vec<Exchange>, Outcome> {
    let mut seen = Vec::new();
    for envelope in MALFORMED_ENVELOPES {
        let exchange = ctx.target.call_envelope(Phase::Request, envelope).await;
        if exchange.verdict.allows() {
            return Err(Outcome::failed(
                "a refusal",
                format!("allow for {:?}", String::from_utf8_lossy(envelope)),
            ));
        }
        seen.push(exchange);
    }
    Ok(seen)
}

fn refusal_is_a_deny(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        match refusals(ctx).await {
            Err(outcome) => outcome,
            Ok(seen) => match seen
                .iter()
                .find(|e| !matches!(e.verdict, Verdict::Deny { .. }))
            {
                None => Outcome::Passed,
                Some(exchange) => Outcome::failed("HTTP 200 with Allow false", exchange.describe()),
            },
        }
    })
}

/// Sends requests most policies refuse (a privileged create, a create whose body is cut
/// short), so that the run has refusals to judge even when only this case is selected.
fn refusal_candidates(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        for body in [
            &br#"{"Image":"busybox","HostConfig":{"Privileged":true}}"#[..],
            br#"{"Image":"busybox","HostConfig":"#,
        ] {
            let request = AuthzRequest {
                request_method: "POST".into(),
                request_uri: "/v1.41/containers/create".into(),
                request_headers: BTreeMap::from([(
                    "Content-Type".to_owned(),
                    "application/json".to_owned(),
                )]),
                request_body: body.to_vec(),
                ..AuthzRequest::default()
            };
            ctx.target.call(Phase::Request, &request).await;
        }
        Outcome::Passed
    })
}

/// Every refusal of a well-formed request is a deny with a Msg.
fn every_refusal_has_msg(refusals: &[SeenRefusal]) -> Outcome {
    let judged: Vec<&SeenRefusal> = refusals.iter().filter(|r| r.well_formed).collect();
    if judged.is_empty() {
        return Outcome::skipped("the run saw no refusal of a request dockerd could send");
    }
    let silent: Vec<&&SeenRefusal> = judged
        .iter()
        .filter(|r| !matches!(&r.verdict, Verdict::Deny { msg, .. } if !msg.trim().is_empty()))
        .collect();
    let Some(first) = silent.first() else {
        return Outcome::Passed;
    };
    let count = |kind: RefusalKind| silent.iter().filter(|r| r.kind() == kind).count();
    Outcome::failed(
        "every refusal a deny with a non-empty Msg",
        format!(
            "{} of {} refusals were not a deny with a Msg ({} denies with an empty Msg, {} plugin errors the client reads as \"plugin failed\", {} unanswered); first: {}: {}",
            silent.len(),
            judged.len(),
            count(RefusalKind::Deny),
            count(RefusalKind::PluginError),
            count(RefusalKind::Unanswered),
            first.call,
            first.verdict
        ),
    )
}

fn no_err_with_allow(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let truncated_create = AuthzRequest {
            request_method: "POST".into(),
            request_uri: "/v1.41/containers/create".into(),
            request_body: br#"{"Image":"busybox","HostConfig":"#.to_vec(),
            ..AuthzRequest::default()
        };
        let mut seen = Vec::new();
        for envelope in MALFORMED_ENVELOPES {
            let exchange = ctx.target.call_envelope(Phase::Request, envelope).await;
            seen.push((exchange, String::from_utf8_lossy(envelope).into_owned()));
        }
        for request in [ordinary_request(), truncated_create] {
            let exchange = ctx.target.call(Phase::Request, &request).await;
            let shown = format!("{} {}", request.request_method, request.request_uri);
            seen.push((exchange, shown));
        }
        for (exchange, sent) in seen {
            // An allow is a 200 that decodes, so the decode below succeeds whenever it matters.
            let err = decode::<AuthzReply>(&exchange.body)
                .map(|reply| reply.err)
                .unwrap_or_default();
            if exchange.verdict.allows() && !err.is_empty() {
                return Outcome::failed(
                    "Err only on a refusal or a non-200 reply",
                    format!("{} for {sent:?}", exchange.describe()),
                );
            }
        }
        Outcome::Passed
    })
}

fn keep_alive(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        const EXPECTED: &str = "three answers on one connection";
        let body = serde_json::to_vec(&ordinary_request()).expect("a request serializes");
        let mut connection = match ctx.target.connect().await {
            Ok(c) => c,
            Err(e) => return Outcome::failed(EXPECTED, e.to_string()),
        };
        for n in 1..=3 {
            match connection
                .call(AUTHZ_REQUEST_PATH, &body, ctx.target.call_timeout())
                .await
            {
                Ok(response) if response.status == 200 => {
                    if response
                        .header("connection")
                        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
                        && n < 3
                    {
                        return Outcome::failed(
                            EXPECTED,
                            format!("call {n} answered with Connection: close"),
                        );
                    }
                }
                Ok(response) => {
                    return Outcome::failed(
                        EXPECTED,
                        format!("call {n} answered HTTP {}", response.status),
                    )
                }
                Err(e) => return Outcome::failed(EXPECTED, format!("call {n}: {e}")),
            }
        }
        Outcome::Passed
    })
}

fn concurrent_connections(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        const CONNECTIONS: usize = 32;
        let expected = format!("{CONNECTIONS} answers while {CONNECTIONS} connections are open");
        let body = serde_json::to_vec(&ordinary_request()).expect("a request serializes");
        let mut connections = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            match ctx.target.connect().await {
                Ok(c) => connections.push(c),
                Err(e) => return Outcome::failed(expected, e.to_string()),
            }
        }
        let timeout = ctx.latency_bound;
        let calls = connections.into_iter().map(|mut connection| {
            let body = body.clone();
            tokio::spawn(async move {
                let result = connection.call(AUTHZ_REQUEST_PATH, &body, timeout).await;
                // Keep the connection open until every call is done.
                (result, connection)
            })
        });
        let mut held = Vec::new();
        let mut failures = Vec::new();
        for call in calls.collect::<Vec<_>>() {
            match call.await {
                Ok((Ok(response), connection)) if response.status == 200 => held.push(connection),
                Ok((Ok(response), _)) => failures.push(format!("HTTP {}", response.status)),
                Ok((Err(e), _)) => failures.push(e.to_string()),
                Err(e) => failures.push(e.to_string()),
            }
        }
        drop(held);
        if failures.is_empty() {
            Outcome::Passed
        } else {
            Outcome::failed(
                expected,
                format!(
                    "{} of {CONNECTIONS} unanswered, first: {}",
                    failures.len(),
                    failures[0]
                ),
            )
        }
    })
}

fn latency_bounded(ctx: &Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        const CALLS: usize = 50;
        let bound = ctx.latency_bound;
        let expected = format!("every answer within {bound:?}");
        for _ in 0..CALLS {
            let result =
                tokio::time::timeout(bound, ctx.target.call(Phase::Request, &ordinary_request()))
                    .await;
            match result {
                Err(_) => return Outcome::failed(expected, format!("a call took over {bound:?}")),
                Ok(exchange) if !exchange.verdict.is_answer() => {
                    return Outcome::failed(expected, exchange.describe())
                }
                Ok(_) => {}
            }
        }
        Outcome::Passed
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    #[test]
    fn the_peer_certificate_is_a_whole_der_certificate_naming_the_user() {
        let pem = peer_certificate("alice").expect("a certificate");
        let body: String = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("the PEM body is base64");
        // A DER SEQUENCE whose long-form length covers the rest: nothing is cut off.
        assert_eq!(der[0], 0x30);
        let length = usize::from(der[2]) << 8 | usize::from(der[3]);
        assert_eq!((der[1], der.len()), (0x82, length + 4));
        assert!(der.windows(5).any(|w| w == b"alice"));
    }
}
