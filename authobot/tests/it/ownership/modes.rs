//! The profile modes: a container quota, list calls filtered on the owner label, creates
//! carrying it (tests/data/ownership-modes.toml: quota 2, both label modes on).

use fake_dockerd::ClientRequest;

use super::support::{answer, assert_refused, modes_policy, plugin, TlsDaemon};

fn team() -> (tempfile::TempDir, TlsDaemon) {
    let state = tempfile::tempdir().unwrap();
    let daemon = TlsDaemon::in_process(plugin(&modes_policy(), state.path()));
    (state, daemon)
}

fn labelled(user: &str) -> String {
    format!(r#"{{"Image":"busybox","Labels":{{"authobot.owner":"{user}"}}}}"#)
}

/// Alice creates `one` and `two`, as many containers as the quota allows.
fn fill_alices_quota(daemon: &TlsDaemon) {
    for name in ["one", "two"] {
        daemon
            .create_with("alice", name, &labelled("alice"))
            .unwrap();
    }
}

#[test]
fn a_create_over_the_quota_is_refused_with_the_count_and_the_limit() {
    let (_state, daemon) = team();
    fill_alices_quota(&daemon);
    let third = daemon.create_with("alice", "three", &labelled("alice"));
    assert_refused(
        third.map(|_| ()),
        &["owns 2 containers", "allows 2", "rule: container-quota"],
    );
}

#[test]
fn the_quota_counts_each_user_apart() {
    let (_state, daemon) = team();
    fill_alices_quota(&daemon);
    daemon
        .create_with("bob", "three", &labelled("bob"))
        .expect("bob owns none");
}

#[test]
fn removing_a_container_frees_its_place_in_the_quota() {
    let (_state, daemon) = team();
    fill_alices_quota(&daemon);
    daemon.remove("alice", "one").unwrap();
    daemon
        .create_with("alice", "three", &labelled("alice"))
        .expect("one place free again");
}

#[test]
fn a_list_without_the_owner_filter_is_refused() {
    let (_state, daemon) = team();
    assert_refused(
        daemon.touch("alice", "GET", "/v1.41/containers/json?all=1"),
        &["label=authobot.owner=alice", "rule: owner-filter-required"],
    );
}

#[test]
fn a_list_filtered_on_the_callers_label_is_allowed_in_map_and_list_form() {
    let (_state, daemon) = team();
    for filters in [
        r#"{"label":{"authobot.owner=alice":true}}"#,
        r#"{"label":["authobot.owner=alice"],"status":["running"]}"#,
    ] {
        for path in [
            "/v1.41/containers/json",
            "/v1.41/volumes",
            "/v1.41/networks",
        ] {
            let target = format!("{path}?filters={}", percent(filters));
            daemon
                .touch("alice", "GET", &target)
                .unwrap_or_else(|d| panic!("{target}: {}", d.message));
        }
    }
}

#[test]
fn a_list_filtered_on_another_users_label_is_refused() {
    let (_state, daemon) = team();
    let filters = percent(r#"{"label":{"authobot.owner=bob":true}}"#);
    assert_refused(
        daemon.touch("alice", "GET", &format!("/v1.41/volumes?filters={filters}")),
        &["rule: owner-filter-required"],
    );
}

#[test]
fn an_admin_may_list_without_the_filter() {
    let (_state, daemon) = team();
    daemon
        .touch("carol", "GET", "/v1.41/containers/json")
        .unwrap();
}

#[test]
fn a_create_without_the_owner_label_is_refused() {
    let (_state, daemon) = team();
    let refused = daemon.create_with("alice", "x", r#"{"Image":"busybox"}"#);
    assert_refused(
        refused.map(|_| ()),
        &[
            "authobot.owner=alice",
            "found none",
            "rule: owner-label-required",
        ],
    );
}

#[test]
fn a_create_labelled_for_another_user_is_refused() {
    let (_state, daemon) = team();
    let refused = daemon.create_with("alice", "x", &labelled("bob"));
    assert_refused(refused.map(|_| ()), &["found \"bob\""]);
}

#[test]
fn the_owner_label_is_read_as_dockerd_reads_the_body() {
    let (_state, daemon) = team();
    // Go's decoder: `labels` is `Labels`, and the last duplicate wins.
    let body = r#"{"Image":"busybox","Labels":{"authobot.owner":"alice"},"labels":{"authobot.owner":"bob"}}"#;
    assert!(daemon.create_with("alice", "x", body).is_err());
    let body = r#"{"Image":"busybox","labels":{"authobot.owner":"alice"}}"#;
    daemon.create_with("alice", "y", body).unwrap();
}

#[test]
fn volume_and_network_creates_need_the_owner_label_too() {
    let (_state, daemon) = team();
    for path in ["/v1.41/volumes/create", "/v1.41/networks/create"] {
        let bare = daemon.call(
            "alice",
            ClientRequest::new("POST", path).json(r#"{"Name":"n"}"#),
            answer(201, r#"{"Name":"n","Id":"n"}"#),
        );
        assert_refused(bare, &["rule: owner-label-required"]);
    }
}

/// Percent-encodes a query value the way the docker CLI's url.Values does for JSON.
fn percent(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
