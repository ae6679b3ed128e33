//! The `conformance` command as CI uses it: listing, exit codes, report formats.

use assert_cmd::Command;
use predicates::prelude::*;

fn conformance() -> Command {
    Command::cargo_bin("conformance").expect("the binary is built")
}

#[test]
fn list_prints_every_case_with_level_and_source() {
    let output = conformance()
        .arg("list")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(output).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), conformance::all_cases().len());
    assert!(text.contains("protocol.activate.implements-authz\tMUST\tprotocol\t"));
    assert!(lines.iter().all(|l| l.split('\t').count() == 5));
}

#[test]
fn missing_socket_exits_two_with_the_harness_error() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    conformance()
        .args(["run", "--plugin-socket"])
        .arg(dir.path().join("absent.sock"))
        .assert()
        .code(2)
        .stdout(predicate::str::contains(
            "harness error: no plugin socket at",
        ));
}

#[test]
fn missing_socket_json_report_carries_the_harness_error_and_exit_code() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("report.json");
    conformance()
        .args([
            "run",
            "--format",
            "json",
            "--case",
            "protocol.*",
            "--plugin-socket",
        ])
        .arg(dir.path().join("absent.sock"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("the report is written")).expect("JSON");
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["exit_code"], 2);
    assert!(report["harness_error"]
        .as_str()
        .is_some_and(|e| e.contains("no plugin socket")));
}

#[test]
fn unknown_claim_is_refused_before_running() {
    conformance()
        .args([
            "run",
            "--plugin-socket",
            "/nonexistent",
            "--claims",
            "everything",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown claim"));
}

#[test]
fn unknown_profile_exits_two() {
    conformance()
        .args([
            "run",
            "--plugin-socket",
            "/nonexistent",
            "--profile",
            "moby-1.0",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown daemon profile"));
}

#[test]
fn readme_lists_every_case() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md is readable");
    let missing: Vec<String> = conformance::all_cases()
        .into_iter()
        .map(|c| c.info.id)
        .filter(|id| !readme.contains(&format!("`{id}`")))
        .collect();
    assert!(missing.is_empty(), "README.md does not list {missing:?}");
}

#[test]
fn managed_plugin_with_missing_socket_exits_two() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    conformance()
        .args(["run", "--managed", "--plugin-socket"])
        .arg(dir.path().join("absent.sock"))
        .assert()
        .code(2)
        .stdout(predicate::str::contains(
            "harness error: no plugin socket at",
        ));
}

#[test]
fn an_unreadable_expect_failures_file_exits_two_with_its_line() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let list = dir.path().join("known.txt");
    std::fs::write(&list, "# known\nsecurity.create.privileged.plain\n").expect("written");
    conformance()
        .args(["run", "--plugin-socket"])
        .arg(dir.path().join("absent.sock"))
        .arg("--expect-failures")
        .arg(&list)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("line 2"));
}

#[test]
fn zero_jobs_is_refused() {
    conformance()
        .args(["run", "--plugin-socket", "/nonexistent", "--jobs", "0"])
        .assert()
        .code(2);
}
