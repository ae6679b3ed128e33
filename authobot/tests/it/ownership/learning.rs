//! What the response phase learns, driven with a chosen clock: a complete container list
//! forgets containers the daemon removed on its own (`--rm`), and nothing else does.

use authobot::ownership::learn::learn;
use authobot::ownership::store::Store;
use authobot::ownership::{Change, Lookup, ObjectKind, Owned, Owner, OwnershipView};
use protocol::AuthzRequest;

const NOW: u64 = 1_000_000;

fn record(store: &Store, ids: &[String], learned_at: u64) {
    let changes: Vec<Change> = ids
        .iter()
        .map(|id| Change::Own {
            kind: ObjectKind::Container,
            owned: Owned {
                id: id.clone(),
                owner: Owner("alice".into()),
                name: format!("n{id}"),
                learned_at,
            },
        })
        .collect();
    store.apply(&changes).unwrap();
}

/// The AuthZRes of a container list by alice that the daemon answered with `ids`.
fn listed(target: &str, ids: &[String]) -> AuthzRequest {
    let entries: Vec<String> = ids
        .iter()
        .map(|id| format!(r#"{{"Id":"{id}","Names":["/n{id}"]}}"#))
        .collect();
    AuthzRequest {
        user: "alice".into(),
        user_authn_method: "TLS".into(),
        request_method: "GET".into(),
        request_uri: target.into(),
        response_status_code: 200,
        response_body: format!("[{}]", entries.join(",")).into_bytes(),
        ..AuthzRequest::default()
    }
}

fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|n| format!("{n:064x}")).collect()
}

fn known(store: &Store, id: &str) -> bool {
    matches!(
        store.lookup(ObjectKind::Container, id).unwrap(),
        Lookup::Found(o) if o.id == id
    )
}

#[test]
fn a_complete_list_forgets_containers_the_daemon_no_longer_has() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let all = ids(0..1300);
    record(&store, &all, NOW - 3600);
    let kept: Vec<String> = all.iter().step_by(2).cloned().collect();
    let changes = learn(&listed("/v1.41/containers/json?all=1", &kept), &store, NOW).unwrap();
    store.apply(&changes).unwrap();
    for (n, id) in all.iter().enumerate() {
        assert_eq!(known(&store, id), n % 2 == 0, "container {n}");
    }
    assert_eq!(store.containers_owned(&Owner("alice".into())).unwrap(), 650);
}

#[test]
fn a_complete_list_keeps_containers_learned_in_the_last_minute() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let fresh = ids(0..1);
    record(&store, &fresh, NOW - 10);
    let changes = learn(&listed("/v1.41/containers/json?all=1", &[]), &store, NOW).unwrap();
    store.apply(&changes).unwrap();
    assert!(known(&store, &fresh[0]));
}

#[test]
fn a_narrowed_list_forgets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let old = ids(0..1);
    record(&store, &old, 0);
    for target in [
        "/v1.41/containers/json",
        "/v1.41/containers/json?all=0",
        "/v1.41/containers/json?all=1&limit=1",
        "/v1.41/containers/json?all=1&filters=%7B%22status%22%3A%5B%22exited%22%5D%7D",
        "/v1.41/containers/json?all=1&since=abc",
    ] {
        let changes = learn(&listed(target, &[]), &store, NOW).unwrap();
        assert!(
            !changes
                .iter()
                .any(|c| matches!(c, Change::Reconcile { .. })),
            "{target}"
        );
    }
}

#[test]
fn an_answer_without_a_2xx_status_teaches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut message = listed("/v1.41/containers/json?all=1", &[]);
    message.response_status_code = 0;
    assert!(learn(&message, &store, NOW).unwrap().is_empty());
}
