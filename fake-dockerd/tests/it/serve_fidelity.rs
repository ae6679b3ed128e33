//! `serve --profile moby-20.10` over real sockets gives a plugin the very messages a real
//! dockerd 20.10 gave it, for every crafted request in captures/fidelity/
//! (`fidelity::check`, and the `fake-dockerd fidelity` subcommand that runs it); and the
//! check has teeth: a profile or a recording that differs is reported, per request.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use fake_dockerd::fidelity::check::{check, load_crafted, Verdict};
use fake_dockerd::ProfileName;

fn fidelity_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../captures/fidelity")
}

fn run_check(profile: ProfileName) -> Vec<Verdict> {
    let crafted = load_crafted(&fidelity_dir()).unwrap();
    let work = tempfile::tempdir().unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(check(profile, &crafted, work.path()))
        .unwrap()
}

/// A copy of captures/fidelity/ in a temporary directory.
fn copy_of_fidelity_dir() -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fidelity_dir()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, copy.path().join(path.file_name().unwrap())).unwrap();
    }
    copy
}

fn fidelity_command(dir: &Path) -> std::process::Output {
    Command::cargo_bin("fake-dockerd")
        .unwrap()
        .args(["fidelity", "--profile", "moby-20.10"])
        .arg(dir)
        .output()
        .unwrap()
}

#[test]
fn serve_gives_the_plugin_what_a_real_dockerd_20_10_gave_it_for_every_crafted_request() {
    let verdicts = run_check(ProfileName::Moby2010);
    assert!(
        verdicts.len() >= 10,
        "captures/fidelity holds {} exchanges",
        verdicts.len()
    );
    let failed: Vec<&Verdict> = verdicts.iter().filter(|v| !v.passed()).collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn the_check_reports_the_pre_2024_profile_emptying_the_chunked_body_20_10_forwarded() {
    let verdicts = run_check(ProfileName::MobyPre2024);
    let chunked = verdicts
        .iter()
        .find(|v| v.name == "create-chunked")
        .unwrap();
    assert!(
        chunked
            .mismatches
            .iter()
            .any(|m| m.field == "RequestBody" && m.produced.is_empty()),
        "{chunked:#?}"
    );
}

#[test]
fn fidelity_subcommand_exits_0_with_a_pass_line_per_crafted_request() {
    let output = fidelity_command(&fidelity_dir());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("PASS create-chunked ("), "{stdout}");
    assert!(stdout.contains("PASS unclean-dot-dot ("), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn fidelity_subcommand_exits_1_naming_the_request_and_field_that_differ() {
    let copy = copy_of_fidelity_dir();
    let recording = copy.path().join("create-plain.jsonl");
    let text = std::fs::read_to_string(&recording).unwrap();
    let tampered = text.replace("/v1.41/containers/create", "/v1.41/containers/create?x=1");
    assert_ne!(text, tampered);
    std::fs::write(&recording, tampered).unwrap();
    let output = fidelity_command(copy.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL create-plain ("), "{stdout}");
    assert!(stdout.contains("call 0 RequestUri"), "{stdout}");
    assert!(stdout.contains("PASS create-chunked ("), "{stdout}");
}

#[test]
fn fidelity_subcommand_exits_2_on_a_directory_without_crafted_requests() {
    let empty = tempfile::tempdir().unwrap();
    let output = fidelity_command(empty.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("holds no crafted requests"));
}
