//! `fake-dockerd record` between the docker CLI and a throwaway real dockerd.

use fake_dockerd::capture::{read_capture, CaptureLine};
use fake_dockerd::ResponseKind;

use crate::serve_harness::{ok_stdout, real_dockerd, FakeDockerd};

#[test]
fn record_writes_one_capture_line_per_exchange_of_docker_run_rm() {
    let Some(daemon) = real_dockerd() else { return };
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("record.sock");
    let out = dir.path().join("run.jsonl");
    let upstream = format!("unix://{}", daemon.socket.display());
    let recorder = FakeDockerd::start(
        &socket,
        &[
            "record",
            "--upstream",
            &upstream,
            "--listen",
            socket.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let printed = ok_stdout(
        &recorder.docker(&["run", "--rm", daemon.image, "echo", "recorded"]),
        "docker run --rm",
    );
    assert_eq!(printed, "recorded\n");
    recorder.stop();
    let lines = read_capture(&out).unwrap();
    let exchanges: Vec<_> = lines
        .iter()
        .filter_map(|line| match line {
            CaptureLine::Exchange(exchange) => Some(exchange),
            _ => None,
        })
        .collect();
    let create = exchanges
        .iter()
        .find(|e| e.request.target.contains("/containers/create"))
        .expect("create recorded");
    assert_eq!(create.response.status, 201);
    assert_eq!(create.response.kind, ResponseKind::Buffered);
    let attach = exchanges
        .iter()
        .find(|e| e.request.target.contains("/attach"))
        .expect("attach recorded");
    assert_eq!(attach.response.kind, ResponseKind::Hijacked);
    assert!(String::from_utf8_lossy(&attach.response.body).contains("recorded"));
}
