//! Integration tests: the plugin server over real unix sockets, and the `allow_all` example.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use protocol::server::{self, ServerConfig, ServerError, PLUGIN_CONTENT_TYPE};
use protocol::{AuthzPlugin, AuthzReply, AuthzRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Allows URIs under `/allowed`, denies the rest, and says in `Msg` what it was given.
#[derive(Debug)]
struct EchoPlugin;

impl AuthzPlugin for EchoPlugin {
    fn authz_request(&self, request: &AuthzRequest) -> AuthzReply {
        if request.request_uri == "/panic" {
            panic!("deliberate panic for {}", request.request_uri);
        }
        let msg = format!(
            "request {} {} body={}",
            request.request_method,
            request.request_uri,
            String::from_utf8_lossy(&request.request_body)
        );
        AuthzReply {
            allow: request.request_uri.starts_with("/allowed"),
            msg,
            err: String::new(),
        }
    }

    fn authz_response(&self, request: &AuthzRequest) -> AuthzReply {
        AuthzReply {
            allow: true,
            msg: format!(
                "response {} {} body={}",
                request.request_uri,
                request.response_status_code,
                String::from_utf8_lossy(&request.response_body)
            ),
            err: String::new(),
        }
    }
}

/// Holds every request-phase call until the test releases it, telling the test it arrived.
#[derive(Debug)]
struct GatePlugin {
    entered: tokio::sync::mpsc::UnboundedSender<()>,
    release: Mutex<mpsc::Receiver<()>>,
}

impl GatePlugin {
    fn new() -> (
        Self,
        tokio::sync::mpsc::UnboundedReceiver<()>,
        mpsc::Sender<()>,
    ) {
        let (entered, entered_rx) = tokio::sync::mpsc::unbounded_channel();
        let (release_tx, release) = mpsc::channel();
        let plugin = GatePlugin {
            entered,
            release: Mutex::new(release),
        };
        (plugin, entered_rx, release_tx)
    }
}

impl AuthzPlugin for GatePlugin {
    fn authz_request(&self, _request: &AuthzRequest) -> AuthzReply {
        let _ = self.entered.send(());
        let released = self
            .release
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(30));
        AuthzReply {
            allow: released.is_ok(),
            msg: "released".into(),
            err: String::new(),
        }
    }

    fn authz_response(&self, _request: &AuthzRequest) -> AuthzReply {
        AuthzReply::allow()
    }
}

/// A server running in this process on a socket in its own temporary directory.
struct Running {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl Running {
    fn start(plugin: impl AuthzPlugin, config: ServerConfig) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("plugin.sock");
        let listener = server::bind_unix(&socket).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(listener, Arc::new(plugin), config, async {
            let _ = stopped.await;
        }));
        Running {
            _dir: dir,
            socket,
            stop: Some(stop),
            task,
        }
    }

    fn request_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for `serve` to return, at most `limit`.
    async fn finished(self, limit: Duration) -> Result<(), ServerError> {
        tokio::time::timeout(limit, self.task)
            .await
            .expect("serve did not return in time")
            .expect("serve task panicked")
    }
}

/// One keep-alive client connection to a plugin socket.
struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

/// What came back from one call.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn reply(&self) -> AuthzReply {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("answer {:?} is not a reply: {err}", self.body))
    }

    /// The reply, checked to be a deny that came with HTTP `status`.
    fn denial(&self, status: StatusCode) -> AuthzReply {
        assert_eq!(self.status, status);
        let reply = self.reply();
        assert!(!reply.allow);
        reply
    }
}

impl Connection {
    async fn open(socket: &Path) -> anyhow::Result<Connection> {
        let stream = UnixStream::connect(socket).await.context("connecting")?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("handshake")?;
        tokio::spawn(connection);
        Ok(Connection { sender })
    }

    async fn call(&mut self, method: Method, path: &str, body: Vec<u8>) -> anyhow::Result<Answer> {
        self.sender.ready().await.context("connection not ready")?;
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("Host", "plugin")
            .header("Accept", protocol::wire::PLUGIN_ACCEPT)
            .body(Full::new(Bytes::from(body)))?;
        let response = self.sender.send_request(request).await.context("sending")?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    async fn authz(&mut self, path: &str, request: &AuthzRequest) -> anyhow::Result<Answer> {
        self.call(Method::POST, path, serde_json::to_vec(request)?)
            .await
    }

    /// The request-phase call about a create of `uri` (see [`request_for`]).
    async fn ask(&mut self, uri: &str) -> anyhow::Result<Answer> {
        self.authz("/AuthZPlugin.AuthZReq", &request_for(uri)).await
    }
}

/// One call on a fresh connection.
async fn call_once(socket: &Path, path: &str, body: Vec<u8>) -> Answer {
    let mut connection = Connection::open(socket).await.unwrap();
    connection.call(Method::POST, path, body).await.unwrap()
}

fn request_for(uri: &str) -> AuthzRequest {
    AuthzRequest {
        request_method: "POST".into(),
        request_uri: uri.into(),
        request_body: br#"{"Image":"busybox"}"#.to_vec(),
        ..AuthzRequest::default()
    }
}

/// Sends raw bytes with `Connection: close` semantics and reads everything the server sends.
async fn raw_exchange(socket: &Path, bytes: &[u8]) -> String {
    let mut stream = UnixStream::connect(socket).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("server neither answered nor closed")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// Reads until the server closes the connection; returns what it sent and how long it took.
async fn read_until_closed(stream: &mut UnixStream, started: Instant) -> (Vec<u8>, Duration) {
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut received))
        .await
        .expect("the server never closed the connection")
        .unwrap_or_default();
    (received, started.elapsed())
}

#[tokio::test]
async fn activation_answers_the_authz_manifest() {
    let running = Running::start(EchoPlugin, ServerConfig::default());
    let answer = call_once(&running.socket, "/Plugin.Activate", Vec::new()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(&answer.body[..], br#"{"Implements":["authz"]}"#);
}

#[tokio::test]
async fn answers_carry_the_go_plugin_helpers_content_type() {
    let running = Running::start(EchoPlugin, ServerConfig::default());
    let answer = call_once(&running.socket, "/Plugin.Activate", Vec::new()).await;
    assert_eq!(answer.headers["content-type"], PLUGIN_CONTENT_TYPE);
}

#[tokio::test]
async fn request_phase_hands_the_decoded_call_to_the_plugin() {
    let running = Running::start(EchoPlugin, ServerConfig::default());
    let mut connection = Connection::open(&running.socket).await.unwrap();
    let answer = connection.ask("/allowed/containers/create").await.unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.reply(),
        AuthzReply {
            allow: true,
            msg: r#"request POST /allowed/containers/create body={"Image":"busybox"}"#.into(),
            err: String::new(),
        }
    );
}

#[tokio::test]
async fn request_phase_passes_the_plugins_deny_through() {
    let running = Running::start(EchoPlugin, ServerConfig::default());
    let mut connection = Connection::open(&running.socket).await.unwrap();
    let answer = connection.ask("/containers/create").await.unwrap();
    let reply = answer.denial(StatusCode::OK);
    assert!(reply.msg.starts_with("request POST /containers/create"));
}

#[tokio::test]
async fn response_phase_hands_status_and_body_to_the_plugin() {
    let running = Running::start(EchoPlugin, ServerConfig::default());
    let mut connection = Connection::open(&running.socket).await.unwrap();
    let call = AuthzRequest {
        response_status_code: 201,
        response_body: br#"{"Id":"abc"}"#.to_vec(),
        ..request_for("/containers/create")
    };
    let answer = connection
        .authz("/AuthZPlugin.AuthZRes", &call)
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.reply().msg,
        r#"response /containers/create 201 body={"Id":"abc"}"#
    );
}

#[tokio::test]
async fn denies_every_malformed_call_with_a_message_naming_the_fault() {
    // (call body, a fragment the deny message must contain)
    let cases: &[(&str, &str)] = &[
        ("", "EOF while parsing"),
        ("{\"RequestUri\":", "EOF while parsing"),
        ("{bad}", "key must be a string"),
        ("<html>", "not a JSON object"),
        ("[]", "not a JSON object"),
        (r#"["POST","/allowed"]"#, "not a JSON object"),
        ("null", "not a JSON object"),
        (
            r#"{"RequestBody":"%%%"}"#,
            "the value of RequestBody is not of its type",
        ),
        (
            r#"{"RequestBody":"e30"}"#,
            "the value of RequestBody is not",
        ),
        (
            r#"{"RequestHeaders":["a","b"]}"#,
            "the value of RequestHeaders is not",
        ),
        (
            r#"{"RequestHeaders":{"X":1}}"#,
            "the value of RequestHeaders.X is not",
        ),
        (
            r#"{"ResponseStatusCode":"200"}"#,
            "ResponseStatusCode is not of its type (line 1 column 27)",
        ),
        (r#"{"RequestUri":7}"#, "the value of RequestUri is not"),
        (r#"{"RequestUri":"/_ping"} trailing"#, "trailing characters"),
    ];
    let running = Running::start(EchoPlugin, ServerConfig::default());
    let mut connection = Connection::open(&running.socket).await.unwrap();
    for (body, fragment) in cases {
        for path in ["/AuthZPlugin.AuthZReq", "/AuthZPlugin.AuthZRes"] {
            let answer = connection
                .call(Method::POST, path, body.as_bytes().to_vec())
                .await
                .unwrap();
            assert_eq!(answer.status, StatusCode::OK, "{path} {body:?}");
            let reply = answer.reply();
            assert!(!reply.allow, "{path} {body:?} was allowed");
            let call = &path[1..];
            assert!(
                reply.msg.starts_with(&format!("malformed {call} call: ")),
                "{path} {body:?}: {}",
                reply.msg
            );
            assert!(
                reply.msg.contains(fragment),
                "{path} {body:?}: {:?} lacks {fragment:?}",
                reply.msg
            );
            assert_eq!(reply.err, reply.msg);
        }
    }
}

#[tokio::test]
async fn denies_an_envelope_nested_deeper_than_go_decodes() {
    // serde would skip the unknown field at any depth; Go's decoder stops at 10000 levels.
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let envelope =
        format!(r#"{{"RequestMethod":"GET","RequestUri":"/allowed","Future":{nested}}}"#);
    let running = Running::start(EchoPlugin, ServerConfig::default());
    let answer = call_once(
        &running.socket,
        "/AuthZPlugin.AuthZReq",
        envelope.into_bytes(),
    )
    .await;
    let reply = answer.denial(StatusCode::OK);
    assert_eq!(
        reply.msg,
        "malformed AuthZPlugin.AuthZReq call: the body nests deeper than Go's limit of 10000 levels"
    );
}

#[tokio::test]
async fn plugin_panic_is_answered_with_a_deny_naming_the_panic() {
    let running = Running::start(EchoPlugin, ServerConfig::default());
    let mut connection = Connection::open(&running.socket).await.unwrap();
    let answer = connection.ask("/panic").await.unwrap();
    let reply = answer.denial(StatusCode::OK);
    assert_eq!(
        reply.msg,
        "plugin failed while deciding AuthZPlugin.AuthZReq: deliberate panic for /panic"
    );
}

#[tokio::test]
async fn connection_keeps_serving_after_a_plugin_panic() {
    let running = Running::start(EchoPlugin, ServerConfig::default());
    let mut connection = Connection::open(&running.socket).await.unwrap();
    connection.ask("/panic").await.unwrap();
    let after = connection.ask("/allowed/_ping").await.unwrap();
    assert!(after.reply().allow);
}

#[tokio::test]
async fn unknown_call_is_404_with_a_deny_body() {
    let running = Running::start(EchoPlugin, ServerConfig::default());
    let answer = call_once(&running.socket, "/VolumeDriver.Create", b"{}".to_vec()).await;
    let reply = answer.denial(StatusCode::NOT_FOUND);
    assert_eq!(reply.err, "unknown plugin call /VolumeDriver.Create");
}

#[tokio::test]
async fn plugin_call_with_another_method_than_post_is_405() {
    let running = Running::start(EchoPlugin, ServerConfig::default());
    let mut connection = Connection::open(&running.socket).await.unwrap();
    let answer = connection
        .call(Method::GET, "/AuthZPlugin.AuthZReq", Vec::new())
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.headers["allow"], "POST");
    assert!(!answer.reply().allow);
}

#[tokio::test]
async fn body_over_the_cap_is_refused_with_413_and_a_deny_body() {
    let config = ServerConfig {
        max_body_bytes: 1024,
        ..ServerConfig::default()
    };
    let running = Running::start(EchoPlugin, config);
    let call = AuthzRequest {
        request_body: vec![b'x'; 2048],
        ..request_for("/allowed/containers/create")
    };
    let answer = call_once(
        &running.socket,
        "/AuthZPlugin.AuthZReq",
        serde_json::to_vec(&call).unwrap(),
    )
    .await;
    let reply = answer.denial(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        reply.err,
        "call body larger than the plugin's limit of 1024 bytes"
    );
}

#[tokio::test]
async fn chunked_body_over_the_cap_is_refused_with_413() {
    let config = ServerConfig {
        max_body_bytes: 1024,
        ..ServerConfig::default()
    };
    let running = Running::start(EchoPlugin, config);
    let chunk = "x".repeat(600);
    let raw = format!(
        "POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: plugin\r\nConnection: close\r\n\
         Transfer-Encoding: chunked\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
    );
    let answer = raw_exchange(&running.socket, raw.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(answer.contains(r#""Allow":false"#), "{answer}");
}

#[tokio::test]
async fn body_just_under_the_cap_is_decided() {
    let call = AuthzRequest {
        request_body: vec![b'x'; 600],
        ..request_for("/allowed/containers/create")
    };
    let encoded = serde_json::to_vec(&call).unwrap();
    let config = ServerConfig {
        max_body_bytes: encoded.len(),
        ..ServerConfig::default()
    };
    let running = Running::start(EchoPlugin, config);
    let answer = call_once(&running.socket, "/AuthZPlugin.AuthZReq", encoded).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.reply().allow);
}

#[tokio::test]
async fn default_body_cap_admits_the_largest_call_a_daemon_makes() {
    // AuthZRes of a 4 MiB request body (29.x forwards up to 4 MiB) and a 64 KiB response.
    let call = AuthzRequest {
        request_body: vec![b'{'; 4 * 1024 * 1024],
        response_status_code: 200,
        response_body: vec![b'}'; 64 * 1024],
        ..request_for("/containers/create")
    };
    let running = Running::start(EchoPlugin, ServerConfig::default());
    let answer = call_once(
        &running.socket,
        "/AuthZPlugin.AuthZRes",
        serde_json::to_vec(&call).unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.reply().allow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_connections_are_all_answered_correctly() {
    const CLIENTS: usize = 200;
    let running = Running::start(EchoPlugin, ServerConfig::default());
    // Every client connects before any of them sends, so all 200 are open at once.
    let all_connected = Arc::new(tokio::sync::Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let socket = running.socket.clone();
            let all_connected = Arc::clone(&all_connected);
            tokio::spawn(async move {
                let mut connection = Connection::open(&socket).await?;
                all_connected.wait().await;
                let uri = format!("/allowed/containers/c{n}/start");
                let answer = connection.ask(&uri).await?;
                let reply = answer.reply();
                let expected = format!(r#"request POST {uri} body={{"Image":"busybox"}}"#);
                if answer.status != StatusCode::OK || !reply.allow || reply.msg != expected {
                    bail!("client {n} got {answer:?}");
                }
                Ok(())
            })
        })
        .collect();
    for client in clients {
        tokio::time::timeout(Duration::from_secs(60), client)
            .await
            .expect("a client was never answered")
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn several_requests_share_one_keep_alive_connection() {
    let running = Running::start(EchoPlugin, ServerConfig::default());
    let mut connection = Connection::open(&running.socket).await.unwrap();
    for n in 0..5 {
        let uri = format!("/allowed/{n}");
        let answer = connection.ask(&uri).await.unwrap();
        assert!(answer.reply().msg.contains(&uri));
        assert!(
            answer.headers.get("connection").is_none(),
            "server asked to close after call {n}"
        );
    }
}

#[tokio::test]
async fn slow_client_does_not_stall_others() {
    let config = ServerConfig {
        header_read_timeout: Duration::from_secs(5),
        ..ServerConfig::default()
    };
    let running = Running::start(EchoPlugin, config);
    let mut slow = UnixStream::connect(&running.socket).await.unwrap();
    slow.write_all(b"POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: plu")
        .await
        .unwrap();
    let started = Instant::now();
    let mut others = Connection::open(&running.socket).await.unwrap();
    for n in 0..10 {
        let answer = others.ask(&format!("/allowed/{n}")).await.unwrap();
        assert!(answer.reply().allow);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "others waited for the slow client"
    );
}

/// Connects to a server whose header read timeout is 300 ms, sends `partial` (at most part of
/// a request head), and checks that the server closes the connection without a word, and
/// not before the timeout.
async fn assert_cut_off_by_the_header_timeout(partial: &[u8]) {
    let timeout = Duration::from_millis(300);
    let config = ServerConfig {
        header_read_timeout: timeout,
        ..ServerConfig::default()
    };
    let running = Running::start(EchoPlugin, config);
    let started = Instant::now();
    let mut client = UnixStream::connect(&running.socket).await.unwrap();
    client.write_all(partial).await.unwrap();
    let (received, elapsed) = read_until_closed(&mut client, started).await;
    assert!(received.is_empty(), "got {received:?}");
    assert!(elapsed >= timeout, "cut off after {elapsed:?}");
}

#[tokio::test]
async fn client_stalling_mid_headers_is_cut_off_by_the_header_timeout() {
    assert_cut_off_by_the_header_timeout(b"POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: plu").await;
}

#[tokio::test]
async fn silent_half_open_client_is_cut_off_by_the_header_timeout() {
    assert_cut_off_by_the_header_timeout(b"").await;
}

#[tokio::test]
async fn client_stalling_mid_body_is_answered_408() {
    let config = ServerConfig {
        body_read_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    };
    let running = Running::start(EchoPlugin, config);
    let mut stalled = UnixStream::connect(&running.socket).await.unwrap();
    stalled
        .write_all(
            b"POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: plugin\r\nContent-Length: 100\r\n\r\n{\"Req",
        )
        .await
        .unwrap();
    let mut answer = vec![0; 4096];
    let read = tokio::time::timeout(Duration::from_secs(10), stalled.read(&mut answer))
        .await
        .expect("no answer to a stalled body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(answer.contains(r#""Allow":false"#), "{answer}");
}

#[tokio::test]
async fn a_connection_beyond_max_connections_is_refused_with_a_deny() {
    let config = ServerConfig {
        max_connections: Some(1),
        ..ServerConfig::default()
    };
    let running = Running::start(EchoPlugin, config);
    let mut first = Connection::open(&running.socket).await.unwrap();
    first.ask("/allowed/first").await.unwrap();

    let refused = raw_exchange(
        &running.socket,
        b"POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: plugin\r\nContent-Length: 2\r\n\r\n{}",
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 503 "), "{refused}");
    assert!(refused.contains(r#""Allow":false"#), "{refused}");
    assert!(
        refused.contains("at most 1 connections at once"),
        "{refused}"
    );

    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = call_once(&running.socket, "/Plugin.Activate", Vec::new()).await;
        if answer.status == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no connection served after the first closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_call_beyond_the_bytes_in_flight_is_refused_until_they_are_given_back() {
    let (plugin, mut entered, release) = GatePlugin::new();
    let config = ServerConfig {
        max_body_bytes_in_flight: 2_000,
        ..ServerConfig::default()
    };
    let running = Running::start(plugin, config);
    let big = |n: usize| AuthzRequest {
        request_body: vec![b'x'; n],
        ..request_for("/containers/create")
    };
    let socket = running.socket.clone();
    let held = tokio::spawn(async move {
        let mut connection = Connection::open(&socket).await.unwrap();
        connection
            .authz("/AuthZPlugin.AuthZReq", &big(1_000))
            .await
            .unwrap()
    });
    entered.recv().await.unwrap();

    let mut second = Connection::open(&running.socket).await.unwrap();
    let refused = second
        .authz("/AuthZPlugin.AuthZReq", &big(500))
        .await
        .unwrap();
    let reply = refused.denial(StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.msg.contains("memory bound"), "{}", reply.msg);
    assert!(reply.msg.contains("2000 bytes in flight"), "{}", reply.msg);

    release.send(()).unwrap();
    assert_eq!(held.await.unwrap().status, StatusCode::OK);
    release.send(()).unwrap();
    let served = second
        .authz("/AuthZPlugin.AuthZReq", &big(500))
        .await
        .unwrap();
    assert_eq!(served.status, StatusCode::OK);
    assert!(served.reply().allow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn graceful_shutdown_lets_an_in_flight_call_finish() {
    let (plugin, mut entered, release) = GatePlugin::new();
    let mut running = Running::start(plugin, ServerConfig::default());
    let socket = running.socket.clone();
    let in_flight = tokio::spawn(async move {
        let mut connection = Connection::open(&socket).await.unwrap();
        connection.ask("/containers/create").await.unwrap()
    });
    entered.recv().await.unwrap();

    running.request_shutdown();
    wait_until_refused(&running.socket).await;
    release.send(()).unwrap();

    let answer = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .expect("in-flight call never answered")
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.reply().msg, "released");
    running.finished(Duration::from_secs(10)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn shutdown_stops_waiting_for_a_call_after_the_shutdown_timeout() {
    let (plugin, mut entered, release) = GatePlugin::new();
    let config = ServerConfig {
        shutdown_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    };
    let mut running = Running::start(plugin, config);
    let socket = running.socket.clone();
    let _stuck = tokio::spawn(async move {
        let mut connection = Connection::open(&socket).await.unwrap();
        connection.ask("/containers/create").await
    });
    entered.recv().await.unwrap();

    let started = Instant::now();
    running.request_shutdown();
    let result = running.finished(Duration::from_secs(10)).await;
    let waited = started.elapsed();
    // Free the worker thread the stuck plugin holds, so the runtime can wind down.
    release.send(()).unwrap();
    result.unwrap();
    assert!(
        waited >= Duration::from_millis(300),
        "gave up after {waited:?}"
    );
}

/// Polls until connecting to `socket` is refused: the server closed its listener.
async fn wait_until_refused(socket: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match UnixStream::connect(socket).await {
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => return,
            _ if Instant::now() > deadline => panic!("the server kept accepting after shutdown"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[tokio::test]
async fn bind_unix_sets_mode_0660_and_creates_the_parent_directory() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("plugins").join("authz.sock");
    let _listener = server::bind_unix(&socket).unwrap();
    let metadata = std::fs::metadata(&socket).unwrap();
    assert!(metadata.file_type().is_socket());
    assert_eq!(metadata.permissions().mode() & 0o777, 0o660);
}

#[tokio::test]
async fn bind_unix_replaces_a_stale_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("authz.sock");
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(
        socket.exists(),
        "the stale socket file should be left behind"
    );

    let listener = server::bind_unix(&socket).unwrap();
    let (connected, accepted) = tokio::join!(UnixStream::connect(&socket), listener.accept());
    connected.unwrap();
    accepted.unwrap();
}

#[tokio::test]
async fn bind_unix_refuses_a_live_socket_and_leaves_it_serving() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("authz.sock");
    let live = std::os::unix::net::UnixListener::bind(&socket).unwrap();

    let err = server::bind_unix(&socket).unwrap_err();
    assert!(matches!(err, ServerError::SocketInUse { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{} is in use: another process is listening on it",
            socket.display()
        )
    );
    std::os::unix::net::UnixStream::connect(&socket).unwrap();
    live.accept().unwrap();
}

#[tokio::test]
async fn bind_unix_refuses_to_replace_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authz.sock");
    std::fs::write(&path, "not a socket").unwrap();

    let err = server::bind_unix(&path).unwrap_err();
    assert!(matches!(err, ServerError::NotASocket { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
}

#[tokio::test]
async fn bind_unix_refuses_to_replace_a_symlink_to_a_socket() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real.sock");
    drop(std::os::unix::net::UnixListener::bind(&target).unwrap());
    let link = dir.path().join("authz.sock");
    std::os::unix::fs::symlink(&target, &link).unwrap();

    let err = server::bind_unix(&link).unwrap_err();
    assert!(matches!(err, ServerError::NotASocket { .. }), "{err}");
    assert!(target.exists());
}

// --- the allow_all example as a process -----------------------------------------------------

/// Whether a test needing `what` may run; without it the test is skipped with a message,
/// except under CI (env `CI` set), where a missing prerequisite is a failure.
fn prerequisite(present: bool, what: &str) -> bool {
    if present {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is missing and CI is set"
    );
    eprintln!("skipping: {what} is missing");
    false
}

/// The `allow_all` example binary cargo built beside this test binary (`cargo test` builds
/// examples; `cargo test --test it` alone does not).
fn allow_all_example() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("examples").join("allow_all");
    prerequisite(
        path.is_file(),
        "the allow_all example binary (run `cargo test` or `cargo build --example allow_all`)",
    )
    .then_some(path)
}

/// Kills and reaps a child process when the test ends, however it ends.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl ChildGuard {
    fn spawn(command: &mut Command) -> ChildGuard {
        ChildGuard(
            command
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    }

    fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.0.id() as i32)
    }

    /// Waits for the process to exit, at most `limit`, and returns its status and stderr.
    fn exit(mut self, limit: Duration) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "process did not exit in time");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = self.0.stderr.take() {
            std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
        }
        (status, stderr)
    }
}

/// Retries the Activate call until the plugin at `socket` answers it.
async fn wait_for_activation(socket: &Path) -> anyhow::Result<Answer> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match Connection::open(socket).await {
            Ok(mut connection) => {
                return connection
                    .call(Method::POST, "/Plugin.Activate", Vec::new())
                    .await
            }
            Err(err) if Instant::now() > deadline => return Err(err),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn example_ends_cleanly_on(signal: nix::sys::signal::Signal) {
    let Some(example) = allow_all_example() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("allow-all.sock");
    let child = ChildGuard::spawn(Command::new(example).arg("--socket").arg(&socket));
    let answer = wait_for_activation(&socket).await.unwrap();
    assert_eq!(&answer.body[..], br#"{"Implements":["authz"]}"#);

    nix::sys::signal::kill(child.pid(), signal).unwrap();
    let (status, stderr) = child.exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("shutdown requested"), "{stderr}");
}

#[tokio::test]
async fn sigterm_ends_the_example_cleanly() {
    example_ends_cleanly_on(nix::sys::signal::Signal::SIGTERM).await;
}

#[tokio::test]
async fn sigint_ends_the_example_cleanly() {
    example_ends_cleanly_on(nix::sys::signal::Signal::SIGINT).await;
}

#[tokio::test]
async fn example_serves_on_a_socket_passed_by_systemd_socket_activate() {
    let Some(example) = allow_all_example() else {
        return;
    };
    let activator = Path::new("/usr/bin/systemd-socket-activate");
    if !prerequisite(
        activator.is_file(),
        "systemd-socket-activate (apt package systemd)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("activated.sock");
    let unused = dir.path().join("never-bound.sock");
    // systemd-socket-activate listens, then execs the example on the first connection.
    let child = ChildGuard::spawn(
        Command::new(activator)
            .arg("--listen")
            .arg(&socket)
            .arg(example)
            .arg("--socket")
            .arg(&unused),
    );
    let answer = wait_for_activation(&socket).await.unwrap();
    assert_eq!(&answer.body[..], br#"{"Implements":["authz"]}"#);
    assert!(!unused.exists(), "the example bound --socket too");

    nix::sys::signal::kill(child.pid(), nix::sys::signal::Signal::SIGTERM).unwrap();
    let (status, stderr) = child.exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("passed by the service manager"), "{stderr}");
}

#[tokio::test]
async fn example_ignores_listen_fds_meant_for_another_process() {
    let Some(example) = allow_all_example() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("own.sock");
    let child = ChildGuard::spawn(
        Command::new(example)
            .arg("--socket")
            .arg(&socket)
            .env("LISTEN_FDS", "1")
            .env("LISTEN_PID", "1"),
    );
    let answer = wait_for_activation(&socket).await.unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    nix::sys::signal::kill(child.pid(), nix::sys::signal::Signal::SIGTERM).unwrap();
    let (status, stderr) = child.exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[tokio::test]
async fn example_refuses_a_passed_descriptor_that_is_not_a_socket() {
    let Some(example) = allow_all_example() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("never-bound.sock");
    // The shell sets LISTEN_PID to its own pid, then execs the example under that pid with
    // descriptor 3 open on /dev/null.
    let child = ChildGuard::spawn(
        Command::new("/bin/sh")
            .arg("-c")
            .arg(r#"export LISTEN_FDS=1 LISTEN_PID=$$; exec "$0" --socket "$1" 3</dev/null"#)
            .arg(example)
            .arg(&socket),
    );
    let (status, stderr) = child.exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("fd 3 is not a socket"), "{stderr}");
    assert!(!socket.exists(), "fell back to binding --socket");
}

/// A log sink the test reads back: every event the server logs, at every level.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    /// Captures what this thread logs (the server's tasks run on it: a current-thread
    /// runtime) until the guard is dropped.
    fn at_trace(&self) -> tracing::subscriber::DefaultGuard {
        let sink = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn no_log_level_shows_a_query_a_body_a_header_value_or_a_field_value() {
    let logs = CapturedLogs::default();
    let _capturing = logs.at_trace();
    let running = Running::start(EchoPlugin, ServerConfig::default());
    let mut connection = Connection::open(&running.socket).await.unwrap();
    let mut call = AuthzRequest {
        request_method: "POST".into(),
        request_uri: r#"/v1.41/build?buildargs={"TOKEN":"s3cret-query"}"#.into(),
        request_body: br#"{"password":"s3cret-body"}"#.to_vec(),
        ..AuthzRequest::default()
    };
    call.request_headers
        .insert("X-Registry-Config".into(), "s3cret-header".into());
    connection
        .authz("/AuthZPlugin.AuthZReq", &call)
        .await
        .unwrap();
    call.response_status_code = 200;
    call.response_body = br#"{"token":"s3cret-answer"}"#.to_vec();
    connection
        .authz("/AuthZPlugin.AuthZRes", &call)
        .await
        .unwrap();
    for malformed in [
        r#"{"RequestUri":"/x","ResponseStatusCode":"s3cret-field"}"#,
        r#"{"RequestUri":"s3cret-typed","RequestMethod":["s3cret-list"]}"#,
        r#"{"RequestBody":"s3cret-not-base64%"}"#,
        r#"{"RequestHeaders":{"Authorization":"s3cret-x","Y":7}}"#,
    ] {
        let answer = connection
            .call(Method::POST, "/AuthZPlugin.AuthZReq", malformed.into())
            .await
            .unwrap();
        assert!(!answer.reply().allow);
        assert!(
            !answer.reply().msg.contains("s3cret"),
            "{}",
            answer.reply().msg
        );
    }
    connection
        .call(Method::POST, "/Unknown.Call?s3cret-unknown=1", Vec::new())
        .await
        .unwrap();
    let logs = logs.text();
    assert!(logs.contains(r#"route="/build""#), "{logs}");
    assert!(logs.contains("malformed call denied"), "{logs}");
    assert!(!logs.contains("s3cret"), "{logs}");
}
