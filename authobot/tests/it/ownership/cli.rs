//! The command line and ownership: `check` on roles, `explain --state-dir`, `rules`.

use std::path::Path;

use authobot::ownership::store::Store;
use authobot::ownership::{Change, ObjectKind, Owned, Owner};
use predicates::str::contains;

use crate::support::{authobot, check_policy_text};

/// A record in `dir` where alice owns container `web`.
fn record_alices_web(dir: &Path) -> Store {
    let store = Store::open(dir).unwrap();
    store
        .apply(&[Change::Own {
            kind: ObjectKind::Container,
            owned: Owned {
                id: "0123456789ab".repeat(5),
                owner: Owner("alice".into()),
                name: "web".into(),
                learned_at: 0,
            },
        }])
        .unwrap();
    store
}

const BOBS_EXEC: &str = r#"{"User":"bob","UserAuthNMethod":"TLS","RequestMethod":"POST","RequestUri":"/v1.41/containers/web/exec","RequestBody":"eyJDbWQiOlsic2giXX0=","RequestHeaders":{"Content-Type":"application/json","Content-Length":"14"}}"#;

#[test]
fn check_reports_a_group_naming_an_undefined_profile_with_its_line() {
    check_policy_text(
        "p.toml",
        "default = \"deny\"\n[profiles.dev]\n[groups.g]\nmembers = [\"x\"]\nprofile = \"nope\"\n",
    )
    .code(1)
    .stderr(contains("p.toml:5:"))
    .stderr(contains("\"nope\""));
}

#[test]
fn explain_with_a_state_dir_shows_the_owner_it_found_and_why() {
    let dir = tempfile::tempdir().unwrap();
    drop(record_alices_web(dir.path()));
    authobot()
        .args(["explain", "--state-dir"])
        .arg(dir.path())
        .write_stdin(BOBS_EXEC)
        .assert()
        .code(1)
        .stdout(contains("ownership.container"))
        .stdout(contains("\"owner\":\"alice\""))
        .stdout(contains("it belongs to user \"alice\""))
        .stdout(contains("rule:     ownership"));
}

#[test]
fn explain_reads_a_record_that_a_running_plugin_holds_open() {
    let dir = tempfile::tempdir().unwrap();
    let held = record_alices_web(dir.path());
    authobot()
        .args(["explain", "--format", "json", "--state-dir"])
        .arg(dir.path())
        .write_stdin(BOBS_EXEC)
        .assert()
        .code(1)
        .stdout(contains("\"owner\": \"alice\""));
    // The holder is not disturbed: it still writes.
    held.apply(&[Change::Forget {
        kind: ObjectKind::Container,
        id: "0123456789ab".repeat(5),
    }])
    .unwrap();
}

#[test]
fn serve_refuses_a_state_dir_another_plugin_holds() {
    let dir = tempfile::tempdir().unwrap();
    let _held = record_alices_web(dir.path());
    authobot()
        .args(["serve", "--socket"])
        .arg(dir.path().join("second.sock"))
        .arg("--state-dir")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(contains("in use by another authobot"));
}

#[test]
fn explain_names_the_line_of_a_damaged_journal() {
    let dir = tempfile::tempdir().unwrap();
    drop(record_alices_web(dir.path()));
    let journal = dir.path().join("ownership.journal");
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text.insert_str(0, "not json\n");
    std::fs::write(&journal, text).unwrap();
    authobot()
        .args(["explain", "--state-dir"])
        .arg(dir.path())
        .write_stdin(BOBS_EXEC)
        .assert()
        .code(2)
        .stderr(contains("ownership.journal, line 1, is corrupt"));
}

#[test]
fn explain_without_a_record_refuses_a_tls_users_call_on_an_unknown_container() {
    authobot()
        .arg("explain")
        .write_stdin(BOBS_EXEC)
        .assert()
        .code(1)
        .stdout(contains("rule:     ownership-unknown"));
}

#[test]
fn rules_lists_the_ownership_rules() {
    authobot()
        .arg("rules")
        .assert()
        .success()
        .stdout(contains("ownership-unknown"))
        .stdout(contains("container-quota"));
}

/// Flips `dev1` to `dev3` in line 2 of the journal in `dir`, as a bad disk might.
fn flip_a_bit_in_line_2(dir: &Path) {
    let journal = dir.join("ownership.journal");
    let text = std::fs::read_to_string(&journal).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let flipped = lines[1].replace("alice", "alicf");
    lines[1] = &flipped;
    std::fs::write(&journal, lines.join("\n") + "\n").unwrap();
}

#[test]
fn state_check_says_a_sound_journal_is_sound() {
    let dir = tempfile::tempdir().unwrap();
    drop(record_alices_web(dir.path()));
    authobot()
        .args(["state", "check", "--state-dir"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(contains("format:    checksummed"))
        .stdout(contains("objects:   1"))
        .stdout(contains("verdict:   sound"));
}

#[test]
fn state_check_names_every_damaged_line_and_the_repair_that_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    drop(record_alices_web(dir.path()));
    flip_a_bit_in_line_2(dir.path());
    authobot()
        .args(["state", "check", "--state-dir"])
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(contains("line 2: checksum mismatch"))
        .stdout(contains("--drop-after 1"));
}

#[test]
fn state_repair_backs_the_journal_up_and_keeps_the_lines_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    drop(record_alices_web(dir.path()));
    flip_a_bit_in_line_2(dir.path());
    let damaged = std::fs::read(dir.path().join("ownership.journal")).unwrap();
    authobot()
        .args(["state", "repair", "--drop-after", "1", "--state-dir"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(contains("dropped: 1 lines"));
    let backup = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("ownership.journal.backup-"))
        .expect("a backup beside the journal");
    assert_eq!(std::fs::read(backup).unwrap(), damaged);
    let store = Store::open(dir.path()).expect("the repaired journal opens");
    assert!(store.all(ObjectKind::Container).unwrap().is_empty());
}

#[test]
fn state_repair_refuses_to_keep_a_damaged_line() {
    let dir = tempfile::tempdir().unwrap();
    drop(record_alices_web(dir.path()));
    flip_a_bit_in_line_2(dir.path());
    authobot()
        .args(["state", "repair", "--drop-after", "2", "--state-dir"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(contains("line 2 is damaged"))
        .stderr(contains("--drop-after may be at most 1"));
}

#[test]
fn state_repair_is_refused_while_a_plugin_holds_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _held = record_alices_web(dir.path());
    authobot()
        .args(["state", "repair", "--drop-after", "1", "--state-dir"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(contains("in use by another authobot"));
}
