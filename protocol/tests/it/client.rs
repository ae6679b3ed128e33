//! Integration tests: the daemon-side plugin client against a scripted plugin on a unix
//! socket, checking what it sends (as dockerd sends it) and how it reads answers (as dockerd
//! reads them).

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use protocol::client::{ClientError, PluginClient, ReplyError};
use protocol::wire::{AuthzReply, AuthzRequest, Phase};
use tokio::net::UnixListener;

/// What the scripted plugin saw of one call.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A plugin that answers every call with one fixed status and body, and records the calls.
struct ScriptedPlugin {
    _dir: tempfile::TempDir,
    socket: std::path::PathBuf,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
}

impl ScriptedPlugin {
    fn start(status: StatusCode, body: &'static str) -> ScriptedPlugin {
        Self::start_with_delay(status, body, None)
    }

    fn start_with_delay(
        status: StatusCode,
        body: &'static str,
        delay: Option<Duration>,
    ) -> ScriptedPlugin {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("plugin.sock");
        let listener = UnixListener::bind(&socket).expect("bind the plugin socket");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (seen_in, connections_in) = (seen.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                connections_in.fetch_add(1, Ordering::SeqCst);
                let seen = seen_in.clone();
                let service = service_fn(move |request: Request<Incoming>| {
                    let seen = seen.clone();
                    async move {
                        let (parts, incoming) = request.into_parts();
                        let received = incoming.collect().await.map(|b| b.to_bytes());
                        seen.lock().unwrap().push(Seen {
                            method: parts.method.to_string(),
                            path: parts.uri.path().to_owned(),
                            headers: parts
                                .headers
                                .iter()
                                .map(|(k, v)| {
                                    (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into())
                                })
                                .collect(),
                            body: received.unwrap_or_default(),
                        });
                        if let Some(delay) = delay {
                            tokio::time::sleep(delay).await;
                        }
                        let mut response =
                            Response::new(Full::new(Bytes::from_static(body.as_bytes())));
                        *response.status_mut() = status;
                        Ok::<_, Infallible>(response)
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        ScriptedPlugin {
            _dir: dir,
            socket,
            seen,
            connections,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn create_request() -> AuthzRequest {
    AuthzRequest {
        request_method: "POST".into(),
        request_uri: "/v1.41/containers/create".into(),
        request_body: br#"{"Image":"busybox"}"#.to_vec(),
        ..AuthzRequest::default()
    }
}

/// What an allowing plugin saw of one `phase` call about [`create_request`].
async fn seen_of_one_create_call(phase: Phase) -> Seen {
    let plugin = ScriptedPlugin::start(StatusCode::OK, r#"{"Allow":true}"#);
    PluginClient::new(&plugin.socket)
        .call(phase, &create_request())
        .await
        .unwrap();
    plugin.seen().remove(0)
}

#[tokio::test]
async fn activate_posts_an_empty_body_with_the_plugin_accept_header() {
    let plugin = ScriptedPlugin::start(StatusCode::OK, r#"{"Implements":["authz"]}"#);
    let manifest = PluginClient::new(&plugin.socket).activate().await.unwrap();
    assert!(manifest.implements_authz());
    let seen = plugin.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("POST", "/Plugin.Activate")
    );
    assert!(seen[0].body.is_empty());
    assert_eq!(
        seen[0].header("accept"),
        Some("application/vnd.docker.plugins.v1.2+json")
    );
}

#[tokio::test]
async fn calls_carry_no_content_type_like_dockerd() {
    let seen = seen_of_one_create_call(Phase::Request).await;
    assert_eq!(seen.header("content-type"), None);
}

#[tokio::test]
async fn calls_carry_gos_user_agent_an_empty_host_and_no_compression() {
    let seen = seen_of_one_create_call(Phase::Request).await;
    assert_eq!(seen.header("user-agent"), Some("Go-http-client/1.1"));
    assert_eq!(seen.header("host"), Some(""));
    assert_eq!(seen.header("accept-encoding"), None);
}

#[tokio::test]
async fn request_phase_posts_the_request_object_with_a_trailing_newline() {
    let seen = seen_of_one_create_call(Phase::Request).await;
    assert_eq!(seen.path, "/AuthZPlugin.AuthZReq");
    let mut expected = serde_json::to_vec(&create_request()).unwrap();
    expected.push(b'\n');
    assert_eq!(seen.body, expected);
}

#[tokio::test]
async fn response_phase_posts_to_authz_res() {
    let seen = seen_of_one_create_call(Phase::Response).await;
    assert_eq!(seen.path, "/AuthZPlugin.AuthZRes");
}

#[tokio::test]
async fn keeps_one_connection_alive_across_calls() {
    let plugin = ScriptedPlugin::start(StatusCode::OK, r#"{"Allow":true}"#);
    let client = PluginClient::new(&plugin.socket);
    for _ in 0..5 {
        client
            .call(Phase::Request, &create_request())
            .await
            .unwrap();
    }
    assert_eq!(plugin.seen().len(), 5);
    assert_eq!(plugin.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn allow_reply_is_an_allow() {
    let plugin = ScriptedPlugin::start(StatusCode::OK, r#"{"Allow":true,"Msg":"ok"}"#);
    let answer = PluginClient::new(&plugin.socket)
        .call(Phase::Request, &create_request())
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, r#"{"Allow":true,"Msg":"ok"}"#);
    assert!(answer.reply.unwrap().allow);
}

#[tokio::test]
async fn reply_without_allow_is_a_deny() {
    let plugin = ScriptedPlugin::start(StatusCode::OK, r#"{"Msg":"no verdict"}"#);
    let answer = PluginClient::new(&plugin.socket)
        .call(Phase::Request, &create_request())
        .await
        .unwrap();
    assert_eq!(answer.reply.unwrap(), AuthzReply::deny("no verdict"));
}

#[tokio::test]
async fn bytes_after_the_first_json_value_are_never_read() {
    let plugin = ScriptedPlugin::start(StatusCode::OK, "{\"Allow\":true}\n{\"Allow\":false}");
    let answer = PluginClient::new(&plugin.socket)
        .call(Phase::Request, &create_request())
        .await
        .unwrap();
    assert!(answer.reply.unwrap().allow);
}

#[tokio::test]
async fn reply_that_is_not_json_is_a_decode_error() {
    let plugin = ScriptedPlugin::start(StatusCode::OK, "allow");
    let answer = PluginClient::new(&plugin.socket)
        .call(Phase::Request, &create_request())
        .await
        .unwrap();
    assert!(matches!(answer.reply, Err(ReplyError::Decode(_))));
}

#[tokio::test]
async fn non_200_reply_is_an_error_carrying_err_even_when_allow_is_true() {
    let plugin = ScriptedPlugin::start(
        StatusCode::INTERNAL_SERVER_ERROR,
        r#"{"Allow":true,"Err":"policy store unreadable"}"#,
    );
    let answer = PluginClient::new(&plugin.socket)
        .call(Phase::Request, &create_request())
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        answer.reply.unwrap_err().to_string(),
        "AuthZPlugin.AuthZReq: policy store unreadable"
    );
}

#[tokio::test]
async fn non_200_reply_without_err_reports_the_raw_body() {
    let plugin = ScriptedPlugin::start(StatusCode::NOT_FOUND, "404 page not found\n");
    let answer = PluginClient::new(&plugin.socket)
        .call(Phase::Response, &create_request())
        .await
        .unwrap();
    assert_eq!(
        answer.reply.unwrap_err().to_string(),
        "AuthZPlugin.AuthZRes: 404 page not found\n"
    );
}

#[tokio::test]
async fn activate_with_an_error_status_is_refused() {
    let plugin = ScriptedPlugin::start(StatusCode::INTERNAL_SERVER_ERROR, r#"{"Err":"nope"}"#);
    let error = PluginClient::new(&plugin.socket)
        .activate()
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        ClientError::Activate(ReplyError::Status { .. })
    ));
}

#[tokio::test]
async fn post_raw_returns_status_and_body_untouched() {
    let plugin = ScriptedPlugin::start(StatusCode::IM_A_TEAPOT, "short and stout");
    let (status, body) = PluginClient::new(&plugin.socket)
        .post_raw("/Anything.Else", "{not json")
        .await
        .unwrap();
    assert_eq!(
        (status, body),
        (StatusCode::IM_A_TEAPOT, Bytes::from("short and stout"))
    );
    let seen = &plugin.seen()[0];
    assert_eq!(
        (seen.path.as_str(), &seen.body[..]),
        ("/Anything.Else", &b"{not json"[..])
    );
}

#[tokio::test]
async fn timeout_ends_a_call_the_plugin_never_answers() {
    let plugin = ScriptedPlugin::start_with_delay(
        StatusCode::OK,
        r#"{"Allow":true}"#,
        Some(Duration::from_secs(30)),
    );
    let client = PluginClient::builder(&plugin.socket)
        .timeout(Duration::from_millis(200))
        .build();
    let error = client
        .call(Phase::Request, &create_request())
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Timeout { .. }), "{error}");
}

#[tokio::test]
async fn missing_socket_is_a_transport_error() {
    let dir = tempfile::tempdir().unwrap();
    let client = PluginClient::new(dir.path().join("absent.sock"));
    let error = client.activate().await.unwrap_err();
    assert!(matches!(error, ClientError::Transport { .. }), "{error}");
}

/// A plugin that allows only `GET` calls, to tell the two phases' answers apart.
struct GetOnly;

impl protocol::AuthzPlugin for GetOnly {
    fn authz_request(&self, request: &AuthzRequest) -> AuthzReply {
        if request.request_method == "GET" {
            AuthzReply::allow()
        } else {
            AuthzReply::deny("only GET")
        }
    }

    fn authz_response(&self, _request: &AuthzRequest) -> AuthzReply {
        AuthzReply::allow()
    }
}

#[tokio::test]
async fn talks_to_the_crate_plugin_server_like_dockerd() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("getonly.sock");
    let listener = protocol::server::bind_unix(&socket).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(protocol::server::serve(
        listener,
        Arc::new(GetOnly),
        protocol::server::ServerConfig::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let client = PluginClient::new(&socket);
    assert!(client.activate().await.unwrap().implements_authz());
    let denied = client
        .call(Phase::Request, &create_request())
        .await
        .unwrap();
    assert_eq!(denied.reply.unwrap(), AuthzReply::deny("only GET"));
    let list = AuthzRequest {
        request_method: "GET".into(),
        request_uri: "/containers/json".into(),
        ..AuthzRequest::default()
    };
    assert!(
        client
            .call(Phase::Request, &list)
            .await
            .unwrap()
            .reply
            .unwrap()
            .allow
    );
    assert!(
        client
            .call(Phase::Response, &list)
            .await
            .unwrap()
            .reply
            .unwrap()
            .allow
    );
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
