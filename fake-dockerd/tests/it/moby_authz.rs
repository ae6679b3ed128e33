//! Every behaviour moby's own authz integration tests assert
//! (`integration/plugin/authz/authz_plugin_test.go` at HEAD), asserted of fake-dockerd's chain
//! with a scripted plugin on a real socket; test names follow moby's.

use fake_dockerd::capture::{Exchange, CAPTURE_VERSION};
use fake_dockerd::chain::AuthzChain;
use fake_dockerd::replay::replay_exchange;
use fake_dockerd::{ClientRequest, ClientResponse, Denial, Profile, ProfileName, ResponseKind};
use protocol::client::PluginClient;

use crate::support::{Answer, ScriptedPlugin};

const PLUGIN: &str = "authzplugin";
const UNAUTHORIZED: &str = "User unauthorized authz plugin";
const ERROR_MESSAGE: &str = "something went wrong";

fn chain(plugin: &ScriptedPlugin) -> AuthzChain {
    chain_named(plugin, &[PLUGIN])
}

fn chain_named(plugin: &ScriptedPlugin, names: &[&str]) -> AuthzChain {
    let plugins = names
        .iter()
        .map(|name| (name.to_string(), PluginClient::new(&plugin.socket)))
        .collect();
    AuthzChain::new(Profile::get(ProfileName::Moby2010), plugins)
}

fn exchange(request: ClientRequest, response: ClientResponse) -> Exchange {
    Exchange {
        version: CAPTURE_VERSION,
        request,
        response,
        expect: None,
    }
}

fn json_response(status: u16, body: &str) -> ClientResponse {
    ClientResponse {
        status,
        headers: vec![
            ("Api-Version".into(), "1.41".into()),
            ("Content-Type".into(), "application/json".into()),
        ],
        body: body.as_bytes().to_vec(),
        kind: ResponseKind::Buffered,
    }
}

fn version() -> Exchange {
    exchange(
        ClientRequest::new("GET", "/v1.41/version"),
        json_response(200, r#"{"Version":"20.10.24"}"#),
    )
}

fn streamed(status: u16) -> ClientResponse {
    ClientResponse {
        status,
        kind: ResponseKind::Streamed,
        ..ClientResponse::default()
    }
}

#[tokio::test]
async fn authz_plugin_allow_request() {
    let plugin = ScriptedPlugin::start(Answer::allow(), Answer::allow());
    let chain = chain(&plugin);
    let id = "a".repeat(64);
    let run = [
        exchange(
            ClientRequest::new("POST", "/v1.41/containers/create")
                .json(&br#"{"Image":"busybox"}"#[..]),
            json_response(201, &format!(r#"{{"Id":"{id}"}}"#)),
        ),
        exchange(
            ClientRequest::new("POST", &format!("/v1.41/containers/{id}/start")),
            ClientResponse {
                status: 204,
                ..ClientResponse::default()
            },
        ),
        version(),
    ];
    for call in &run {
        let (_, seen) = replay_exchange(&chain, call).await;
        assert_eq!(seen.status, call.response.status);
    }
    assert_eq!(plugin.count("AuthZReq", "/containers/create"), 1);
    assert_eq!(
        plugin.count("AuthZReq", &format!("/containers/{id}/start")),
        1
    );
    assert_eq!(plugin.count("AuthZReq", "/version"), 1);
    assert_eq!(plugin.count("AuthZRes", "/version"), 1);
}

#[tokio::test]
async fn authz_plugin_tls() {
    let plugin = ScriptedPlugin::start(Answer::allow(), Answer::allow());
    let mut call = version();
    call.request.tls_user = Some("client".into());
    call.request.peer_certificates = vec!["LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t".into()];
    replay_exchange(&chain(&plugin), &call).await;
    let users: Vec<(String, String, String)> = plugin
        .calls()
        .into_iter()
        .map(|(kind, m)| (kind, m.user, m.user_authn_method))
        .collect();
    assert_eq!(
        users,
        [
            ("AuthZReq".into(), "client".into(), "TLS".into()),
            ("AuthZRes".into(), "client".into(), "TLS".into())
        ]
    );
}

#[tokio::test]
async fn authz_plugin_deny_request() {
    let plugin = ScriptedPlugin::start(Answer::deny(UNAUTHORIZED), Answer::allow());
    let (_, seen) = replay_exchange(&chain(&plugin), &version()).await;
    assert_eq!(
        seen.message.as_deref(),
        Some(format!("authorization denied by plugin {PLUGIN}: {UNAUTHORIZED}").as_str())
    );
    assert_eq!(plugin.count("AuthZReq", "/version"), 1);
    assert_eq!(plugin.count("AuthZRes", "/version"), 0);
}

#[tokio::test]
async fn authz_plugin_api_deny_response() {
    let plugin = ScriptedPlugin::start(Answer::deny(UNAUTHORIZED), Answer::allow());
    let denial = chain(&plugin)
        .authorize_request(&ClientRequest::new("GET", "/version"))
        .await
        .unwrap_err();
    assert_eq!(denial.status, 403);
}

#[tokio::test]
async fn authz_plugin_deny_response() {
    let plugin = ScriptedPlugin::start(Answer::allow(), Answer::deny(UNAUTHORIZED));
    let (_, seen) = replay_exchange(&chain(&plugin), &version()).await;
    assert_eq!(seen.status, 403);
    assert_eq!(
        seen.message.as_deref(),
        Some(format!("authorization denied by plugin {PLUGIN}: {UNAUTHORIZED}").as_str())
    );
    assert_eq!(plugin.count("AuthZReq", "/version"), 1);
    assert_eq!(plugin.count("AuthZRes", "/version"), 1);
}

#[tokio::test]
async fn authz_plugin_allow_event_stream() {
    let plugin = ScriptedPlugin::start(Answer::allow(), Answer::allow());
    let events = exchange(
        ClientRequest::new("GET", "/v1.41/events?since=1764375000"),
        streamed(200),
    );
    let (_, seen) = replay_exchange(&chain(&plugin), &events).await;
    assert_eq!(seen.status, 200);
    assert_eq!(plugin.count("AuthZReq", "/events"), 1);
    let (_, response) = plugin.calls().pop().unwrap();
    assert_eq!(
        response.response_status_code, 0,
        "a flushed stream shows no status"
    );
}

#[tokio::test]
async fn authz_plugin_error_response() {
    let plugin = ScriptedPlugin::start(Answer::allow(), Answer::error(ERROR_MESSAGE));
    let denial = chain(&plugin)
        .authorize_response(&version().request, &version().response)
        .await
        .unwrap_err();
    assert_eq!(
        denial,
        Denial {
            status: 500,
            message: format!(
                "plugin {PLUGIN} failed with error: AuthZPlugin.AuthZRes: {ERROR_MESSAGE}"
            ),
        }
    );
}

#[tokio::test]
async fn authz_plugin_error_request() {
    let plugin = ScriptedPlugin::start(Answer::error(ERROR_MESSAGE), Answer::allow());
    let denial = chain(&plugin)
        .authorize_request(&version().request)
        .await
        .unwrap_err();
    assert_eq!(
        denial,
        Denial {
            status: 500,
            message: format!(
                "plugin {PLUGIN} failed with error: AuthZPlugin.AuthZReq: {ERROR_MESSAGE}"
            ),
        }
    );
}

#[tokio::test]
async fn authz_plugin_ensure_no_duplicate_plugin_registration() {
    let plugin = ScriptedPlugin::start(Answer::allow(), Answer::allow());
    let chain = chain_named(&plugin, &[PLUGIN, PLUGIN]);
    assert_eq!(chain.plugin_names(), [PLUGIN]);
    replay_exchange(&chain, &version()).await;
    assert_eq!(plugin.count("AuthZReq", "/version"), 1);
    assert_eq!(plugin.count("AuthZRes", "/version"), 1);
}

fn tar_upload(method: &str, target: &str, size: usize) -> ClientRequest {
    let mut request = ClientRequest::new(method, target)
        .header("Content-Type", "application/x-tar")
        .header("Content-Length", &size.to_string());
    request.body = vec![0; size];
    request
}

#[tokio::test]
async fn authz_plugin_ensure_load_import_working() {
    let plugin = ScriptedPlugin::start(Answer::allow(), Answer::allow());
    let chain = chain_named(&plugin, &[PLUGIN, PLUGIN]);
    let calls = [
        exchange(
            ClientRequest::new("GET", "/v1.41/images/get?names=busybox"),
            streamed(200),
        ),
        exchange(
            tar_upload("POST", "/v1.41/images/load?quiet=1", 2 << 20),
            streamed(200),
        ),
        exchange(
            ClientRequest::new(
                "GET",
                &format!("/v1.41/containers/{}/export", "b".repeat(64)),
            ),
            streamed(200),
        ),
        exchange(
            tar_upload("POST", "/v1.41/images/create?fromSrc=-", 2 << 20),
            streamed(200),
        ),
    ];
    for call in &calls {
        let (_, seen) = replay_exchange(&chain, call).await;
        assert_eq!(seen.status, 200, "{}", call.request.target);
    }
    assert!(plugin
        .calls()
        .iter()
        .all(|(_, m)| m.request_body.is_empty()));
}

#[tokio::test]
async fn authz_plugin_ensure_container_copy_to_from() {
    let plugin = ScriptedPlugin::start(Answer::allow(), Answer::allow());
    let chain = chain_named(&plugin, &[PLUGIN, PLUGIN]);
    let id = "c".repeat(64);
    let put = exchange(
        tar_upload(
            "PUT",
            &format!("/v1.41/containers/{id}/archive?path=%2F"),
            10 << 20,
        ),
        ClientResponse {
            status: 200,
            ..ClientResponse::default()
        },
    );
    let get = exchange(
        ClientRequest::new(
            "GET",
            &format!("/v1.41/containers/{id}/archive?path=%2Ftest"),
        ),
        streamed(200),
    );
    for call in [&put, &get] {
        let (_, seen) = replay_exchange(&chain, call).await;
        assert_eq!(seen.status, 200);
    }
    assert_eq!(plugin.count("AuthZReq", "/archive"), 2);
}

#[tokio::test]
async fn authz_plugin_header() {
    let plugin = ScriptedPlugin::start(Answer::allow(), Answer::allow());
    let (_, seen) = replay_exchange(&chain(&plugin), &version()).await;
    assert_eq!(seen.status, 200);
    let (kind, response) = plugin.calls().pop().unwrap();
    assert_eq!(kind, "AuthZRes");
    assert_eq!(
        response.response_headers["Content-Type"],
        "application/json"
    );
}
