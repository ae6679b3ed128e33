//! The fidelity comparison: do two runs give a plugin identical messages?
//!
//! The same crafted requests go once through a real dockerd (with `record-plugin`) and once
//! through fake-dockerd; the plugin-side recordings must match call for call, with container
//! ids and timestamps aside, and the client must see the same results. [`check`] runs the
//! fake half over real sockets.

pub mod check;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use protocol::AuthzRequest;

use crate::capture::{handler_result, Exchange, Expectation};
use crate::profile::Profile;
use crate::record_plugin::PluginCall;

/// What a profile's daemon sends an allow-all plugin for one exchange, and what its client
/// then sees: the fake half of the comparison, computed without any socket.
pub fn allow_all_plugin_calls(
    profile: &Profile,
    exchange: &Exchange,
) -> (Vec<PluginCall>, Expectation) {
    let request = match profile.plugin_request(&exchange.request) {
        Ok(request) => request,
        Err(refusal) => {
            let message = (!refusal.message.is_empty()).then_some(refusal.message);
            return (
                Vec::new(),
                Expectation {
                    status: refusal.status,
                    message,
                },
            );
        }
    };
    let response = profile.plugin_response(&exchange.request, &exchange.response);
    let calls = vec![
        PluginCall {
            phase: protocol::Phase::Request,
            message: request,
        },
        PluginCall {
            phase: protocol::Phase::Response,
            message: response,
        },
    ];
    (calls, handler_result(&exchange.response))
}

/// One difference between the recorded and the produced plugin calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Index of the call (or of the client result) in the sequence.
    pub index: usize,
    /// Which field differs (`RequestBody`, `calls`, `client`...).
    pub field: &'static str,
    /// The value in the real daemon's recording.
    pub recorded: String,
    /// The value fake-dockerd produced.
    pub produced: String,
}

/// Compares two plugin-call sequences in order, ids and times aside. Empty means identical.
pub fn compare_plugin_calls(recorded: &[PluginCall], produced: &[PluginCall]) -> Vec<Mismatch> {
    let mut mismatches = Vec::new();
    if recorded.len() != produced.len() {
        mismatches.push(Mismatch {
            index: 0,
            field: "calls",
            recorded: recorded.len().to_string(),
            produced: produced.len().to_string(),
        });
    }
    for (index, (real, fake)) in recorded.iter().zip(produced).enumerate() {
        let mut differ = |field: &'static str, a: String, b: String| {
            if a != b {
                mismatches.push(Mismatch {
                    index,
                    field,
                    recorded: a,
                    produced: b,
                });
            }
        };
        differ(
            "phase",
            format!("{:?}", real.phase),
            format!("{:?}", fake.phase),
        );
        let (a, b) = (normalize(&real.message), normalize(&fake.message));
        differ("User", a.user, b.user);
        differ("UserAuthNMethod", a.user_authn_method, b.user_authn_method);
        differ("RequestMethod", a.request_method, b.request_method);
        differ("RequestUri", a.request_uri, b.request_uri);
        differ("RequestBody", show(&a.request_body), show(&b.request_body));
        differ(
            "RequestHeaders",
            format!("{:?}", a.request_headers),
            format!("{:?}", b.request_headers),
        );
        differ(
            "RequestPeerCertificates",
            format!("{:?}", a.request_peer_certificates),
            format!("{:?}", b.request_peer_certificates),
        );
        differ(
            "ResponseStatusCode",
            a.response_status_code.to_string(),
            b.response_status_code.to_string(),
        );
        differ(
            "ResponseBody",
            show(&a.response_body),
            show(&b.response_body),
        );
        differ(
            "ResponseHeaders",
            format!("{:?}", a.response_headers),
            format!("{:?}", b.response_headers),
        );
    }
    mismatches
}

/// The calls in a canonical order (phase, method, URI with ids masked; stable otherwise), for
/// comparing runs where concurrent API calls (attach, wait and start of `docker run`) reach
/// the plugin interleaved differently.
pub fn in_canonical_order(calls: &[PluginCall]) -> Vec<PluginCall> {
    let mut sorted = calls.to_vec();
    sorted.sort_by_cached_key(|call| {
        (
            matches!(call.phase, protocol::Phase::Response),
            call.message.request_method.clone(),
            mask(&call.message.request_uri),
        )
    });
    sorted
}

/// Compares what the client saw in both runs (status, and the error message if any).
pub fn compare_client_results(
    index: usize,
    recorded: &Expectation,
    produced: &Expectation,
) -> Option<Mismatch> {
    (recorded != produced).then(|| Mismatch {
        index,
        field: "client",
        recorded: format!("{recorded:?}"),
        produced: format!("{produced:?}"),
    })
}

/// A message with container ids (64 hex digits) and RFC 3339 timestamps replaced, in the
/// URI, the bodies and the header values.
pub fn normalize(message: &AuthzRequest) -> AuthzRequest {
    let bytes = |b: &[u8]| match std::str::from_utf8(b) {
        Ok(text) => mask(text).into_bytes(),
        Err(_) => b.to_vec(),
    };
    let mut out = message.clone();
    out.request_uri = mask(&message.request_uri);
    out.request_body = bytes(&message.request_body);
    out.response_body = bytes(&message.response_body);
    for value in out
        .request_headers
        .values_mut()
        .chain(out.response_headers.values_mut())
    {
        *value = mask(value);
    }
    out
}

fn show(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => format!("base64:{}", STANDARD.encode(bytes)),
    }
}

/// Replaces container ids (64 lower-case hex digits) and RFC 3339 timestamps in `text` with
/// `<id>` and `<time>`.
pub fn mask(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let hex = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            .count();
        let at_word_start = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        if hex == 64 && at_word_start {
            out.push_str("<id>");
            i += hex;
        } else if let Some(len) = timestamp_len(&chars[i..]) {
            out.push_str("<time>");
            i += len;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Length of an RFC 3339 timestamp at the start of `s` (`2026-11-29T00:15:12.27Z`).
fn timestamp_len(s: &[char]) -> Option<usize> {
    let shape = "dddd-dd-ddTdd:dd:dd";
    if s.len() < shape.len() {
        return None;
    }
    for (c, want) in s.iter().zip(shape.chars()) {
        let ok = if want == 'd' {
            c.is_ascii_digit()
        } else {
            *c == want
        };
        if !ok {
            return None;
        }
    }
    let mut len = shape.len();
    if s.get(len) == Some(&'.') {
        len += 1;
        len += s[len..].iter().take_while(|c| c.is_ascii_digit()).count();
    }
    match s.get(len) {
        Some('Z') => Some(len + 1),
        Some('+' | '-') if s.len() >= len + 6 => Some(len + 6),
        _ => Some(len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Phase;

    fn call(uri: &str, body: &str) -> PluginCall {
        PluginCall {
            phase: Phase::Response,
            message: AuthzRequest {
                request_method: "POST".into(),
                request_uri: uri.into(),
                response_body: body.as_bytes().to_vec(),
                ..AuthzRequest::default()
            },
        }
    }

    #[test]
    fn container_ids_and_times_are_set_aside() {
        let a = call(
            &format!("/v1.41/containers/{}/start", "a".repeat(64)),
            r#"{"Created":"2026-11-29T00:15:12.270744371Z"}"#,
        );
        let b = call(
            &format!("/v1.41/containers/{}/start", "b".repeat(64)),
            r#"{"Created":"2025-01-01T10:00:00+02:00"}"#,
        );
        assert_eq!(compare_plugin_calls(&[a], &[b]), vec![]);
    }

    #[test]
    fn a_forwarded_body_against_an_empty_one_is_a_mismatch() {
        let mut real = call("/v1.41/containers/create", "");
        real.message.request_body = b"{}".to_vec();
        let fake = call("/v1.41/containers/create", "");
        let mismatches = compare_plugin_calls(&[real], &[fake]);
        assert_eq!(mismatches.len(), 1);
        assert_eq!(mismatches[0].field, "RequestBody");
    }

    #[test]
    fn canonical_order_ignores_interleaving_of_concurrent_calls() {
        let a = call("/v1.41/containers/x/attach", "");
        let b = call("/v1.41/containers/x/wait", "");
        assert_eq!(
            compare_plugin_calls(
                &in_canonical_order(&[a.clone(), b.clone()]),
                &in_canonical_order(&[b, a])
            ),
            vec![]
        );
    }

    #[test]
    fn a_missing_call_is_a_mismatch() {
        let mismatches = compare_plugin_calls(&[call("/_ping", "")], &[]);
        assert_eq!(mismatches[0].field, "calls");
    }

    #[test]
    fn a_different_client_status_is_a_mismatch() {
        let real = Expectation {
            status: 201,
            message: None,
        };
        let fake = Expectation {
            status: 403,
            message: Some("authorization denied by plugin x: no".into()),
        };
        assert!(compare_client_results(0, &real, &fake).is_some());
        assert!(compare_client_results(0, &real, &real).is_none());
    }
}
