//! One test per fact of the profile table: the same crafted request through all four
//! profiles, four documented outcomes (in `ProfileName::ALL` order: pre-2024, 20.10, 27.1,
//! 29.3). Sources are in fake-dockerd/README.md.

use fake_dockerd::profile::{RetryRule, FOUR_MIB, ONE_MIB};
use fake_dockerd::{ClientRequest, ClientResponse, Profile, ProfileName, Refusal, ResponseKind};
use protocol::AuthzRequest;

const CREATE: &str = "/v1.41/containers/create";

fn each<T>(f: impl Fn(&Profile) -> T) -> Vec<T> {
    ProfileName::ALL
        .iter()
        .map(|name| f(&Profile::get(*name)))
        .collect()
}

/// Per profile: `Some(true)` body forwarded, `Some(false)` plugin asked without it, `None`
/// refused by the daemon before any plugin.
fn body_forwarded(req: &ClientRequest) -> Vec<Option<bool>> {
    each(|p| {
        p.plugin_request(req)
            .ok()
            .map(|m| m.request_body == req.body && !req.body.is_empty())
    })
}

fn json_of_size(size: usize) -> Vec<u8> {
    let mut body = b"{\"Image\":\"busybox\",\"Labels\":{\"pad\":\"".to_vec();
    let tail = b"\"}}";
    body.resize(size - tail.len(), b'a');
    body.extend_from_slice(tail);
    body
}

#[test]
fn profile_names_round_trip_through_their_command_line_spelling() {
    for name in ProfileName::ALL {
        assert_eq!(name.to_string().parse::<ProfileName>(), Ok(name));
    }
    assert!("moby-19.03".parse::<ProfileName>().is_err());
}

#[test]
fn chunked_json_body_reaches_plugins_from_the_2024_fix_on() {
    let req = ClientRequest::new("POST", CREATE)
        .json(&br#"{"Image":"busybox"}"#[..])
        .chunked();
    assert_eq!(
        body_forwarded(&req),
        [Some(false), Some(true), Some(true), Some(true)]
    );
}

#[test]
fn body_just_under_one_mib_is_forwarded_everywhere() {
    let req = ClientRequest::new("POST", CREATE).json(json_of_size(ONE_MIB - 1));
    assert_eq!(body_forwarded(&req), [Some(true); 4]);
}

#[test]
fn body_of_one_mib_arrives_empty_before_29_3() {
    let req = ClientRequest::new("POST", CREATE).json(json_of_size(ONE_MIB));
    assert_eq!(
        body_forwarded(&req),
        [Some(false), Some(false), Some(false), Some(true)]
    );
}

#[test]
fn chunked_body_of_one_mib_arrives_empty_on_20_10_and_27_1() {
    let req = ClientRequest::new("POST", CREATE)
        .json(json_of_size(ONE_MIB))
        .chunked();
    assert_eq!(
        body_forwarded(&req),
        [Some(false), Some(false), Some(false), Some(true)]
    );
}

#[test]
fn body_over_four_mib_is_refused_by_29_3_with_http_500() {
    let req = ClientRequest::new("POST", CREATE).json(json_of_size(FOUR_MIB + 1));
    assert_eq!(
        body_forwarded(&req),
        [Some(false), Some(false), Some(false), None]
    );
    let refusal = Profile::get(ProfileName::Moby293)
        .plugin_request(&req)
        .unwrap_err();
    assert_eq!(
        refusal,
        Refusal {
            status: 500,
            message: "request body too large for authorization plugin: size exceeds 4194304 bytes"
                .into(),
            location: None,
        }
    );
}

#[test]
fn body_without_json_content_type_is_never_forwarded() {
    let mut req = ClientRequest::new("POST", CREATE).json(&b"{}"[..]);
    req.headers[0].1 = "text/plain".into();
    assert_eq!(body_forwarded(&req), [Some(false); 4]);
}

#[test]
fn json_content_type_with_charset_or_capitals_is_forwarded() {
    for content_type in ["application/json; charset=utf-8", "Application/JSON"] {
        let mut req = ClientRequest::new("POST", CREATE).json(&b"{}"[..]);
        req.headers[0].1 = content_type.into();
        assert_eq!(body_forwarded(&req), [Some(true); 4], "{content_type}");
    }
}

#[test]
fn content_type_with_a_broken_parameter_hides_the_body() {
    let mut req = ClientRequest::new("POST", CREATE).json(&b"{}"[..]);
    req.headers[0].1 = "application/json; charset".into();
    assert_eq!(body_forwarded(&req), [Some(false); 4]);
}

#[test]
fn first_content_type_decides_but_plugins_see_the_last() {
    let req = ClientRequest::new("POST", CREATE)
        .header("Content-Type", "text/plain")
        .json(&b"{}"[..]);
    assert_eq!(body_forwarded(&req), [Some(false); 4]);
    let seen = each(|p| p.plugin_request(&req).unwrap().request_headers["Content-Type"].clone());
    assert_eq!(seen, ["application/json"; 4]);
}

#[test]
fn versioned_auth_body_is_withheld_except_by_debian_20_10() {
    let req = ClientRequest::new("POST", "/v1.41/auth").json(&br#"{"password":"x"}"#[..]);
    assert_eq!(
        body_forwarded(&req),
        [Some(false), Some(true), Some(false), Some(false)]
    );
}

#[test]
fn auth_with_a_query_escapes_the_pre_2024_suffix_test() {
    let req = ClientRequest::new("POST", "/v1.41/auth?x=1").json(&br#"{"password":"x"}"#[..]);
    assert_eq!(
        body_forwarded(&req),
        [Some(true), Some(true), Some(false), Some(false)]
    );
}

#[test]
fn query_ending_in_auth_hid_a_create_body_before_2024() {
    let req = ClientRequest::new("POST", "/v1.41/containers/create?x=/auth")
        .json(&br#"{"HostConfig":{"Privileged":true}}"#[..]);
    assert_eq!(
        body_forwarded(&req),
        [Some(false), Some(true), Some(true), Some(true)]
    );
}

#[test]
fn credential_headers_are_stripped_and_the_rest_flattened_last_value_wins() {
    let req = ClientRequest::new("GET", "/v1.41/version")
        .header("Host", "localhost")
        .header("X-Dup", "first")
        .header("x-dup", "second")
        .header("authorization", "Bearer secret")
        .header("X-Registry-Auth", "secret")
        .header("x-registry-config", "secret")
        .header("user-agent", "Docker-Client/28.2.2 (linux)");
    for headers in each(|p| p.plugin_request(&req).unwrap().request_headers) {
        let keys: Vec<&str> = headers.keys().map(String::as_str).collect();
        assert_eq!(keys, ["User-Agent", "X-Dup"]);
        assert_eq!(headers["X-Dup"], "second");
    }
}

#[test]
fn chunked_requests_show_no_transfer_encoding_header() {
    let req = ClientRequest::new("POST", CREATE)
        .json(&b"{}"[..])
        .chunked();
    for headers in each(|p| p.plugin_request(&req).unwrap().request_headers) {
        assert!(!headers.contains_key("Transfer-Encoding"));
        assert!(!headers.contains_key("Content-Length"));
    }
}

#[test]
fn tls_client_certificate_gives_user_and_peer_certificates() {
    let mut req = ClientRequest::new("GET", "/v1.41/version");
    req.tls_user = Some("client".into());
    req.peer_certificates = vec!["LS0tLS1CRUdJTg==".into()];
    for message in each(|p| p.plugin_request(&req).unwrap()) {
        assert_eq!(message.user, "client");
        assert_eq!(message.user_authn_method, "TLS");
        assert_eq!(message.request_peer_certificates, req.peer_certificates);
    }
}

#[test]
fn unix_socket_callers_are_anonymous() {
    let req = ClientRequest::new("GET", "/v1.41/version");
    for message in each(|p| p.plugin_request(&req).unwrap()) {
        assert_eq!(
            (message.user.as_str(), message.user_authn_method.as_str()),
            ("", "")
        );
    }
}

#[test]
fn raw_target_reaches_plugins_undecoded() {
    let req = ClientRequest::new("POST", "/v1.41/containers%2Fcreate").json(&b"{}"[..]);
    for message in each(|p| p.plugin_request(&req).unwrap()) {
        assert_eq!(message.request_uri, "/v1.41/containers%2Fcreate");
    }
}

#[test]
fn unknown_route_is_answered_404_without_asking_plugins() {
    let req = ClientRequest::new("GET", "/v1.41/no/such/route");
    for refusal in each(|p| p.plugin_request(&req).unwrap_err()) {
        assert_eq!(
            (refusal.status, refusal.message.as_str()),
            (404, "page not found")
        );
    }
}

#[test]
fn unclean_path_is_redirected_301_without_asking_plugins() {
    let req = ClientRequest::new("GET", "/v1.41/containers/../info?x=1");
    for refusal in each(|p| p.plugin_request(&req).unwrap_err()) {
        assert_eq!(refusal.status, 301);
        assert_eq!(refusal.location.as_deref(), Some("/v1.41/info?x=1"));
    }
}

#[test]
fn ping_options_and_unsupported_versions_reach_plugins() {
    for (method, target) in [
        ("GET", "/_ping"),
        ("HEAD", "/_ping"),
        ("OPTIONS", "/v1.41/containers/json"),
        ("GET", "/v1.99/version"),
    ] {
        let req = ClientRequest::new(method, target);
        assert!(
            each(|p| p.plugin_request(&req).is_ok())
                .iter()
                .all(|ok| *ok),
            "{method} {target}"
        );
    }
}

fn json_response(status: u16, body: &[u8], kind: ResponseKind) -> ClientResponse {
    ClientResponse {
        status,
        headers: vec![
            ("Api-Version".into(), "1.41".into()),
            ("Content-Type".into(), "application/json".into()),
            ("Date".into(), "Sun, 29 Nov 2026 00:17:59 GMT".into()),
            ("Content-Length".into(), body.len().to_string()),
        ],
        body: body.to_vec(),
        kind,
    }
}

fn response_for(req: &ClientRequest, resp: &ClientResponse) -> Vec<AuthzRequest> {
    each(|p| p.plugin_response(req, resp))
}

#[test]
fn buffered_json_response_reaches_authz_res_whole() {
    let req = ClientRequest::new("GET", "/v1.41/version");
    let resp = json_response(200, br#"{"Version":"20.10.24"}"#, ResponseKind::Buffered);
    for message in response_for(&req, &resp) {
        assert_eq!(message.response_status_code, 200);
        assert_eq!(message.response_body, resp.body);
        let keys: Vec<&str> = message
            .response_headers
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["Api-Version", "Content-Type"]);
    }
}

#[test]
fn response_over_64_kib_reaches_authz_res_empty() {
    let req = ClientRequest::new("GET", "/v1.41/containers/json");
    let resp = json_response(200, &vec![b' '; 64 * 1024 + 1], ResponseKind::Buffered);
    for message in response_for(&req, &resp) {
        assert_eq!(message.response_status_code, 0);
        assert!(message.response_body.is_empty() && message.response_headers.is_empty());
    }
}

#[test]
fn response_of_exactly_64_kib_is_still_buffered() {
    let req = ClientRequest::new("GET", "/v1.41/containers/json");
    let resp = json_response(200, &vec![b' '; 64 * 1024], ResponseKind::Buffered);
    for message in response_for(&req, &resp) {
        assert_eq!(message.response_body.len(), 64 * 1024);
    }
}

#[test]
fn streamed_response_reaches_authz_res_with_no_status_headers_or_body() {
    let req = ClientRequest::new("GET", "/v1.41/events");
    let resp = json_response(200, b"{}", ResponseKind::Streamed);
    for message in response_for(&req, &resp) {
        assert_eq!(message.response_status_code, 0);
        assert!(message.response_body.is_empty() && message.response_headers.is_empty());
    }
}

#[test]
fn hijacked_response_shows_middleware_headers_but_no_status() {
    let req = ClientRequest::new("POST", "/v1.41/exec/abc/start").json(&b"{}"[..]);
    let resp = ClientResponse {
        status: 101,
        headers: vec![
            (
                "Content-Type".into(),
                "application/vnd.docker.raw-stream".into(),
            ),
            ("Connection".into(), "Upgrade".into()),
            ("Upgrade".into(), "tcp".into()),
            ("Api-Version".into(), "1.41".into()),
        ],
        body: Vec::new(),
        kind: ResponseKind::Hijacked,
    };
    for message in response_for(&req, &resp) {
        assert_eq!(message.response_status_code, 0);
        let keys: Vec<&str> = message
            .response_headers
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["Api-Version"]);
    }
}

#[test]
fn handler_error_reaches_authz_res_without_status_or_body() {
    let req = ClientRequest::new("GET", "/v1.99/version");
    let resp = json_response(
        400,
        br#"{"message":"client version 1.99 is too new"}"#,
        ResponseKind::HandlerError,
    );
    for message in response_for(&req, &resp) {
        assert_eq!(message.response_status_code, 0);
        assert!(message.response_body.is_empty());
        assert!(!message.response_headers.contains_key("Content-Type"));
    }
}

#[test]
fn ping_writes_without_a_status_so_authz_res_has_none() {
    let req = ClientRequest::new("GET", "/_ping");
    let resp = ClientResponse {
        status: 200,
        headers: vec![
            ("Api-Version".into(), "1.41".into()),
            ("Content-Type".into(), "text/plain; charset=utf-8".into()),
        ],
        body: b"OK".to_vec(),
        kind: ResponseKind::Buffered,
    };
    for message in response_for(&req, &resp) {
        assert_eq!(message.response_status_code, 0);
        assert!(!message.response_headers.contains_key("Content-Type"));
    }
}

#[test]
fn auth_response_body_is_withheld_except_by_debian_20_10() {
    let req = ClientRequest::new("POST", "/v1.41/auth").json(&b"{}"[..]);
    let resp = json_response(
        200,
        br#"{"IdentityToken":"secret"}"#,
        ResponseKind::Buffered,
    );
    let forwarded: Vec<bool> = response_for(&req, &resp)
        .iter()
        .map(|m| !m.response_body.is_empty())
        .collect();
    assert_eq!(forwarded, [false, true, false, false]);
}

#[test]
fn plugin_retries_back_off_1_2_4_8_seconds_and_give_up_after_about_15() {
    let retry: RetryRule = Profile::get(ProfileName::Moby2010).retry;
    let mut waited = std::time::Duration::ZERO;
    let mut waits = Vec::new();
    for retries in 0.. {
        let wait = retry.backoff(retries);
        if waited + wait >= retry.give_up_after {
            break;
        }
        waits.push(wait.as_secs());
        waited += wait;
    }
    assert_eq!(waits, [1, 2, 4, 8]);
    assert_eq!(waited.as_secs(), 15);
}
