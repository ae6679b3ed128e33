//! The socket half of the fidelity check: crafted requests recorded through a real dockerd are
//! sent again, byte for byte, through `serve`'s daemon (in-process, real sockets) with the
//! same recording plugin in its chain and an upstream that answers what the real daemon
//! answered; the plugin messages and client results are then compared with the real ones.
//!
//! A directory of crafted requests holds, per request, `NAME.exchange.jsonl` (the client side,
//! capture format v1) and `NAME.jsonl` (what the real daemon sent `record-plugin`), as
//! `captures/make-captures.sh` writes `captures/fidelity/`.

use std::convert::Infallible;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use protocol::client::PluginClient;
use protocol::server::{self, ServerConfig};

use super::{compare_client_results, compare_plugin_calls, Mismatch};
use crate::capture::{
    handler_result, read_capture, CaptureError, CaptureLine, Exchange, Expectation,
};
use crate::record_plugin::{read_plugin_calls, PluginCall, RecordPlugin};
use crate::serve::{self as serve_mod, Engine, ServeError, Service};
use crate::upstream::{Upstream, UpstreamError};
use crate::{AuthzChain, ClientResponse, Profile, ProfileName};

/// How long a call may take before the check gives up on it.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the response phase may lag behind the client's answer.
const RESPONSE_PHASE_WAIT: Duration = Duration::from_secs(5);

/// One crafted request with the real daemon's plugin-side recording of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crafted {
    /// The file stem (`create-chunked`).
    pub name: String,
    /// What the client sent the real daemon and what it answered.
    pub exchange: Exchange,
    /// What the real daemon sent the recording plugin, in order.
    pub recorded: Vec<PluginCall>,
}

/// How one crafted request fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The crafted request's name.
    pub name: String,
    /// The plugin calls the real daemon made.
    pub recorded_calls: usize,
    /// The plugin calls fake-dockerd made.
    pub produced_calls: usize,
    /// What the client got from the real daemon.
    pub real: Expectation,
    /// What the client got from fake-dockerd.
    pub produced: Expectation,
    /// Every difference; empty means identical.
    pub mismatches: Vec<Mismatch>,
}

impl Verdict {
    /// Identical plugin messages and client results.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Why the check could not run (as opposed to finding differences).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The directory could not be listed.
    #[error("cannot list {}", dir.display())]
    ListDir {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The directory holds no `NAME.exchange.jsonl`.
    #[error("{} holds no crafted requests (NAME.exchange.jsonl with NAME.jsonl)", .0.display())]
    Empty(PathBuf),
    /// A client-side file could not be read.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// A client-side file holds no exchange.
    #[error("{} holds no exchange", .0.display())]
    NoExchange(PathBuf),
    /// A plugin-side recording could not be read or parsed.
    #[error("cannot read the plugin recording {}: {reason}", path.display())]
    Recording {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// No `GET /_ping` answered 200 among the requests: serve needs one to learn the
    /// daemon's identity headers from its upstream.
    #[error("no crafted GET /_ping answered 200: serve's upstream needs one")]
    NoPing,
    /// A socket of the check (upstream, plugin, API) could not be set up.
    #[error("cannot set up {what}")]
    Setup {
        /// Which socket.
        what: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// `serve` could not start.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// `serve` could not reach the scripted upstream.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// Sending a crafted request or reading its answer failed.
    #[error("{name}: the exchange with fake-dockerd failed")]
    Exchange {
        /// The crafted request.
        name: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// Reads every crafted request of `dir`, sorted by name.
pub fn load_crafted(dir: &Path) -> Result<Vec<Crafted>, CheckError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CheckError::ListDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let file = entry.file_name().to_string_lossy().into_owned();
            file.strip_suffix(".exchange.jsonl").map(str::to_owned)
        })
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(CheckError::Empty(dir.to_path_buf()));
    }
    names
        .into_iter()
        .map(|name| {
            let client_side = dir.join(format!("{name}.exchange.jsonl"));
            let exchange = read_capture(&client_side)?
                .into_iter()
                .find_map(|line| match line {
                    CaptureLine::Exchange(exchange) => Some(*exchange),
                    CaptureLine::PluginCall(_) => None,
                })
                .ok_or_else(|| CheckError::NoExchange(client_side.clone()))?;
            let plugin_side = dir.join(format!("{name}.jsonl"));
            let recorded = std::fs::read_to_string(&plugin_side)
                .map_err(|err| err.to_string())
                .and_then(|text| read_plugin_calls(&text).map_err(|err| err.to_string()))
                .map_err(|reason| CheckError::Recording {
                    path: plugin_side,
                    reason,
                })?;
            Ok(Crafted {
                name,
                exchange,
                recorded,
            })
        })
        .collect()
}

/// Sends every crafted request through `serve`'s daemon playing `profile`, with
/// [`RecordPlugin`] as its only plugin and an upstream answering as the real daemon did, and
/// compares the outcome with the real recording. Sockets and the recording go in `work`.
pub async fn check(
    profile: ProfileName,
    crafted: &[Crafted],
    work: &Path,
) -> Result<Vec<Verdict>, CheckError> {
    let ping = crafted
        .iter()
        .map(|c| &c.exchange)
        .find(|e| {
            e.request.method == "GET" && e.request.target == "/_ping" && e.response.status == 200
        })
        .ok_or(CheckError::NoPing)?;
    let answer = Arc::new(Mutex::new(ping.response.clone()));
    let upstream_socket = work.join("upstream.sock");
    let upstream_task = scripted_upstream(&upstream_socket, Arc::clone(&answer))?;

    let recording = work.join("plugin-calls.jsonl");
    let plugin = RecordPlugin::open(&recording).map_err(|source| CheckError::Setup {
        what: "the recording plugin",
        source,
    })?;
    let plugin_socket = work.join("recorder.sock");
    let plugin_listener = server::bind_unix(&plugin_socket).map_err(|err| CheckError::Setup {
        what: "the recording plugin's socket",
        source: io::Error::other(err.to_string()),
    })?;
    let (stop_plugin, plugin_stopped) = tokio::sync::oneshot::channel::<()>();
    let plugin_task = tokio::spawn(server::serve(
        plugin_listener,
        Arc::new(plugin),
        ServerConfig::default(),
        async {
            let _ = plugin_stopped.await;
        },
    ));

    let daemon = Profile::get(profile);
    let upstream = Upstream::new(&upstream_socket);
    let identity = upstream.identity().await?;
    let chain = AuthzChain::new(
        daemon.clone(),
        vec![("recorder".to_owned(), PluginClient::new(&plugin_socket))],
    );
    let service = Service::new(
        daemon,
        Some(chain),
        Engine::Upstream(upstream, identity),
        None,
    );
    let api_socket = work.join("docker.sock");
    let listener = serve_mod::listen(&api_socket)?;
    let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
    let api_task = tokio::spawn(serve_mod::serve(listener, Arc::new(service), async {
        let _ = api_stopped.await;
    }));

    let mut verdicts = Vec::new();
    let mut result = Ok(());
    for request in crafted {
        *answer.lock().unwrap_or_else(|p| p.into_inner()) = request.exchange.response.clone();
        match run_one(request, &api_socket, &recording).await {
            Ok(verdict) => verdicts.push(verdict),
            Err(err) => {
                result = Err(err);
                break;
            }
        }
    }
    let _ = stop_api.send(());
    let _ = stop_plugin.send(());
    let _ = api_task.await;
    let _ = plugin_task.await;
    upstream_task.abort();
    result.map(|()| verdicts)
}

/// Sends one crafted request and judges what came of it.
async fn run_one(
    request: &Crafted,
    api_socket: &Path,
    recording: &Path,
) -> Result<Verdict, CheckError> {
    let exchange_error = |source| CheckError::Exchange {
        name: request.name.clone(),
        source,
    };
    let before = recorded_calls(recording).map_err(exchange_error)?.len();
    let bytes = wire_bytes(&request.exchange);
    let head = request.exchange.request.method == "HEAD";
    let socket = api_socket.to_path_buf();
    let (status, body) = tokio::task::spawn_blocking(move || exchange(&socket, &bytes, head))
        .await
        .map_err(|err| exchange_error(io::Error::other(err.to_string())))?
        .map_err(exchange_error)?;
    // The response phase may still be running when the answer is out: wait for it.
    let deadline = Instant::now() + RESPONSE_PHASE_WAIT;
    let produced = loop {
        let calls = recorded_calls(recording).map_err(exchange_error)?;
        if calls.len() - before >= request.recorded.len() || Instant::now() >= deadline {
            break calls[before..].to_vec();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let real = handler_result(&request.exchange.response);
    let got = handler_result(&ClientResponse {
        status,
        body,
        ..ClientResponse::default()
    });
    let mut mismatches = compare_plugin_calls(&request.recorded, &produced);
    mismatches.extend(compare_client_results(0, &real, &got));
    Ok(Verdict {
        name: request.name.clone(),
        recorded_calls: request.recorded.len(),
        produced_calls: produced.len(),
        real,
        produced: got,
        mismatches,
    })
}

/// The calls the recording plugin wrote down so far.
fn recorded_calls(recording: &Path) -> io::Result<Vec<PluginCall>> {
    let text = std::fs::read_to_string(recording)?;
    read_plugin_calls(&text).map_err(io::Error::other)
}

/// A daemon stand-in on `socket` that reads each call whole and answers with `answer`'s
/// current value, headers as recorded.
fn scripted_upstream(
    socket: &Path,
    answer: Arc<Mutex<ClientResponse>>,
) -> Result<tokio::task::JoinHandle<()>, CheckError> {
    let listener = tokio::net::UnixListener::bind(socket).map_err(|source| CheckError::Setup {
        what: "the scripted upstream's socket",
        source,
    })?;
    Ok(tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = Arc::clone(&answer);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: http::Request<hyper::body::Incoming>| {
                        let answer = answer.lock().unwrap_or_else(|p| p.into_inner()).clone();
                        async move {
                            // A daemon reads the whole body before it answers.
                            let _ = http_body_util::BodyExt::collect(request.into_body()).await;
                            Ok::<_, Infallible>(recorded_response(answer))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }))
}

/// The real daemon's answer rebuilt as an HTTP response (unparsable header lines dropped).
fn recorded_response(answer: ClientResponse) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() =
        http::StatusCode::from_u16(answer.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    for (name, value) in &answer.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// The request exactly as recorded: request line, header lines, body (chunked if it was).
pub fn wire_bytes(exchange: &Exchange) -> Vec<u8> {
    let request = &exchange.request;
    let mut bytes = format!("{} {} HTTP/1.1\r\n", request.method, request.target).into_bytes();
    for (name, value) in &request.headers {
        bytes.extend(format!("{name}: {value}\r\n").into_bytes());
    }
    bytes.extend(b"\r\n");
    if request.chunked {
        if !request.body.is_empty() {
            bytes.extend(format!("{:x}\r\n", request.body.len()).into_bytes());
            bytes.extend(&request.body);
            bytes.extend(b"\r\n");
        }
        bytes.extend(b"0\r\n\r\n");
    } else {
        bytes.extend(&request.body);
    }
    bytes
}

/// Writes `request` to `socket` and reads one HTTP/1.1 response: status and body.
fn exchange(socket: &Path, request: &[u8], head_request: bool) -> io::Result<(u16, Vec<u8>)> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(CALL_TIMEOUT))?;
    stream.write_all(request)?;
    read_response(&mut BufReader::new(stream), head_request)
}

/// Reads one HTTP/1.1 response: status and body (by length, chunks, or none).
pub fn read_response(reader: &mut impl BufRead, head_request: bool) -> io::Result<(u16, Vec<u8>)> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let (mut length, mut chunked) = (0usize, false);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            return Err(bad("headers cut short"));
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| bad("bad header line"))?;
        if name.eq_ignore_ascii_case("content-length") {
            length = value
                .trim()
                .parse()
                .map_err(|_| bad("bad Content-Length"))?;
        }
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let mut body = Vec::new();
    if head_request || status == 204 || status == 304 {
        return Ok((status, body));
    }
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim(), 16).map_err(|_| bad("bad chunk size"))?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClientRequest;

    #[test]
    fn a_chunked_request_goes_out_as_one_chunk_and_the_last_chunk() {
        let exchange = Exchange {
            version: 1,
            request: ClientRequest::new("POST", "/x").json("{}").chunked(),
            response: ClientResponse::default(),
            expect: None,
        };
        let text = String::from_utf8(wire_bytes(&exchange)).unwrap();
        assert!(text.ends_with("\r\n\r\n2\r\n{}\r\n0\r\n\r\n"), "{text:?}");
        assert!(text.starts_with("POST /x HTTP/1.1\r\n"));
    }

    #[test]
    fn a_chunked_response_body_is_read_whole() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let (status, body) = read_response(&mut &raw[..], false).unwrap();
        assert_eq!((status, body.as_slice()), (200, &b"abcde"[..]));
    }

    #[test]
    fn a_head_response_has_no_body_whatever_its_length_says() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(
            read_response(&mut &raw[..], true).unwrap(),
            (200, Vec::new())
        );
    }
}
