//! Routing a call, answering it, and showing the answer to the response phase in the form
//! dockerd's authz middleware sees it.
//!
//! dockerd's middleware buffers up to 64 KiB of what a handler writes. A handler that
//! flushes (logs, events, pull progress), writes more than that, or hijacks the connection
//! has sent its answer before AuthZRes is asked, so that answer is relayed as it comes and
//! the response phase runs after it ended; a buffered answer is held until the response
//! phase allowed it. Which handlers flush is read from moby v20.10.24 `api/server/router`.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use protocol::route::Route;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{denial_response, header_lines, json_error, whole, AnswerBody, Engine, Service};
use crate::backend::{Awaited, Reply};
use crate::chain::BoxFuture;
use crate::upstream::{ChannelBody, Outgoing, Upstream};
use crate::{ClientRequest, ClientResponse, Profile, Refusal, ResponseKind};

/// Route templates whose dockerd handler flushes while writing, so the response phase never
/// sees their answer: log streams, stats (unless `stream=0`), wait, events, and every
/// progress stream.
const FLUSHING_ROUTES: &[&str] = &[
    "/containers/{name}/logs",
    "/containers/{name}/stats",
    "/containers/{name}/wait",
    "/services/{id}/logs",
    "/tasks/{id}/logs",
    "/events",
    "/build",
    "/images/create",
    "/images/{name}/push",
    "/images/load",
    "/images/get",
    "/images/{name}/get",
    "/plugins/pull",
    "/plugins/{name}/push",
    "/plugins/{name}/upgrade",
];

/// Whether dockerd's handler for `route` flushes as it writes. Stats flush only when
/// streaming: with `stream=0` the one JSON object is buffered (captures/workflow/stats).
fn flushes(route: &Route) -> bool {
    match route.template {
        "/containers/{name}/stats" => route
            .query_value("stream")
            .is_none_or(crate::backend::form_bool),
        template => FLUSHING_ROUTES.contains(&template),
    }
}

/// Route templates whose dockerd handler hijacks the connection.
const HIJACKING_ROUTES: &[&str] = &["/containers/{name}/attach", "/exec/{name}/start"];

/// Resolves the call to a dockerd route, or says how the profile's router answers it
/// before any middleware runs (301 to the clean path, 404 for an unknown route).
pub(super) fn route(profile: &Profile, call: &ClientRequest) -> Result<Route, Refusal> {
    profile.route(call)?;
    protocol::route::parse(&call.method, &call.target).map_err(|err| Refusal {
        status: 400,
        message: err.to_string(),
        location: None,
    })
}

/// The router's own answer: a bare redirect, or dockerd's JSON error.
pub(super) fn refusal_response(refusal: &Refusal) -> Response<AnswerBody> {
    match &refusal.location {
        Some(location) => {
            let mut response = Response::new(whole(Bytes::new()));
            *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
            if let Ok(value) = HeaderValue::from_str(location) {
                response.headers_mut().insert(http::header::LOCATION, value);
            }
            response
        }
        None => json_error(refusal.status, &refusal.message),
    }
}

/// Answers an allowed call from the configured engine.
pub(super) async fn dispatch(
    service: &Arc<Service>,
    route: Option<Route>,
    parts: http::request::Parts,
    body: Bytes,
    call: ClientRequest,
    upgrade: Option<OnUpgrade>,
) -> Response<AnswerBody> {
    match &service.engine {
        Engine::Memory(engine) => match route {
            Some(route) => {
                let reply = engine.handle(&route, &body);
                let identity = engine.identity().headers();
                from_memory(service, reply, identity, call, upgrade).await
            }
            None => json_error(404, "page not found"),
        },
        Engine::Upstream(upstream, _) => {
            forward(
                service,
                upstream,
                route.as_ref(),
                &parts,
                body,
                call,
                upgrade,
            )
            .await
        }
    }
}

/// The `Content-Type` of a hijacked (or not upgraded attach) stream.
const RAW_STREAM: &str = "application/vnd.docker.raw-stream";

/// `headers` followed by a `Content-Type` of `content_type`.
fn with_content_type(
    mut headers: Vec<(String, String)>,
    content_type: &str,
) -> Vec<(String, String)> {
    headers.push(("Content-Type".into(), content_type.into()));
    headers
}

/// Gives an engine's reply to the client, with the headers dockerd's version middleware
/// adds to every answer (`identity`), running the response phase where dockerd would.
async fn from_memory(
    service: &Arc<Service>,
    reply: Reply,
    identity: Vec<(String, String)>,
    call: ClientRequest,
    upgrade: Option<OnUpgrade>,
) -> Response<AnswerBody> {
    match reply {
        Reply::Pending {
            container_id,
            awaited,
        } => {
            let later = {
                let service = Arc::clone(service);
                let awaited = awaited.clone();
                async move { service.resolve(&container_id, &awaited).await }
            };
            match (awaited, upgrade) {
                (Awaited::Attach { .. }, Some(upgrade)) => {
                    let headers = with_content_type(Vec::new(), RAW_STREAM);
                    let output = Box::pin(async move { later.await.into_body() });
                    hijack_with_output(service, call, headers, upgrade, output)
                }
                (Awaited::Attach { .. }, None) => {
                    let headers = with_content_type(identity, RAW_STREAM);
                    stream_later(service, call, headers, later, ResponseKind::Hijacked)
                }
                (Awaited::Wait { .. }, _) => {
                    let headers = with_content_type(identity, "application/json");
                    stream_later(service, call, headers, later, ResponseKind::Streamed)
                }
            }
        }
        Reply::Buffered(answer) => {
            let headers = [identity, answer.headers].concat();
            let seen = ClientResponse {
                status: answer.status,
                headers,
                body: answer.body,
                kind: ResponseKind::Buffered,
            };
            finish_buffered(service, call, seen).await
        }
        Reply::Streamed(answer) => {
            let headers = [identity, answer.headers].concat();
            relay_stream(
                service,
                call,
                answer.status,
                headers,
                Bytes::from(answer.body),
                None,
                ResponseKind::Streamed,
            )
        }
        Reply::Failed { status, message } => {
            let seen = ClientResponse {
                status,
                headers: with_content_type(identity, "application/json"),
                body: (serde_json::json!({ "message": message }).to_string() + "\n").into_bytes(),
                kind: ResponseKind::HandlerError,
            };
            finish_handler_error(service, call, seen).await
        }
        Reply::Hijacked(output) => {
            let headers = with_content_type(identity, RAW_STREAM);
            match upgrade {
                Some(upgrade) => {
                    hijack_with_output(service, call, headers, upgrade, Box::pin(async { output }))
                }
                None => relay_stream(
                    service,
                    call,
                    200,
                    headers,
                    Bytes::from(output),
                    None,
                    ResponseKind::Hijacked,
                ),
            }
        }
    }
}

/// Runs the response phase on a whole answer and sends it, or the denial instead.
async fn finish_buffered(
    service: &Arc<Service>,
    call: ClientRequest,
    seen: ClientResponse,
) -> Response<AnswerBody> {
    let verdict = service.authorize_response(&call, &seen).await;
    service.record(&call, &seen);
    match verdict {
        Ok(()) => build(seen.status, &seen.headers, whole(seen.body)),
        Err(denial) => denial_response(&denial),
    }
}

/// Answers with a handler's error (`seen`): the router writes it after the response phase,
/// whatever the plugins say there.
async fn finish_handler_error(
    service: &Arc<Service>,
    call: ClientRequest,
    seen: ClientResponse,
) -> Response<AnswerBody> {
    after_the_answer(service, &call, &seen).await;
    build(seen.status, &seen.headers, whole(seen.body))
}

/// Runs the response phase on an answer its verdict cannot change (a handler's error, a
/// hijacked stream that ended) and records the exchange.
async fn after_the_answer(service: &Service, call: &ClientRequest, seen: &ClientResponse) {
    let _ = service.authorize_response(call, seen).await;
    service.record(call, seen);
}

/// The response phase of an answer already flushed to the client: a deny can only be written
/// after it, as dockerd does.
async fn after_a_flushed_answer(
    service: &Service,
    call: &ClientRequest,
    seen: &ClientResponse,
    sender: &tokio::sync::mpsc::Sender<Bytes>,
) {
    if let Err(denial) = service.authorize_response(call, seen).await {
        let _ = sender.send(super::late_denial_bytes(&denial)).await;
    }
    service.record(call, seen);
}

/// [`after_the_answer`] for a hijacked stream that ended: a 101 with `headers` (as the
/// response phase shows them) that carried `output`.
async fn after_a_hijack(
    service: &Service,
    call: &ClientRequest,
    headers: Vec<(String, String)>,
    output: Vec<u8>,
) {
    let seen = ClientResponse {
        status: 101,
        headers,
        body: output,
        kind: ResponseKind::Hijacked,
    };
    after_the_answer(service, call, &seen).await;
}

/// The headers the response phase shows for an answer of `kind` sent with `headers`: a
/// hijacked one gains the daemon's identity headers ([`Service::with_identity`]).
fn response_phase_headers(
    service: &Service,
    headers: &[(String, String)],
    kind: ResponseKind,
) -> Vec<(String, String)> {
    match kind {
        ResponseKind::Hijacked => service.with_identity(headers),
        _ => headers.to_vec(),
    }
}

/// Switches the client's connection to a raw stream, writes `output` and closes it; the
/// response phase runs once the stream ended, and its verdict changes nothing.
fn hijack_with_output(
    service: &Arc<Service>,
    call: ClientRequest,
    mut headers: Vec<(String, String)>,
    upgrade: OnUpgrade,
    output: BoxFuture<'static, Vec<u8>>,
) -> Response<AnswerBody> {
    headers.push(("Connection".into(), "Upgrade".into()));
    headers.push(("Upgrade".into(), "tcp".into()));
    let service = Arc::clone(service);
    let seen_headers = service.with_identity(&headers);
    let flight = service.enter();
    tokio::spawn(async move {
        let _flight = flight;
        let upgraded = upgrade.await;
        let output = output.await;
        match upgraded {
            Ok(upgraded) => {
                let mut stream = TokioIo::new(upgraded);
                if let Err(err) = stream.write_all(&output).await {
                    tracing::debug!("hijacked stream closed early: {err}");
                }
                let _ = stream.shutdown().await;
            }
            Err(err) => tracing::warn!("client upgrade failed: {err}"),
        }
        after_a_hijack(&service, &call, seen_headers, output).await;
    });
    build(101, &headers, whole(Bytes::new()))
}

/// Sends `status` 200 and `headers` now and the body once `later` has it (a wait, an attach
/// without upgrade); the response phase runs after, as for any flushed answer. A client
/// that leaves first ends the wait.
fn stream_later(
    service: &Arc<Service>,
    call: ClientRequest,
    headers: Vec<(String, String)>,
    later: impl std::future::Future<Output = Reply> + Send + 'static,
    kind: ResponseKind,
) -> Response<AnswerBody> {
    let (sender, body) = ChannelBody::channel(1);
    let service = Arc::clone(service);
    let seen_headers = response_phase_headers(&service, &headers, kind);
    let flight = service.enter();
    tokio::spawn(async move {
        let _flight = flight;
        let reply = tokio::select! {
            reply = later => Some(reply),
            () = sender.closed() => None,
        };
        let output = reply.map(Reply::into_body).unwrap_or_default();
        if !output.is_empty() {
            let _ = sender.send(Bytes::from(output.clone())).await;
        }
        let seen = ClientResponse {
            status: 200,
            headers: seen_headers,
            body: output,
            kind,
        };
        after_a_flushed_answer(&service, &call, &seen, &sender).await;
    });
    build(200, &headers, body.boxed())
}

/// Relays an answer chunk by chunk as it is produced, then runs the response phase; a deny
/// arrives too late to stop anything and is written after the stream, as dockerd does.
fn relay_stream(
    service: &Arc<Service>,
    call: ClientRequest,
    status: u16,
    headers: Vec<(String, String)>,
    first: Bytes,
    rest: Option<Incoming>,
    kind: ResponseKind,
) -> Response<AnswerBody> {
    let (sender, body) = ChannelBody::channel(16);
    let service = Arc::clone(service);
    let seen_headers = response_phase_headers(&service, &headers, kind);
    let flight = service.enter();
    tokio::spawn(async move {
        let _flight = flight;
        let keep_all = service.tap.is_some();
        let mut seen = first.to_vec();
        let mut client_gone = !first.is_empty() && sender.send(first).await.is_err();
        if let Some(mut rest) = rest {
            while !client_gone {
                // A client that leaves ends the call, as the daemon's handler returns when its
                // client is gone (`docker run -d` drops its `wait` this way); the upstream
                // connection is dropped with `rest`.
                let frame = tokio::select! {
                    frame = rest.frame() => frame,
                    () = sender.closed() => break,
                };
                match frame {
                    Some(Ok(frame)) => {
                        let Ok(data) = frame.into_data() else {
                            continue;
                        };
                        if keep_all {
                            seen.extend_from_slice(&data);
                        }
                        client_gone = sender.send(data).await.is_err();
                    }
                    Some(Err(err)) => {
                        tracing::debug!("upstream stream broke: {err}");
                        break;
                    }
                    None => break,
                }
            }
        }
        let seen = ClientResponse {
            status,
            headers: seen_headers,
            body: seen,
            kind,
        };
        after_a_flushed_answer(&service, &call, &seen, &sender).await;
    });
    build(status, &headers, body.boxed())
}

/// Forwards an allowed call to the real daemon and relays its answer.
async fn forward(
    service: &Arc<Service>,
    upstream: &Upstream,
    route: Option<&Route>,
    parts: &http::request::Parts,
    body: Bytes,
    call: ClientRequest,
    upgrade: Option<OnUpgrade>,
) -> Response<AnswerBody> {
    let outgoing = Outgoing {
        method: &parts.method,
        target: &call.target,
        headers: &parts.headers,
        body,
        chunked: call.chunked,
    };
    let mut response = match upstream.send(outgoing).await {
        Ok(response) => response,
        Err(err) => return json_error(502, &format!("fake-dockerd: {err}")),
    };
    let status = response.status().as_u16();
    let visible = header_lines(response.headers());
    if status == 101 {
        let daemon = hyper::upgrade::on(&mut response);
        return match upgrade {
            Some(client) => splice(service, call, visible, client, daemon),
            None => json_error(
                502,
                "fake-dockerd: the daemon upgraded a call the client did not ask to upgrade",
            ),
        };
    }
    let body = response.into_body();
    if status >= 400 {
        let bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes().to_vec(),
            Err(err) => {
                return json_error(502, &format!("fake-dockerd: upstream answer broke: {err}"))
            }
        };
        let seen = ClientResponse {
            status,
            headers: visible,
            body: bytes,
            kind: ResponseKind::HandlerError,
        };
        return finish_handler_error(service, call, seen).await;
    }
    if route.is_some_and(|route| HIJACKING_ROUTES.contains(&route.template)) {
        return relay_stream(
            service,
            call,
            status,
            visible,
            Bytes::new(),
            Some(body),
            ResponseKind::Hijacked,
        );
    }
    if route.is_some_and(flushes) {
        return relay_stream(
            service,
            call,
            status,
            visible,
            Bytes::new(),
            Some(body),
            ResponseKind::Streamed,
        );
    }
    let mut body = body;
    let mut seen = Vec::new();
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    seen.extend_from_slice(&data);
                    if seen.len() > service.profile.response_buffer {
                        return relay_stream(
                            service,
                            call,
                            status,
                            visible,
                            Bytes::from(seen),
                            Some(body),
                            ResponseKind::Streamed,
                        );
                    }
                }
            }
            Some(Err(err)) => {
                return json_error(502, &format!("fake-dockerd: upstream answer broke: {err}"))
            }
            None => break,
        }
    }
    let seen = ClientResponse {
        status,
        headers: visible,
        body: seen,
        kind: ResponseKind::Buffered,
    };
    finish_buffered(service, call, seen).await
}

/// Joins the client's upgraded connection to the daemon's: bytes flow both ways until the
/// daemon ends its output; then the response phase runs (its verdict changes nothing).
fn splice(
    service: &Arc<Service>,
    call: ClientRequest,
    headers: Vec<(String, String)>,
    client: OnUpgrade,
    daemon: OnUpgrade,
) -> Response<AnswerBody> {
    let service = Arc::clone(service);
    let seen_headers = service.with_identity(&headers);
    let flight = service.enter();
    tokio::spawn(async move {
        let _flight = flight;
        let (client, daemon) = match tokio::join!(client, daemon) {
            (Ok(client), Ok(daemon)) => (TokioIo::new(client), TokioIo::new(daemon)),
            (client, daemon) => {
                tracing::warn!(
                    "upgrade failed: client {:?}, daemon {:?}",
                    client.err(),
                    daemon.err()
                );
                return;
            }
        };
        let (mut client_read, mut client_write) = tokio::io::split(client);
        let (mut daemon_read, mut daemon_write) = tokio::io::split(daemon);
        // Client input goes on until the client half-closes or leaves.
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut client_read, &mut daemon_write).await;
            let _ = daemon_write.shutdown().await;
        });
        let keep_all = service.tap.is_some();
        let mut output = Vec::new();
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            match daemon_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if keep_all {
                        output.extend_from_slice(&buffer[..n]);
                    }
                    if client_write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = client_write.shutdown().await;
        after_a_hijack(&service, &call, seen_headers, output).await;
    });
    build(101, &headers, whole(Bytes::new()))
}

/// An answer with the given status and headers; framing headers are left to hyper.
fn build(status: u16, headers: &[(String, String)], body: AnswerBody) -> Response<AnswerBody> {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let map: &mut HeaderMap = response.headers_mut();
    for (name, value) in headers {
        // hyper frames the body itself; only an upgrade keeps its `Connection` header.
        let framing = name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
            || (status != 101 && name.eq_ignore_ascii_case("connection"));
        if framing {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, target: &str) -> Route {
        protocol::route::parse(method, target).unwrap()
    }

    #[test]
    fn log_streams_and_waits_are_flushed() {
        assert!(flushes(&route(
            "GET",
            "/v1.41/containers/web/logs?stdout=1"
        )));
        assert!(flushes(&route("POST", "/v1.41/containers/web/wait")));
    }

    #[test]
    fn stats_are_flushed_only_when_streaming() {
        assert!(flushes(&route("GET", "/v1.41/containers/web/stats")));
        assert!(flushes(&route(
            "GET",
            "/v1.41/containers/web/stats?stream=1"
        )));
        assert!(!flushes(&route(
            "GET",
            "/v1.41/containers/web/stats?stream=0"
        )));
    }

    #[test]
    fn a_container_list_is_buffered() {
        assert!(!flushes(&route("GET", "/v1.41/containers/json")));
    }
}
