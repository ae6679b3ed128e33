//! Broken plugins whose flaw is in the transport, so they cannot sit on `protocol::server`:
//! a minimal hand-written HTTP/1.1 server on the unix socket, otherwise allowing every
//! well-formed call.

use std::sync::Arc;
use std::time::Duration;

use protocol::wire::{
    ActivateManifest, AuthzReply, AuthzRequest, ACTIVATE_PATH, AUTHZ_REQUEST_PATH,
    AUTHZ_RESPONSE_PATH,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// Which transport flaw the server has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFlaw {
    /// The process exits (here: the server stops listening) on the first envelope it cannot
    /// parse, as plugins that `unwrap()` their JSON do.
    DiesOnMalformedJson,
    /// Connections are served one after the other, each until the client closes it, as a
    /// single-threaded accept-then-serve loop does; kept-alive connections block all others.
    /// Each call is held `hold` before its answer.
    OneConnectionAtATime {
        /// How long each call waits for its answer.
        hold: Duration,
    },
    /// Every call is answered after `delay`, connections served concurrently: a plugin that
    /// asks a slow policy service.
    SlowAnswers {
        /// How long each call waits for its answer.
        delay: Duration,
    },
    /// Reads create bodies as a Go struct with a `HostConfig` pointer it never checks: a
    /// create without a `HostConfig` object panics the handler (Go's net/http drops the
    /// connection), an empty bind kills the process; a privileged create is denied.
    CrashesOnUnusualCreates,
    /// Refuses every call but a GET or HEAD with HTTP 500 and an `Err`, never with a deny:
    /// dockerd tells the client the plugin failed.
    RefusesWithServerErrors,
}

/// What the server does after a call.
enum Next {
    KeepServing,
    /// Close this connection without answering.
    Drop,
    Die,
}

/// Reads one request: its path and body; `None` at end of input.
async fn read_request(
    stream: &mut BufReader<UnixStream>,
) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut request_line = String::new();
    if stream.read_line(&mut request_line).await? == 0 {
        return Ok(None);
    }
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; content_length];
    stream.read_exact(&mut body).await?;
    Ok(Some((path, body)))
}

async fn reply(
    stream: &mut BufReader<UnixStream>,
    status: u16,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.get_mut().write_all(head.as_bytes()).await?;
    stream.get_mut().write_all(body).await
}

fn json(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("reply types always serialize")
}

/// What a flawed plugin does with one well-formed request-phase call.
enum Answer {
    /// HTTP 200 with this reply.
    Reply(AuthzReply),
    /// HTTP 500 with this `Err`.
    ServerError(&'static str),
    /// No answer: the connection or the whole process goes.
    Gone(Next),
}

/// What a plugin with `flaw` does with a well-formed request-phase call.
fn judge(flaw: TransportFlaw, request: &AuthzRequest) -> Answer {
    let mutating = !matches!(request.request_method.as_str(), "GET" | "HEAD");
    match flaw {
        TransportFlaw::CrashesOnUnusualCreates
            if mutating && request.request_uri.contains("/containers/create") =>
        {
            let Ok(body) = serde_json::from_slice::<serde_json::Value>(&request.request_body)
            else {
                return Answer::Gone(Next::Drop);
            };
            let Some(host_config) = body.get("HostConfig").filter(|h| h.is_object()) else {
                return Answer::Gone(Next::Drop);
            };
            let binds = host_config.get("Binds").and_then(|b| b.as_array());
            if binds.is_some_and(|binds| binds.iter().any(|b| b == "")) {
                return Answer::Gone(Next::Die);
            }
            if host_config.get("Privileged") == Some(&serde_json::Value::Bool(true)) {
                return Answer::Reply(AuthzReply::deny("privileged containers are not allowed"));
            }
            Answer::Reply(AuthzReply::allow())
        }
        TransportFlaw::RefusesWithServerErrors if mutating => {
            Answer::ServerError("only GET and HEAD calls are allowed")
        }
        _ => Answer::Reply(AuthzReply::allow()),
    }
}

/// Answers one call; allows every well-formed authz call the flaw does not get in the way of.
async fn answer(
    stream: &mut BufReader<UnixStream>,
    flaw: TransportFlaw,
    path: &str,
    body: &[u8],
) -> std::io::Result<Next> {
    match flaw {
        TransportFlaw::OneConnectionAtATime { hold: wait }
        | TransportFlaw::SlowAnswers { delay: wait } => tokio::time::sleep(wait).await,
        _ => {}
    }
    match path {
        ACTIVATE_PATH => reply(stream, 200, &json(&ActivateManifest::authz())).await?,
        AUTHZ_REQUEST_PATH | AUTHZ_RESPONSE_PATH => {
            match serde_json::from_slice::<AuthzRequest>(body) {
                Ok(_) if path == AUTHZ_RESPONSE_PATH => {
                    reply(stream, 200, &json(&AuthzReply::allow())).await?
                }
                Ok(request) => match judge(flaw, &request) {
                    Answer::Reply(verdict) => reply(stream, 200, &json(&verdict)).await?,
                    Answer::ServerError(err) => {
                        let body = serde_json::json!({ "Err": err });
                        reply(stream, 500, &json(&body)).await?
                    }
                    Answer::Gone(next) => return Ok(next),
                },
                Err(_) if flaw == TransportFlaw::DiesOnMalformedJson => return Ok(Next::Die),
                Err(e) => {
                    let deny = AuthzReply::deny(format!("malformed call: {e}"));
                    reply(stream, 200, &json(&deny)).await?
                }
            }
        }
        _ => reply(stream, 404, b"{\"Err\":\"no such call\"}").await?,
    }
    Ok(Next::KeepServing)
}

/// Serves one connection until the client closes it; `Next::Die` when the flaw fired.
async fn serve_connection(stream: UnixStream, flaw: TransportFlaw) -> Next {
    let mut stream = BufReader::new(stream);
    loop {
        match read_request(&mut stream).await {
            Ok(Some((path, body))) => match answer(&mut stream, flaw, &path, &body).await {
                Ok(Next::KeepServing) => {}
                Ok(Next::Die) => return Next::Die,
                Ok(Next::Drop) | Err(_) => return Next::KeepServing,
            },
            Ok(None) | Err(_) => return Next::KeepServing,
        }
    }
}

/// Serves the flawed plugin on `listener` until the flaw kills it (or forever). When it
/// dies, every connection it had dies with it, as with a crashed process.
pub async fn serve(listener: UnixListener, flaw: TransportFlaw) {
    let died = Arc::new(Notify::new());
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = died.notified() => return,
        };
        let Ok((stream, _)) = accepted else {
            return;
        };
        if let TransportFlaw::OneConnectionAtATime { .. } = flaw {
            serve_connection(stream, flaw).await;
        } else {
            let died = Arc::clone(&died);
            connections.spawn(async move {
                if let Next::Die = serve_connection(stream, flaw).await {
                    died.notify_one();
                }
            });
        }
    }
}
