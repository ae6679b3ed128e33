//! Starts a plugin on a socket in a temporary directory and runs the suite against it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use conformance::expectations::Expectations;
use conformance::{all_cases, run, Claim, Ctx, LevelFilter, Outcome, Report, Selection, Target};
use fake_dockerd::ProfileName;
use integration_tests::raw::{self, TransportFlaw};
use protocol::server::{self, ServerConfig};
use protocol::AuthzPlugin;
use tokio::net::UnixListener;
use tokio::task::JoinHandle;

/// A plugin serving on a temporary socket; stopped and removed on drop.
pub struct RunningPlugin {
    pub socket: PathBuf,
    _dir: tempfile::TempDir,
    task: JoinHandle<()>,
}

impl Drop for RunningPlugin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn temp_socket() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let socket = dir.path().join("plugin.sock");
    (dir, socket)
}

/// Starts `plugin` on `protocol::server` with its default limits.
pub fn start(plugin: impl AuthzPlugin) -> RunningPlugin {
    let (dir, socket) = temp_socket();
    let listener = server::bind_unix(&socket).expect("bind the plugin socket");
    let plugin: Arc<dyn AuthzPlugin> = Arc::new(plugin);
    let task = tokio::spawn(async move {
        let _ = server::serve(
            listener,
            plugin,
            ServerConfig::default(),
            std::future::pending(),
        )
        .await;
    });
    RunningPlugin {
        socket,
        _dir: dir,
        task,
    }
}

/// Starts a plugin whose flaw is in its transport.
pub fn start_raw(flaw: TransportFlaw) -> RunningPlugin {
    let (dir, socket) = temp_socket();
    let listener = UnixListener::bind(&socket).expect("bind the plugin socket");
    let task = tokio::spawn(raw::serve(listener, flaw));
    RunningPlugin {
        socket,
        _dir: dir,
        task,
    }
}

/// How a test runs the suite: what the plugin claims, which cases, how long to wait.
pub struct SuiteRun<'a> {
    pub claims: &'a [Claim],
    pub patterns: &'a [&'a str],
    pub managed: bool,
    pub expectations: Expectations,
    pub call_timeout: Duration,
    pub latency_bound: Duration,
}

impl Default for SuiteRun<'_> {
    fn default() -> Self {
        SuiteRun {
            claims: &[],
            patterns: &[],
            managed: false,
            expectations: Expectations::default(),
            // Generous: debug builds on a loaded CI machine take seconds over 4 MiB bodies.
            call_timeout: Duration::from_secs(20),
            latency_bound: Duration::from_secs(1),
        }
    }
}

impl SuiteRun<'_> {
    /// Runs the suite against the plugin on `socket`, every daemon profile.
    pub async fn against(self, socket: &std::path::Path) -> Report {
        let patterns: Vec<String> = self.patterns.iter().map(|p| p.to_string()).collect();
        let selection = Selection::new(
            LevelFilter::All,
            &patterns,
            &[],
            self.claims.iter().copied(),
        )
        .expect("valid patterns");
        let ctx = Ctx {
            managed: self.managed,
            profiles: ProfileName::ALL.to_vec(),
            target: Target::new(socket, "under-test", self.call_timeout),
            latency_bound: self.latency_bound,
            fuzz_cases: 64,
            jobs: 4,
            expectations: self.expectations,
        };
        run(&ctx, &all_cases(), &selection).await
    }
}

/// Runs the cases matching `patterns` against the plugin on `socket`.
pub async fn run_suite(socket: &std::path::Path, claims: &[Claim], patterns: &[&str]) -> Report {
    SuiteRun {
        claims,
        patterns,
        ..SuiteRun::default()
    }
    .against(socket)
    .await
}

/// Runs the cases matching `patterns` against the plugin on `socket` as a managed plugin.
pub async fn run_managed_suite(socket: &std::path::Path, patterns: &[&str]) -> Report {
    SuiteRun {
        patterns,
        managed: true,
        ..SuiteRun::default()
    }
    .against(socket)
    .await
}

/// The outcome of case `id` in `report`; panics with the whole report when it did not run.
pub fn outcome<'r>(report: &'r Report, id: &str) -> &'r Outcome {
    match report.result(id) {
        Some(result) => &result.outcome,
        None => panic!("case {id} did not run:\n{}", report.to_text()),
    }
}

/// Asserts that case `id` failed.
pub fn assert_fails(report: &Report, id: &str) {
    assert!(
        outcome(report, id).is_failed(),
        "expected {id} to fail:\n{}",
        report.to_text()
    );
}

/// Asserts that case `id` passed.
pub fn assert_passes(report: &Report, id: &str) {
    assert_eq!(
        outcome(report, id),
        &Outcome::Passed,
        "expected {id} to pass:\n{}",
        report.to_text()
    );
}
