//! The local CA: made once, root-only on disk, refusing keys others can read.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use gate::ca::{CaError, LocalCa, CA_CERT, CA_KEY, DAEMON_CERT, DAEMON_KEY};
use gate::identity::Identity;

use crate::support::names_of;

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_first_start_makes_a_root_only_ca_and_the_daemons_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    LocalCa::open_or_create(&state).unwrap();
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join(CA_KEY)), 0o600);
    assert_eq!(mode(&state.join(DAEMON_KEY)), 0o600);
    assert_eq!(mode(&state.join(CA_CERT)), 0o644);
    assert_eq!(mode(&state.join(DAEMON_CERT)), 0o644);
}

#[test]
fn a_second_start_keeps_the_ca_and_the_daemons_certificate() {
    let dir = tempfile::tempdir().unwrap();
    LocalCa::open_or_create(dir.path()).unwrap();
    let ca = fs::read(dir.path().join(CA_CERT)).unwrap();
    let daemon = fs::read(dir.path().join(DAEMON_CERT)).unwrap();
    LocalCa::open_or_create(dir.path()).unwrap();
    assert_eq!(fs::read(dir.path().join(CA_CERT)).unwrap(), ca);
    assert_eq!(fs::read(dir.path().join(DAEMON_CERT)).unwrap(), daemon);
}

#[test]
fn a_ca_key_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    LocalCa::open_or_create(dir.path()).unwrap();
    let key = dir.path().join(CA_KEY);
    fs::set_permissions(&key, fs::Permissions::from_mode(0o640)).unwrap();
    let error = LocalCa::open_or_create(dir.path()).unwrap_err();
    assert!(
        matches!(error, CaError::KeyExposed { mode: 0o640, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("ca-key.pem"), "{error}");
}

#[test]
fn a_daemon_key_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    LocalCa::open_or_create(dir.path()).unwrap();
    let key = dir.path().join(DAEMON_KEY);
    fs::set_permissions(&key, fs::Permissions::from_mode(0o604)).unwrap();
    let error = LocalCa::open_or_create(dir.path()).unwrap_err();
    assert!(matches!(error, CaError::KeyExposed { .. }), "{error}");
}

#[test]
fn half_a_ca_is_refused_rather_than_replaced() {
    let dir = tempfile::tempdir().unwrap();
    LocalCa::open_or_create(dir.path()).unwrap();
    fs::remove_file(dir.path().join(CA_CERT)).unwrap();
    let error = LocalCa::open_or_create(dir.path()).unwrap_err();
    assert!(matches!(error, CaError::Incomplete { .. }), "{error}");
    assert!(!dir.path().join(CA_CERT).exists());
}

#[test]
fn a_lost_daemon_certificate_is_made_again_by_the_same_ca() {
    let dir = tempfile::tempdir().unwrap();
    LocalCa::open_or_create(dir.path()).unwrap();
    let ca = fs::read(dir.path().join(CA_CERT)).unwrap();
    fs::remove_file(dir.path().join(DAEMON_CERT)).unwrap();
    LocalCa::open_or_create(dir.path()).unwrap();
    assert!(dir.path().join(DAEMON_CERT).exists());
    assert_eq!(fs::read(dir.path().join(CA_CERT)).unwrap(), ca);
}

#[test]
fn a_user_certificate_names_the_user_and_its_groups_and_is_short_lived() {
    let dir = tempfile::tempdir().unwrap();
    let ca = LocalCa::open_or_create(dir.path()).unwrap();
    let identity = Identity {
        name: "alice".into(),
        groups: vec!["docker".into(), "dev ops".into()],
    };
    let issued = ca.issue_user(&identity, Duration::from_secs(600)).unwrap();
    let (common_name, uris) = names_of(&issued.certificate);
    assert_eq!(common_name, "alice");
    assert_eq!(
        uris,
        ["urn:authobot:group:docker", "urn:authobot:group:dev%20ops"]
    );
    let left = issued.not_after - time::OffsetDateTime::now_utc();
    assert!(left <= time::Duration::seconds(600) && left > time::Duration::seconds(590));
    let (_, parsed) = x509_parser::parse_x509_certificate(&issued.certificate).unwrap();
    let usage = parsed.extended_key_usage().unwrap().unwrap().value;
    assert!(usage.client_auth && !usage.server_auth);
    assert!(!parsed.is_ca());
}
