//! The canonicaliser's cost on the bodies a real docker CLI sends: the `docker run` create
//! body of `captures/workflow/run.jsonl`, read the way dockerd reads it.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use protocol::body::{decode, ContainerCreate};
use protocol::AuthzRequest;

/// The request body of the first container create in the recorded `docker run` workflow.
fn recorded_create_body() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../captures/workflow/run.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a capture line"))
        .filter(|call| call["phase"] == "Request")
        .map(|call| serde_json::from_value::<AuthzRequest>(call["message"].clone()).unwrap())
        .find(|m| m.request_uri.contains("/containers/create"))
        .map(|m| m.request_body)
        .expect("the capture holds a container create")
}

fn bench_canonicalise(c: &mut Criterion) {
    let body = recorded_create_body();
    let create = decode::<ContainerCreate>(&body).expect("the recorded body decodes");
    assert_eq!(create.endpoints, ["default"]);
    c.bench_function("decode docker-run create body", |b| {
        b.iter(|| decode::<ContainerCreate>(black_box(&body)))
    });
}

criterion_group!(benches, bench_canonicalise);
criterion_main!(benches);
