//! Chain behaviour beyond moby's own tests: ordering, activation and unreachable plugins.

use std::time::Duration;

use fake_dockerd::chain::{AuthzChain, InProcess};
use fake_dockerd::profile::RetryRule;
use fake_dockerd::{ClientRequest, ClientResponse, Denial, Profile, ProfileName, ResponseKind};
use protocol::client::PluginClient;
use protocol::{ActivateManifest, AuthzPlugin, AuthzReply, AuthzRequest};

use crate::support::{Answer, ScriptedPlugin};

fn fast_retry() -> RetryRule {
    RetryRule {
        first_backoff: Duration::from_millis(10),
        give_up_after: Duration::from_millis(100),
    }
}

#[derive(Debug)]
struct Deny(&'static str);

impl AuthzPlugin for Deny {
    fn authz_request(&self, _: &AuthzRequest) -> AuthzReply {
        AuthzReply::deny(self.0)
    }
    fn authz_response(&self, _: &AuthzRequest) -> AuthzReply {
        AuthzReply::deny(self.0)
    }
}

#[tokio::test]
async fn first_deny_in_flag_order_stops_the_chain() {
    let later = ScriptedPlugin::start(Answer::allow(), Answer::allow());
    let chain = AuthzChain::from_endpoints(
        Profile::get(ProfileName::Moby2010),
        vec![
            (
                "first".into(),
                Box::new(InProcess(std::sync::Arc::new(Deny("no")))),
            ),
            ("second".into(), Box::new(PluginClient::new(&later.socket))),
        ],
    );
    let denial = chain
        .authorize_request(&ClientRequest::new("GET", "/version"))
        .await
        .unwrap_err();
    assert_eq!(denial.message, "authorization denied by plugin first: no");
    assert!(later.calls().is_empty());
}

#[tokio::test]
async fn plugin_without_authz_in_its_manifest_fails_every_call() {
    let plugin = ScriptedPlugin::start_with_manifest(
        r#"{"Implements":["AuthZ"]}"#,
        Answer::allow(),
        Answer::allow(),
    );
    let chain = AuthzChain::new(
        Profile::get(ProfileName::Moby2010),
        vec![("p".to_string(), PluginClient::new(&plugin.socket))],
    );
    let denial = chain
        .authorize_request(&ClientRequest::new("GET", "/version"))
        .await
        .unwrap_err();
    assert_eq!(
        denial,
        Denial {
            status: 500,
            message: "plugin p failed with error: Plugin does not implement the requested driver"
                .into()
        }
    );
    assert!(plugin.calls().is_empty());
    assert!(!ActivateManifest {
        implements: vec!["AuthZ".into()]
    }
    .implements_authz());
}

#[tokio::test]
async fn unreachable_plugin_is_retried_then_fails_the_call_with_500() {
    let dir = tempfile::tempdir().unwrap();
    let chain = AuthzChain::new(
        Profile::get(ProfileName::Moby2010),
        vec![(
            "gone".to_string(),
            PluginClient::new(dir.path().join("none.sock")),
        )],
    )
    .with_retry(fast_retry());
    let started = std::time::Instant::now();
    let denial = chain
        .authorize_request(&ClientRequest::new("GET", "/version"))
        .await
        .unwrap_err();
    assert_eq!(denial.status, 500);
    assert!(denial
        .message
        .starts_with("plugin gone failed with error: "));
    assert!(
        started.elapsed() >= Duration::from_millis(30),
        "retried with backoff"
    );
}

#[tokio::test]
async fn refused_route_never_reaches_plugins() {
    let plugin = ScriptedPlugin::start(Answer::allow(), Answer::allow());
    let chain = AuthzChain::new(
        Profile::get(ProfileName::Moby293),
        vec![("p".to_string(), PluginClient::new(&plugin.socket))],
    );
    let denial = chain
        .authorize_request(&ClientRequest::new("GET", "/v1.41/nope"))
        .await
        .unwrap_err();
    assert_eq!(denial.status, 404);
    assert!(plugin.calls().is_empty());
}

fn denying_chain() -> AuthzChain {
    AuthzChain::from_endpoints(
        Profile::get(ProfileName::Moby2010),
        vec![(
            "p".into(),
            Box::new(InProcess(std::sync::Arc::new(Deny("no")))),
        )],
    )
}

fn response(kind: ResponseKind, body: &[u8]) -> ClientResponse {
    ClientResponse {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_vec(),
        kind,
    }
}

#[tokio::test]
async fn response_deny_of_a_buffered_answer_replaces_it_with_403() {
    let req = ClientRequest::new("GET", "/v1.41/containers/json");
    let denial = denying_chain()
        .authorize_response(&req, &response(ResponseKind::Buffered, b"[]"))
        .await
        .unwrap_err();
    assert_eq!(denial.status, 403);
}

#[tokio::test]
async fn response_deny_after_a_flush_keeps_the_status_already_sent() {
    let req = ClientRequest::new("GET", "/v1.41/containers/json");
    let big = vec![b' '; 64 * 1024 + 1];
    for resp in [
        response(ResponseKind::Streamed, b""),
        response(ResponseKind::Buffered, &big),
    ] {
        let denial = denying_chain()
            .authorize_response(&req, &resp)
            .await
            .unwrap_err();
        assert_eq!(denial.status, 200, "{:?}", resp.kind);
        assert_eq!(denial.message, "authorization denied by plugin p: no");
    }
}

#[tokio::test]
async fn response_deny_of_a_hijacked_stream_changes_nothing() {
    let req = ClientRequest::new("POST", "/v1.41/exec/abc/start").json(&b"{}"[..]);
    let outcome = denying_chain()
        .authorize_response_traced(&req, &response(ResponseKind::Hijacked, b""))
        .await;
    assert_eq!(outcome.result, Ok(()));
    assert_eq!(outcome.calls.len(), 1, "AuthZRes is still called");
}

#[tokio::test]
async fn response_verdict_after_a_handler_error_is_ignored() {
    let req = ClientRequest::new("GET", "/v1.99/version");
    let result = denying_chain()
        .authorize_response(&req, &response(ResponseKind::HandlerError, b""))
        .await;
    assert_eq!(result, Ok(()));
}
