//! alice, bob and carol (admin) on one daemon with the default policy: each call that names
//! a container is refused to another user, allowed to its owner and to an admin.

use fake_dockerd::ClientRequest;

use super::support::{answer, assert_refused, default_policy_with_admin, plugin, TlsDaemon};

/// A daemon with the default policy (carol an admin), its state dir, and alice's container
/// `web`.
fn alice_has_web() -> (tempfile::TempDir, TlsDaemon, String) {
    let state = tempfile::tempdir().unwrap();
    let daemon = TlsDaemon::in_process(plugin(&default_policy_with_admin(), state.path()));
    let id = daemon.create("alice", "web").expect("alice may create");
    (state, daemon, id)
}

/// One call on alice's container `web`, by method, target and optional JSON body.
macro_rules! guarded {
    ($name:ident, $method:literal, $target:literal) => {
        guarded!($name, $method, $target, None);
    };
    ($name:ident, $method:literal, $target:literal, $body:expr) => {
        mod $name {
            use super::*;

            fn run(daemon: &TlsDaemon, user: &str) -> Result<(), fake_dockerd::Denial> {
                let body: Option<&str> = $body;
                match body {
                    Some(body) => daemon.touch_json(user, $method, $target, body),
                    None => daemon.touch(user, $method, $target),
                }
            }

            #[test]
            fn is_refused_to_another_user() {
                let (_state, daemon, _) = alice_has_web();
                assert_refused(
                    run(&daemon, "bob"),
                    &[
                        "\"web\"",
                        "user \"alice\"",
                        "not to user \"bob\"",
                        "rule: ownership",
                    ],
                );
            }

            #[test]
            fn is_allowed_to_its_owner() {
                let (_state, daemon, _) = alice_has_web();
                run(&daemon, "alice").expect("alice owns web");
            }

            #[test]
            fn is_allowed_to_an_admin() {
                let (_state, daemon, _) = alice_has_web();
                run(&daemon, "carol").expect("carol is an admin");
            }
        }
    };
}

guarded!(
    exec,
    "POST",
    "/v1.41/containers/web/exec",
    Some(r#"{"Cmd":["sh"],"AttachStdin":true,"Tty":true}"#)
);
guarded!(
    attach,
    "POST",
    "/v1.41/containers/web/attach?stream=1&stdin=1&stdout=1&stderr=1"
);
guarded!(
    attach_websocket,
    "GET",
    "/v1.41/containers/web/attach/ws?stream=1"
);
guarded!(logs, "GET", "/v1.41/containers/web/logs?stdout=1&stderr=1");
guarded!(rm, "DELETE", "/v1.41/containers/web?force=1");
guarded!(
    archive_get,
    "GET",
    "/v1.41/containers/web/archive?path=%2Fetc%2Fshadow"
);
guarded!(
    archive_head,
    "HEAD",
    "/v1.41/containers/web/archive?path=%2Fetc"
);
guarded!(
    archive_put,
    "PUT",
    "/v1.41/containers/web/archive?path=%2Ftmp"
);
guarded!(export, "GET", "/v1.41/containers/web/export");
guarded!(commit, "POST", "/v1.41/commit?container=web&repo=stolen");
guarded!(start, "POST", "/v1.41/containers/web/start");
guarded!(stop, "POST", "/v1.41/containers/web/stop");
guarded!(restart, "POST", "/v1.41/containers/web/restart");
guarded!(kill, "POST", "/v1.41/containers/web/kill?signal=KILL");
guarded!(pause, "POST", "/v1.41/containers/web/pause");
guarded!(unpause, "POST", "/v1.41/containers/web/unpause");
guarded!(wait, "POST", "/v1.41/containers/web/wait?condition=removed");
guarded!(resize, "POST", "/v1.41/containers/web/resize?h=40&w=80");
guarded!(top, "GET", "/v1.41/containers/web/top");
guarded!(stats, "GET", "/v1.41/containers/web/stats?stream=0");
guarded!(inspect, "GET", "/v1.41/containers/web/json");
guarded!(changes, "GET", "/v1.41/containers/web/changes");
guarded!(rename, "POST", "/v1.41/containers/web/rename?name=mine");
guarded!(
    update,
    "POST",
    "/v1.41/containers/web/update",
    Some(r#"{"Memory":0}"#)
);

#[test]
fn another_users_container_is_refused_by_full_id_and_by_id_prefix() {
    let (_state, daemon, id) = alice_has_web();
    for reference in [id.as_str(), &id[..12], &id[..3]] {
        let target = format!("/v1.41/containers/{reference}/exec");
        assert_refused(
            daemon.touch_json("bob", "POST", &target, r#"{"Cmd":["sh"]}"#),
            &["user \"alice\"", "rule: ownership"],
        );
    }
}

#[test]
fn commit_naming_the_container_with_a_leading_slash_is_refused_to_another_user() {
    let (_state, daemon, _) = alice_has_web();
    assert_refused(
        daemon.touch("bob", "POST", "/v1.41/commit?container=/web&repo=x"),
        &["\"/web\"", "user \"alice\""],
    );
    daemon
        .touch("alice", "POST", "/v1.41/commit?container=%2Fweb&repo=x")
        .expect("alice owns /web");
}

#[test]
fn an_unknown_container_is_refused_to_a_user_and_allowed_to_an_admin() {
    let (_state, daemon, _) = alice_has_web();
    assert_refused(
        daemon.touch("alice", "GET", "/v1.41/containers/legacy/json"),
        &["no record of who owns it", "rule: ownership-unknown"],
    );
    daemon
        .touch("carol", "GET", "/v1.41/containers/legacy/json")
        .expect("admins may touch unrecorded containers");
}

#[test]
fn an_id_prefix_shared_by_two_containers_is_refused() {
    let state = tempfile::tempdir().unwrap();
    let daemon = TlsDaemon::in_process(plugin(&default_policy_with_admin(), state.path()));
    // 17 ids over 16 hex digits: two share their first character.
    let ids: Vec<String> = (0..17)
        .map(|n| daemon.create("alice", &format!("c{n}")).unwrap())
        .collect();
    let shared = ids
        .iter()
        .map(|id| &id[..1])
        .find(|first| ids.iter().filter(|id| id.starts_with(*first)).count() > 1)
        .expect("pigeonhole");
    let target = format!("/v1.41/containers/{shared}/json");
    assert_refused(
        daemon.touch("alice", "GET", &target),
        &["matches", "rule: ownership-ambiguous"],
    );
}

/// alice creates an exec session in `web`: its id.
fn exec_in_web(daemon: &TlsDaemon, user: &str, exec_id: &str) {
    daemon
        .call(
            user,
            ClientRequest::new("POST", "/v1.41/containers/web/exec").json(r#"{"Cmd":["sh"]}"#),
            answer(201, &format!(r#"{{"Id":"{exec_id}"}}"#)),
        )
        .expect("the exec create is allowed");
}

#[test]
fn an_exec_session_is_refused_to_another_user() {
    let (_state, daemon, _) = alice_has_web();
    exec_in_web(&daemon, "alice", "e1e1e1");
    for target in [
        "/v1.41/exec/e1e1e1/start",
        "/v1.41/exec/e1e1e1/resize?h=1&w=1",
        "/v1.41/exec/e1e1e1/json",
    ] {
        let method = if target.ends_with("json") {
            "GET"
        } else {
            "POST"
        };
        assert_refused(
            daemon.touch_json("bob", method, target, r#"{"Detach":false,"Tty":true}"#),
            &["exec session", "user \"alice\""],
        );
        daemon
            .touch_json("alice", method, target, r#"{"Detach":false,"Tty":true}"#)
            .expect("alice owns the exec session");
    }
}

#[test]
fn an_admins_exec_session_belongs_to_the_containers_owner() {
    let (_state, daemon, _) = alice_has_web();
    exec_in_web(&daemon, "carol", "e2e2e2");
    daemon
        .touch_json("alice", "POST", "/v1.41/exec/e2e2e2/start", "{}")
        .expect("the exec session is alice's");
}

#[test]
fn a_removed_container_is_forgotten() {
    let (_state, daemon, _) = alice_has_web();
    daemon.remove("alice", "web").unwrap();
    assert_refused(
        daemon.touch("alice", "GET", "/v1.41/containers/web/json"),
        &["rule: ownership-unknown"],
    );
}

#[test]
fn a_refused_removal_forgets_nothing() {
    let (_state, daemon, _) = alice_has_web();
    assert!(daemon.remove("bob", "web").is_err());
    daemon
        .touch("alice", "GET", "/v1.41/containers/web/json")
        .expect("still alice's");
}

#[test]
fn a_removal_the_daemon_failed_forgets_nothing() {
    let (_state, daemon, _) = alice_has_web();
    let failed = answer(409, r#"{"message":"removal in progress"}"#);
    daemon
        .call(
            "alice",
            ClientRequest::new("DELETE", "/v1.41/containers/web"),
            failed,
        )
        .unwrap();
    daemon
        .touch("alice", "GET", "/v1.41/containers/web/json")
        .expect("still recorded");
}

#[test]
fn a_rename_moves_the_name() {
    let (_state, daemon, _) = alice_has_web();
    daemon
        .call(
            "alice",
            ClientRequest::new("POST", "/v1.41/containers/web/rename?name=site"),
            answer(204, ""),
        )
        .unwrap();
    daemon
        .touch("alice", "GET", "/v1.41/containers/site/json")
        .expect("alice's under its new name");
    assert_refused(
        daemon.touch("bob", "GET", "/v1.41/containers/site/json"),
        &["user \"alice\""],
    );
    assert_refused(
        daemon.touch("alice", "GET", "/v1.41/containers/web/json"),
        &["rule: ownership-unknown"],
    );
}

#[test]
fn a_generated_name_is_learned_from_a_container_list() {
    let state = tempfile::tempdir().unwrap();
    let daemon = TlsDaemon::in_process(plugin(&default_policy_with_admin(), state.path()));
    let id = daemon.create("alice", "").unwrap();
    let listed = format!(r#"[{{"Id":"{id}","Names":["/eager_turing"],"Image":"busybox"}}]"#);
    daemon
        .call(
            "alice",
            ClientRequest::new("GET", "/v1.41/containers/json?all=1"),
            answer(200, &listed),
        )
        .unwrap();
    daemon
        .touch("alice", "POST", "/v1.41/containers/eager_turing/stop")
        .expect("the generated name is alice's");
    assert_refused(
        daemon.touch("bob", "POST", "/v1.41/containers/eager_turing/stop"),
        &["user \"alice\""],
    );
}

fn alice_has_volume_data(daemon: &TlsDaemon) {
    daemon
        .call(
            "alice",
            ClientRequest::new("POST", "/v1.41/volumes/create").json(r#"{"Name":"data"}"#),
            answer(201, r#"{"Name":"data","Driver":"local","Mountpoint":"/x"}"#),
        )
        .unwrap();
}

#[test]
fn another_users_volume_is_refused() {
    let (_state, daemon, _) = alice_has_web();
    alice_has_volume_data(&daemon);
    for (method, target) in [
        ("GET", "/v1.41/volumes/data"),
        ("DELETE", "/v1.41/volumes/data"),
    ] {
        assert_refused(
            daemon.touch("bob", method, target),
            &["volume \"data\"", "user \"alice\""],
        );
    }
    daemon.touch("alice", "GET", "/v1.41/volumes/data").unwrap();
}

#[test]
fn another_users_volume_cannot_be_mounted() {
    let (_state, daemon, _) = alice_has_web();
    alice_has_volume_data(&daemon);
    let body = r#"{"Image":"busybox","HostConfig":{"Binds":["data:/loot"]}}"#;
    let refused = daemon.create_with("bob", "thief", body).map(|_| ());
    assert_refused(refused, &["volume \"data\"", "user \"alice\""]);
    let mounts = r#"{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"volume","Source":"data","Target":"/loot"}]}}"#;
    assert!(daemon.create_with("bob", "thief", mounts).is_err());
    daemon
        .create_with("alice", "reader", body)
        .expect("alice mounts her own volume");
}

/// alice's network `backend`: its id.
fn alice_has_network_backend(daemon: &TlsDaemon) -> String {
    let id = "ab12cd34".repeat(8);
    daemon
        .call(
            "alice",
            ClientRequest::new("POST", "/v1.41/networks/create")
                .json(r#"{"Name":"backend","CheckDuplicate":true}"#),
            answer(201, &format!(r#"{{"Id":"{id}","Warning":""}}"#)),
        )
        .unwrap();
    id
}

#[test]
fn another_users_network_is_refused_by_name_and_id_prefix() {
    let (_state, daemon, _) = alice_has_web();
    let id = alice_has_network_backend(&daemon);
    for target in [
        "/v1.41/networks/backend".to_owned(),
        format!("/v1.41/networks/{}", &id[..6]),
    ] {
        assert_refused(
            daemon.touch("bob", "GET", &target),
            &["network", "user \"alice\""],
        );
        assert!(daemon.touch("bob", "DELETE", &target).is_err());
        daemon.touch("alice", "GET", &target).unwrap();
    }
}

#[test]
fn a_container_cannot_join_another_users_network() {
    let (_state, daemon, _) = alice_has_web();
    alice_has_network_backend(&daemon);
    daemon.create("bob", "mine").unwrap();
    assert_refused(
        daemon.touch_json(
            "bob",
            "POST",
            "/v1.41/networks/backend/connect",
            r#"{"Container":"mine"}"#,
        ),
        &["network \"backend\"", "user \"alice\""],
    );
    let body = r#"{"Image":"busybox","HostConfig":{"NetworkMode":"backend"}}"#;
    assert!(daemon.create_with("bob", "spy", body).is_err());
}

#[test]
fn another_users_container_cannot_be_connected_to_ones_own_network() {
    let (_state, daemon, _) = alice_has_web();
    let bobs = daemon.call(
        "bob",
        ClientRequest::new("POST", "/v1.41/networks/create").json(r#"{"Name":"trap"}"#),
        answer(201, r#"{"Id":"feedbeef","Warning":""}"#),
    );
    bobs.unwrap();
    assert_refused(
        daemon.touch_json(
            "bob",
            "POST",
            "/v1.41/networks/trap/connect",
            r#"{"container":"x","CONTAINER":"web"}"#,
        ),
        &["container \"web\"", "user \"alice\""],
    );
}

#[test]
fn prune_is_refused_to_users_and_forgets_what_an_admin_pruned() {
    let (_state, daemon, id) = alice_has_web();
    assert_refused(
        daemon.touch("alice", "POST", "/v1.41/containers/prune"),
        &["rule: ownership-admin-only"],
    );
    let report = format!(r#"{{"ContainersDeleted":["{id}"],"SpaceReclaimed":0}}"#);
    daemon
        .call(
            "carol",
            ClientRequest::new("POST", "/v1.41/containers/prune"),
            answer(200, &report),
        )
        .unwrap();
    assert_refused(
        daemon.touch("alice", "GET", "/v1.41/containers/web/json"),
        &["rule: ownership-unknown"],
    );
}

#[test]
fn anonymous_callers_are_not_checked_by_the_default_policy() {
    let (_state, daemon, _) = alice_has_web();
    daemon
        .touch_json(
            "",
            "POST",
            "/v1.41/containers/web/exec",
            r#"{"Cmd":["sh"]}"#,
        )
        .expect("the unix socket is root-equivalent; v1 behaviour");
}

#[test]
fn a_container_created_on_the_unix_socket_is_refused_to_tls_users() {
    let (_state, daemon, _) = alice_has_web();
    daemon.create("", "local").unwrap();
    assert_refused(
        daemon.touch("alice", "POST", "/v1.41/containers/local/stop"),
        &["the anonymous callers"],
    );
}

#[test]
fn creating_a_volume_under_another_users_volume_name_is_refused() {
    let (_state, daemon, _) = alice_has_web();
    alice_has_volume_data(&daemon);
    let again = daemon.call(
        "bob",
        ClientRequest::new("POST", "/v1.41/volumes/create").json(r#"{"Name":"data"}"#),
        answer(201, r#"{"Name":"data","Driver":"local","Mountpoint":"/x"}"#),
    );
    assert_refused(again, &["volume \"data\"", "user \"alice\""]);
}

#[test]
fn an_admin_creating_an_existing_volume_does_not_take_it_over() {
    let (_state, daemon, _) = alice_has_web();
    alice_has_volume_data(&daemon);
    daemon
        .call(
            "carol",
            ClientRequest::new("POST", "/v1.41/volumes/create").json(r#"{"Name":"data"}"#),
            answer(201, r#"{"Name":"data","Driver":"local","Mountpoint":"/x"}"#),
        )
        .unwrap();
    daemon
        .touch("alice", "GET", "/v1.41/volumes/data")
        .expect("still alice's");
}

#[test]
fn mounting_a_volume_nobody_recorded_is_refused_to_a_user() {
    let (_state, daemon, _) = alice_has_web();
    let body = r#"{"Image":"busybox","HostConfig":{"Binds":["old-data:/data"]}}"#;
    let refused = daemon.create_with("bob", "x", body).map(|_| ());
    assert_refused(refused, &["volume \"old-data\"", "rule: ownership-unknown"]);
}

#[test]
fn the_built_in_networks_are_everyones() {
    let (_state, daemon, _) = alice_has_web();
    for mode in ["default", "bridge", "none"] {
        let body = format!(
            r#"{{"Image":"busybox","HostConfig":{{"NetworkMode":"{mode}"}},"NetworkingConfig":{{"EndpointsConfig":{{"{mode}":{{}}}}}}}}"#
        );
        daemon
            .create_with("bob", &format!("on-{mode}"), &body)
            .unwrap_or_else(|d| panic!("{mode}: {}", d.message));
    }
}

#[test]
fn a_create_may_not_reach_into_another_users_container_even_where_escapes_allow_it() {
    let policy = format!(
        "{}\n[profiles.workstation.escapes]\ndisable = [\"no-volumes-from\", \"no-host-namespaces\"]\n",
        "default = \"allow\"\nunknown_users = \"workstation\"\n[profiles.workstation.ownership]\nenforce = \"identified\"\n"
    );
    let state = tempfile::tempdir().unwrap();
    let daemon = TlsDaemon::in_process(plugin(&policy, state.path()));
    daemon.create("alice", "web").unwrap();
    for host_config in [
        r#"{"VolumesFrom":["web:ro"]}"#,
        r#"{"NetworkMode":"container:web"}"#,
        r#"{"PidMode":"container:web"}"#,
        r#"{"IpcMode":"container:web"}"#,
        r#"{"Links":["/web:db"]}"#,
    ] {
        let body = format!(r#"{{"Image":"busybox","HostConfig":{host_config}}}"#);
        let refused = daemon.create_with("bob", "x", &body).map(|_| ());
        assert_refused(refused, &["container \"web\"", "user \"alice\""]);
        daemon
            .create_with("alice", "y", &body)
            .unwrap_or_else(|d| panic!("{host_config}: {}", d.message));
    }
}
