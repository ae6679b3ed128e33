//! `--check`: the daemon's listeners probed as a user would, and the gate's files.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use gate::ca::{LocalCa, CA_CERT, CA_KEY};
use gate::check::probe::{self, TcpProbe};
use gate::check::{self, CheckOptions, Finding};
use gate::userdb::UserDb;

use crate::support::{daemon_tls, ping_daemon, ping_socket, serve_pings};

async fn probe(address: std::net::SocketAddr) -> TcpProbe {
    tokio::task::spawn_blocking(move || probe::tcp(address))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_listener_answering_plain_http_has_no_tls() {
    let address = ping_daemon(None).await;
    assert_eq!(probe(address).await, TcpProbe::PlainHttp);
}

#[tokio::test]
async fn a_tls_listener_answering_without_a_client_certificate_verifies_nobody() {
    let dir = tempfile::tempdir().unwrap();
    LocalCa::open_or_create(dir.path()).unwrap();
    let address = ping_daemon(Some(daemon_tls(dir.path(), None))).await;
    assert_eq!(probe(address).await, TcpProbe::TlsWithoutClientCertificate);
}

#[tokio::test]
async fn a_verifying_listener_names_the_cas_it_accepts() {
    let dir = tempfile::tempdir().unwrap();
    LocalCa::open_or_create(dir.path()).unwrap();
    let ca = dir.path().join(CA_CERT);
    let address = ping_daemon(Some(daemon_tls(dir.path(), Some(&ca)))).await;
    let TcpProbe::ClientCertificateRequired { acceptable_issuers } = probe(address).await else {
        panic!("a verifying listener was not recognised");
    };
    let certificate = gate::ca::read_certificate(&ca).unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(&certificate).unwrap();
    assert_eq!(acceptable_issuers, [parsed.subject().as_raw().to_vec()]);
}

/// Accounts with one user, `alice`.
fn accounts(dir: &Path) -> UserDb {
    let (passwd, group) = (dir.join("passwd"), dir.join("group"));
    fs::write(
        &passwd,
        "root:x:0:0:root:/root:/bin/sh\nalice:x:4000012:4000012::/home/alice:/bin/sh\n",
    )
    .unwrap();
    fs::write(&group, "root:x:0:\nalice:x:4000012:\n").unwrap();
    UserDb::at(passwd, group)
}

#[tokio::test]
async fn the_check_finds_an_open_api_socket_and_a_readable_ca_key() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // This test process plays dockerd: a socket everyone can write answering the API.
    let socket = dir.path().join("docker.sock");
    let listener = ping_socket(&socket);
    fs::set_permissions(&socket, fs::Permissions::from_mode(0o666)).unwrap();
    serve_pings(listener);
    let pidfile = dir.path().join("dockerd.pid");
    fs::write(&pidfile, format!("{}\n", std::process::id())).unwrap();
    let state = dir.path().join("state");
    LocalCa::open_or_create(&state).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(state.join(CA_KEY), fs::Permissions::from_mode(0o644)).unwrap();
    let options = CheckOptions {
        daemon_pidfile: pidfile,
        state_dir: state.clone(),
        accounts: accounts(dir.path()),
    };
    let report = tokio::task::spawn_blocking(move || check::run(&options))
        .await
        .unwrap()
        .unwrap();
    let found = |kind: Finding, text: &str| {
        report
            .findings
            .iter()
            .any(|(finding, message)| *finding == kind && message.contains(text))
    };
    assert!(
        found(
            Finding::DaemonSocket,
            &format!(
                "every user can connect to dockerd's API socket {}",
                socket.display()
            )
        ),
        "{report}"
    );
    assert!(
        found(
            Finding::KeyReadable,
            &format!("every user can read {}", state.join(CA_KEY).display())
        ),
        "{report}"
    );
    assert!(
        report.to_string().contains("FOUND daemon-socket: "),
        "{report}"
    );
}

#[tokio::test]
async fn a_root_only_setup_has_nothing_to_report_about_the_gates_files() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // Behind a root-only directory the socket's own mode does not matter.
    let private = dir.path().join("private");
    fs::create_dir(&private).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    let socket = private.join("docker.sock");
    let listener = ping_socket(&socket);
    fs::set_permissions(&socket, fs::Permissions::from_mode(0o666)).unwrap();
    serve_pings(listener);
    let pidfile = dir.path().join("dockerd.pid");
    fs::write(&pidfile, format!("{}\n", std::process::id())).unwrap();
    let state = dir.path().join("state");
    LocalCa::open_or_create(&state).unwrap();
    let options = CheckOptions {
        daemon_pidfile: pidfile,
        state_dir: state,
        accounts: accounts(dir.path()),
    };
    let report = tokio::task::spawn_blocking(move || check::run(&options))
        .await
        .unwrap()
        .unwrap();
    let about_this_test = |message: &String| message.contains(&dir.path().display().to_string());
    assert!(
        !report
            .findings
            .iter()
            .any(|(_, message)| about_this_test(message)),
        "{report}"
    );
}

#[test]
fn a_pidfile_without_a_pid_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("dockerd.pid");
    fs::write(&pidfile, "not a pid\n").unwrap();
    let error = check::run(&CheckOptions {
        daemon_pidfile: pidfile,
        state_dir: dir.path().join("state"),
        accounts: accounts(dir.path()),
    })
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("dockerd.pid does not hold a process id"),
        "{error}"
    );
}
