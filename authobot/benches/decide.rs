//! One in-process decision of the default policy on `POST /containers/create` exactly as
//! the docker CLI 28 sent it to a real dockerd (taken from `captures/workflow/run.jsonl`):
//! as `serve` makes it (no field log), as `explain` makes it, its audit line, the whole
//! request phase of the plugin, and the create-and-start unit of `conformance bench --mix
//! create` through a plugin that records ownership; and the same create decided by a Rego
//! policy.

use std::hint::black_box;

use authobot::audit::{AuditLog, AuditRecord};
use authobot::ownership::store::Store;
use authobot::ownership::NothingOwned;
use authobot::plugin::Authobot;
use authobot::rego::{RegoOptions, RegoPolicy};
use authobot::{decide, decide_unexplained, Policy};
use criterion::{criterion_group, criterion_main, Criterion};
use protocol::{AuthzPlugin, AuthzRequest, Phase};
use time::OffsetDateTime;

#[path = "../../protocol/benches/support/recorded.rs"]
mod recorded;
use recorded::recorded_create;

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
            log.write(&record).expect("the sink takes every line");
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

/// What `conformance bench --mix create` sends per unit, as the plugin `serve` runs sees it
/// (ownership journaled to a temporary directory, audit into a sink): the create request,
/// its 201 answer that teaches a new owner, the start request and its 204 answer. Once from
/// the anonymous caller of the capture, once from a TLS user, whose calls the default policy
/// checks for ownership.
fn bench_create_unit(c: &mut Criterion) {
    for (caller, user) in [("anonymous", ""), ("TLS user", "alice")] {
        let create = AuthzRequest {
            user: user.into(),
            ..recorded_create()
        };
        let dir = tempfile::tempdir().expect("a temporary state directory");
        let plugin = Authobot::with_store(
            Policy::embedded_default(),
            AuditLog::new(Box::new(std::io::sink())),
            Store::open(dir.path()).expect("a fresh ownership record"),
        );
        let mut unit = 0u64;
        let name =
            format!("create unit, {caller}: create and start, both phases, ownership recorded");
        c.bench_function(&name, |b| {
            b.iter(|| {
                unit += 1;
                // Ids spread like the daemon's random ones: the record indexes their heads.
                let id = format!(
                    "{:016x}{unit:048x}",
                    unit.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                );
                let mut request = AuthzRequest {
                    request_uri: format!("/v1.41/containers/create?name=bench-{unit}"),
                    ..create.clone()
                };
                assert!(plugin.authz_request(&request).allow);
                request.response_status_code = 201;
                request.response_body = format!(r#"{{"Id":"{id}","Warnings":[]}}"#).into_bytes();
                plugin.authz_response(&request);
                let mut start = AuthzRequest {
                    request_method: "POST".into(),
                    request_uri: format!("/v1.41/containers/{id}/start"),
                    user: create.user.clone(),
                    ..AuthzRequest::default()
                };
                assert!(plugin.authz_request(&start).allow);
                start.response_status_code = 204;
                plugin.authz_response(&start);
            })
        });
    }
}

/// One decision of a Rego policy (`policies/rego/typical.rego`, run as `serve --policy
/// FILE.rego` runs it) on the same create: the guards, the body's document, the input and
/// the query. `REGO_POLICY=FILE` benches another policy file (opa-docker-authz's example.rego).
fn bench_rego(c: &mut Criterion) {
    let path = std::env::var_os("REGO_POLICY").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies/rego/typical.rego"),
        std::path::PathBuf::from,
    );
    let text = std::fs::read_to_string(&path).expect("the Rego policy file");
    let policy = Policy::from_rego(
        RegoPolicy::compile(&path, &text, RegoOptions::default()).expect("it compiles"),
    );
    let create = recorded_create();
    let name = format!(
        "decide docker-run create (Rego {})",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    c.bench_function(&name, |b| {
        b.iter(|| decide_unexplained(black_box(&policy), black_box(&create), &NothingOwned))
    });
}

criterion_group!(
    benches,
    bench_decide,
    bench_rego,
    bench_audit,
    bench_request_phase,
    bench_create_unit
);
criterion_main!(benches);
