//! The canonicaliser's cost on the bodies a real docker CLI sends: the `docker run` create
//! body of `captures/workflow/run.jsonl`, read the way dockerd reads it.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use protocol::body::{decode, ContainerCreate};

#[path = "support/recorded.rs"]
mod recorded;

fn bench_canonicalise(c: &mut Criterion) {
    let body = recorded::recorded_create().request_body;
    let create = decode::<ContainerCreate>(&body).expect("the recorded body decodes");
    assert_eq!(create.endpoints, ["default"]);
    c.bench_function("decode docker-run create body", |b| {
        b.iter(|| decode::<ContainerCreate>(black_box(&body)))
    });
}

criterion_group!(benches, bench_canonicalise);
criterion_main!(benches);
