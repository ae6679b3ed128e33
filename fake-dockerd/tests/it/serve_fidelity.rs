//! `fake-dockerd serve --profile moby-20.10` over real sockets gives a plugin the very
//! messages a real dockerd 20.10 gave it, for every crafted request in captures/fidelity/.
//!
//! Each recorded request is written byte for byte to serve's socket; serve forwards what
//! the plugin allows to a scripted upstream that answers what the real daemon answered, so
//! both phases can be compared with the real plugin-side recording (ids and times aside),
//! as well as what the client got.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use fake_dockerd::capture::{read_capture, CaptureLine, Exchange, Expectation};
use fake_dockerd::fidelity::{compare_client_results, compare_plugin_calls};
use fake_dockerd::record_plugin::{read_plugin_calls, PluginCall};
use fake_dockerd::ClientResponse;
use http_body_util::Full;
use hyper_util::rt::TokioIo;

use crate::serve_harness::{FakeDockerd, RunningPlugin};

fn fidelity_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../captures/fidelity")
}

/// Every crafted exchange with the real daemon's plugin-side recording of it.
fn crafted() -> Vec<(String, Exchange, Vec<PluginCall>)> {
    let mut pairs = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(fidelity_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".exchange.jsonl"))
        .collect();
    names.sort();
    for path in names {
        let name = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".exchange.jsonl", "");
        let exchange = read_capture(&path)
            .unwrap()
            .into_iter()
            .find_map(|line| match line {
                CaptureLine::Exchange(exchange) => Some(*exchange),
                CaptureLine::PluginCall(_) => None,
            })
            .unwrap();
        let recorded =
            std::fs::read_to_string(fidelity_dir().join(format!("{name}.jsonl"))).unwrap();
        pairs.push((name, exchange, read_plugin_calls(&recorded).unwrap()));
    }
    pairs
}

/// A daemon stand-in on `socket` that answers every call with `answer`'s current value,
/// headers as recorded.
fn scripted_upstream(socket: &Path, answer: Arc<Mutex<ClientResponse>>) {
    let listener = std::os::unix::net::UnixListener::bind(socket).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::UnixListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let answer = Arc::clone(&answer);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |request: http::Request<hyper::body::Incoming>| {
                            let answer = answer.lock().unwrap().clone();
                            async move {
                                // A daemon reads the whole body before it answers.
                                let _ = http_body_util::BodyExt::collect(request.into_body()).await;
                                let mut response =
                                    http::Response::new(Full::new(Bytes::from(answer.body)));
                                *response.status_mut() =
                                    http::StatusCode::from_u16(answer.status).unwrap();
                                for (name, value) in &answer.headers {
                                    response.headers_mut().append(
                                        http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                                        http::HeaderValue::from_str(value).unwrap(),
                                    );
                                }
                                Ok::<_, std::convert::Infallible>(response)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
}

/// The request exactly as recorded: request line, header lines, body (chunked if it was).
fn wire_bytes(exchange: &Exchange) -> Vec<u8> {
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

/// Reads one HTTP/1.1 response: status and body (by length, chunks, or none).
fn read_response(reader: &mut BufReader<UnixStream>, head_request: bool) -> (u16, Vec<u8>) {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (mut length, mut chunked) = (0usize, false);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().unwrap();
        }
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let mut body = Vec::new();
    if head_request || status == 204 || status == 304 {
        return (status, body);
    }
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).unwrap();
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
            body.extend(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).unwrap();
    }
    (status, body)
}

fn client_result(status: u16, body: &[u8]) -> Expectation {
    fake_dockerd::capture::handler_result(&ClientResponse {
        status,
        body: body.to_vec(),
        ..ClientResponse::default()
    })
}

#[test]
fn serve_gives_the_plugin_what_a_real_dockerd_20_10_gave_it_for_every_crafted_request() {
    let pairs = crafted();
    assert!(
        pairs.len() >= 10,
        "captures/fidelity holds {} exchanges",
        pairs.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let ping = pairs
        .iter()
        .find(|(name, _, _)| name == "ping")
        .map(|(_, exchange, _)| exchange.response.clone())
        .expect("a recorded /_ping");
    let answer = Arc::new(Mutex::new(ping));
    let upstream = dir.path().join("upstream.sock");
    scripted_upstream(&upstream, Arc::clone(&answer));
    let plugin = RunningPlugin::start(dir.path(), "recorder", None);
    let upstream_address = format!("unix://{}", upstream.display());
    let fake = FakeDockerd::serve(
        dir.path(),
        "recorder",
        &["--profile", "moby-20.10", "--upstream", &upstream_address],
    );
    let mut failures = Vec::new();
    for (name, exchange, recorded) in &pairs {
        *answer.lock().unwrap() = exchange.response.clone();
        let before = plugin.calls.lock().unwrap().len();
        let mut stream = UnixStream::connect(&fake.socket).unwrap();
        stream.write_all(&wire_bytes(exchange)).unwrap();
        let mut reader = BufReader::new(stream);
        let (status, body) = read_response(&mut reader, exchange.request.method == "HEAD");
        // The response phase may still be running when the answer is out: wait for it.
        let expected_calls = recorded.len();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while plugin.calls.lock().unwrap().len() - before < expected_calls
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let produced: Vec<PluginCall> = plugin.calls.lock().unwrap()[before..]
            .iter()
            .map(|(phase, message)| PluginCall {
                phase: *phase,
                message: message.clone(),
            })
            .collect();
        for mismatch in compare_plugin_calls(recorded, &produced) {
            failures.push(format!("{name}: {mismatch:?}"));
        }
        let real = client_result(exchange.response.status, &exchange.response.body);
        if let Some(mismatch) = compare_client_results(0, &real, &client_result(status, &body)) {
            failures.push(format!("{name}: {mismatch:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
