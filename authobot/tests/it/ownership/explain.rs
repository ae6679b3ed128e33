//! `explain` output of ownership decisions, as snapshots.

use authobot::ownership::store::Store;
use authobot::ownership::{Change, ObjectKind, Owned, Owner};
use authobot::{decide_with, explain, Policy};

use super::support::default_policy_with_admin;
use crate::support::request;

fn alices_web(dir: &std::path::Path) -> Store {
    let store = Store::open(dir).unwrap();
    store
        .apply(&[Change::Own {
            kind: ObjectKind::Container,
            owned: Owned {
                id: "5eb63bbbe01e".repeat(5) + "abcd",
                owner: Owner("alice".into()),
                name: "web".into(),
                learned_at: 0,
            },
        }])
        .unwrap();
    store
}

fn as_user(user: &str, method: &str, uri: &str, body: Option<&str>) -> protocol::AuthzRequest {
    let mut message = request(method, uri, body);
    message.user = user.into();
    message.user_authn_method = "TLS".into();
    message
}

#[test]
fn explain_text_of_bobs_exec_in_alices_container_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = alices_web(dir.path());
    let policy = Policy::parse(&default_policy_with_admin()).unwrap();
    let message = as_user(
        "bob",
        "POST",
        "/v1.41/containers/web/exec",
        Some(r#"{"Cmd":["sh"]}"#),
    );
    insta::assert_snapshot!(explain::to_text(&decide_with(&policy, &message, &store)));
}

#[test]
fn explain_text_of_an_admins_exec_in_alices_container_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = alices_web(dir.path());
    let policy = Policy::parse(&default_policy_with_admin()).unwrap();
    let message = as_user(
        "carol",
        "POST",
        "/v1.41/containers/5eb63bbbe01e/exec",
        Some(r#"{"Cmd":["sh"]}"#),
    );
    insta::assert_snapshot!(explain::to_text(&decide_with(&policy, &message, &store)));
}
