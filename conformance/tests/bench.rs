//! `conformance bench` end to end: a one-second run against protocol's `allow_all` example,
//! checked for a well-formed report (never for a speed).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

/// The `allow_all` example, built by cargo beside this test's profile directory.
fn allow_all_example() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the test binary")?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the test binary lives in target/<profile>/deps")?;
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "-p", "authz-protocol", "--example", "allow_all"]);
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    let status = build.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build of the allow_all example failed: {status}");
    }
    Ok(profile_dir.join("examples").join("allow_all"))
}

/// The example serving on a socket; killed (by its own pid) when dropped.
struct Plugin {
    child: Child,
    socket: PathBuf,
}

impl Plugin {
    fn start(dir: &Path) -> anyhow::Result<Self> {
        let socket = dir.join("allow-all.sock");
        let child = Command::new(allow_all_example()?)
            .arg("--socket")
            .arg(&socket)
            .spawn()
            .context("starting allow_all")?;
        let plugin = Plugin { child, socket };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !plugin.socket.exists() {
            if Instant::now() > deadline {
                bail!("allow_all did not create {}", plugin.socket.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(plugin)
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn one_second_against_allow_all_gives_a_well_formed_report_with_ratios() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let plugin = Plugin::start(dir.path())?;
    let output = assert_cmd::Command::cargo_bin("conformance")?
        .arg("bench")
        .arg("--plugin-socket")
        .arg(&plugin.socket)
        .arg("--reference-socket")
        .arg(&plugin.socket)
        .args(["--duration", "1", "--warmup", "0", "--connections", "2"])
        .args(["--mix", "workflow", "--format", "json"])
        .timeout(Duration::from_secs(120))
        .output()?;
    assert!(
        output.status.success(),
        "exit {:?}, stderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(report["version"], 1);
    assert_eq!(report["mix"], "workflow");
    for side in ["plugin", "reference"] {
        let target = &report[side];
        assert!(target["calls"].as_u64().unwrap() > 0, "{side}: {target}");
        assert_eq!(
            target["allowed"], target["calls"],
            "{side}: allow_all allows"
        );
        assert_eq!(target["transport_errors"], 0, "{side}");
        assert_eq!(target["status_errors"], 0, "{side}");
        let latency = &target["latency"];
        let p50 = latency["p50_us"].as_f64().unwrap();
        let p99 = latency["p99_us"].as_f64().unwrap();
        let p999 = latency["p999_us"].as_f64().unwrap();
        assert!(0.0 < p50 && p50 <= p99 && p99 <= p999, "{side}: {latency}");
        assert_eq!(target["memory"]["pid"], plugin.child.id(), "{side}");
        assert!(target["memory"]["peak_kib"].as_u64().unwrap() > 0, "{side}");
        assert!(target["cpu_us_per_call"].as_f64().unwrap() > 0.0, "{side}");
    }
    for ratio in [
        "throughput",
        "p50",
        "p99",
        "p999",
        "cpu_per_call",
        "peak_memory",
    ] {
        assert!(
            report["ratios"][ratio].as_f64().is_some_and(|r| r > 0.0),
            "ratio {ratio}: {}",
            report["ratios"]
        );
    }
    Ok(())
}
