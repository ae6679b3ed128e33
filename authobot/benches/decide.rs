//! One in-process decision of the default policy on `POST /containers/create` exactly as
//! the docker CLI 28 sent it to a real dockerd (taken from `captures/workflow/run.jsonl`):
//! as `serve` makes it (no field log), as `explain` makes it, its audit line, and the whole
//! request phase of the plugin.

use std::hint::black_box;
use std::path::Path;

use authobot::audit::{AuditLog, AuditRecord};
use authobot::ownership::NothingOwned;
use authobot::plugin::Authobot;
use authobot::{decide, decide_unexplained, Policy};
use criterion::{criterion_group, criterion_main, Criterion};
use protocol::{AuthzPlugin, AuthzRequest, Phase};
use time::OffsetDateTime;

fn recorded_create() -> AuthzRequest {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../captures/workflow/run.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a capture line"))
        .filter(|call| call["phase"] == "Request")
        .map(|call| serde_json::from_value::<AuthzRequest>(call["message"].clone()).unwrap())
        .find(|m| m.request_uri.contains("/containers/create"))
        .expect("the capture holds a container create")
}

fn bench_decide(c: &mut Criterion) {
    let policy = Policy::embedded_default();
    let create = recorded_create();
    assert!(
        decide(&policy, &create).allow,
        "the recorded create must be allowed"
    );
    c.bench_function("decide docker-run create (default policy)", |b| {
        b.iter(|| decide_unexplained(black_box(&policy), black_box(&create), &NothingOwned))
    });
    c.bench_function(
        "decide docker-run create, fields recorded for explain (default policy)",
        |b| b.iter(|| decide(black_box(&policy), black_box(&create))),
    );
}

/// The audit line `serve` writes for the create, into a sink that discards it: the cost of
/// building and encoding the line, without the write(2) itself.
fn bench_audit(c: &mut Criterion) {
    let policy = Policy::embedded_default();
    let create = recorded_create();
    let decision = decide_unexplained(&policy, &create, &NothingOwned);
    let log = AuditLog::new(Box::new(std::io::sink()));
    c.bench_function("audit line of the docker-run create", |b| {
        b.iter(|| {
            let record = AuditRecord::new(
                Phase::Request,
                black_box(&create),
                black_box(&decision),
                7,
                OffsetDateTime::now_utc(),
            );
            log.write(&record);
        })
    });
}

/// The whole request phase `serve` runs for the create once the message is read: decision,
/// audit line (into a sink that discards it) and reply.
fn bench_request_phase(c: &mut Criterion) {
    let create = recorded_create();
    let plugin = Authobot::new(
        Policy::embedded_default(),
        AuditLog::new(Box::new(std::io::sink())),
    );
    c.bench_function(
        "request phase of the docker-run create (decide, audit, reply)",
        |b| b.iter(|| plugin.authz_request(black_box(&create))),
    );
}

criterion_group!(benches, bench_decide, bench_audit, bench_request_phase);
criterion_main!(benches);
