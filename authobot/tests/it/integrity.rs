//! What authobot keeps stays whole or says it is not: the audit trail under a full disk,
//! secrets kept out of every log level, the counters an operator scrapes (issue 14).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use authobot::audit::{AuditLog, OnFailure};
use authobot::plugin::Authobot;
use authobot::Policy;
use protocol::client::PluginClient;
use protocol::{AuthzPlugin, AuthzRequest, Phase};

use crate::support::{authobot, request};

/// An audit sink on a disk that is full.
struct FullDisk;

impl Write for FullDisk {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::from_raw_os_error(nix::libc::ENOSPC))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn lost_records(plugin: &Authobot) -> String {
    let text = plugin.metrics_text();
    text.lines()
        .find(|line| line.starts_with("authobot_audit_lost_records_total "))
        .unwrap_or_else(|| panic!("no lost records in {text}"))
        .to_owned()
}

#[test]
fn a_call_whose_audit_line_cannot_be_written_is_refused_by_default() {
    let plugin = Authobot::new(
        Policy::embedded_default(),
        AuditLog::new(Box::new(FullDisk)),
    );
    let reply = plugin.authz_request(&request("GET", "/v1.41/containers/json", None));
    assert!(!reply.allow);
    assert!(
        reply
            .msg
            .contains("the audit log cannot be written (No space left on device"),
        "{}",
        reply.msg
    );
    assert_eq!(lost_records(&plugin), "authobot_audit_lost_records_total 1");
    assert!(plugin.metrics_text().contains(
        "authobot_decisions_total{phase=\"request\",decision=\"deny\",rule=\"audit-log-unwritable\"} 1"
    ));
}

#[test]
fn with_on_audit_failure_allow_a_call_is_answered_and_its_lost_line_counted() {
    let audit = AuditLog::new(Box::new(FullDisk)).on_failure(OnFailure::Allow);
    let plugin = Authobot::new(Policy::embedded_default(), audit);
    for _ in 0..3 {
        let reply = plugin.authz_request(&request("GET", "/v1.41/containers/json", None));
        assert!(reply.allow, "{}", reply.msg);
    }
    assert_eq!(lost_records(&plugin), "authobot_audit_lost_records_total 3");
}

/// An `authobot serve` child in its own directory, killed when dropped.
struct Served {
    child: Child,
    dir: tempfile::TempDir,
}

impl Served {
    /// Starts `authobot serve` with `args`, run through `wrapper` (e.g. `prlimit`) if any,
    /// its diagnostics in `stderr.log` at the level `rust_log`.
    fn start(wrapper: &[&str], args: &[&str], rust_log: &str) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let binary = assert_cmd::cargo::cargo_bin("authobot");
        let mut command = match wrapper.split_first() {
            Some((program, wrapper_args)) => {
                let mut command = Command::new(program);
                command.args(wrapper_args).arg(&binary);
                command
            }
            None => Command::new(&binary),
        };
        let child = command
            .current_dir(dir.path())
            .env("RUST_LOG", rust_log)
            .args(["serve", "--socket", "plugin.sock", "--state-dir", "state"])
            .args(["--metrics", "metrics.sock"])
            .args(args)
            .stderr(stderr)
            .stdout(Stdio::null())
            .spawn()
            .expect("authobot serve starts");
        let served = Served { child, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !served.path("plugin.sock").exists() || !served.path("metrics.sock").exists() {
            assert!(Instant::now() < deadline, "authobot serve never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        served
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Sends each call for `phase` and returns whether each was allowed.
    fn ask(&self, phase: Phase, calls: &[AuthzRequest]) -> Vec<bool> {
        let client = PluginClient::new(self.path("plugin.sock"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut allowed = Vec::new();
            for call in calls {
                let answer = client.call(phase, call).await.expect("the plugin answers");
                allowed.push(answer.reply.is_ok_and(|reply| reply.allow));
            }
            allowed
        })
    }

    fn status(&self) -> String {
        let output = authobot()
            .args(["status", "--metrics"])
            .arg(self.path("metrics.sock"))
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    }

    /// Stops the plugin (SIGTERM) and returns its diagnostics.
    fn stop(mut self) -> String {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        self.child.wait().unwrap();
        std::fs::read_to_string(self.path("stderr.log")).unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(path: &Path) -> (String, Vec<serde_json::Value>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    (text, lines)
}

/// A file size limit stands for a full disk without root: writes past it are cut short,
/// then fail (EFBIG), as on a filesystem that fills up mid-line.
#[test]
fn an_audit_log_that_fills_up_never_holds_a_torn_line_and_refuses_calls() {
    let limit = 4000;
    let served = Served::start(
        &["prlimit", &format!("--fsize={limit}")],
        &["--audit-log", "audit.jsonl"],
        "warn",
    );
    let calls = vec![request("GET", "/v1.41/containers/json?all=1", None); 60];
    let allowed = served.ask(Phase::Request, &calls);
    let (text, lines) = read_lines(&served.path("audit.jsonl"));
    assert!(text.ends_with('\n'), "torn last line: {text:?}");
    assert!(text.len() <= limit);
    let written = lines.len();
    assert!(written > 5 && written < 60, "{written} lines");
    assert!(allowed[..written].iter().all(|&allowed| allowed));
    assert!(allowed[written..].iter().all(|&allowed| !allowed));
    let status = served.status();
    let lost = format!("authobot_audit_lost_records_total {}\n", 60 - written);
    assert!(status.contains(&lost), "{status}");
    let log = served.stop();
    assert!(log.contains("audit record lost"), "{log}");
}

#[test]
fn status_shows_decisions_by_rule_learns_and_the_journal() {
    let served = Served::start(&[], &[], "warn");
    let mut created = request("POST", "/v1.41/containers/create?name=web", None);
    created.response_status_code = 201;
    created.response_body = format!(r#"{{"Id":"{}","Warnings":[]}}"#, "ab".repeat(32)).into();
    served.ask(Phase::Response, &[created]);
    let privileged = request(
        "POST",
        "/v1.41/containers/create",
        Some(r#"{"Image":"busybox","HostConfig":{"Privileged":true}}"#),
    );
    served.ask(Phase::Request, &[privileged.clone(), privileged]);
    let status = served.status();
    for expected in [
        "authobot_decisions_total{phase=\"request\",decision=\"deny\",rule=\"no-privileged\"} 2\n",
        "authobot_decisions_total{phase=\"response\",decision=\"allow\",rule=\"response-phase\"} 1\n",
        "authobot_ownership_learns_total 1\n",
        "authobot_journal_seq 1\n",
        "authobot_journal_lines 2\n",
        "authobot_journal_writable 1\n",
        "authobot_owned_objects 1\n",
        "authobot_audit_lost_records_total 0\n",
        "# TYPE authobot_journal_fsync_lag_seconds gauge\n",
    ] {
        assert!(status.contains(expected), "{expected:?} missing from\n{status}");
    }
}

/// Secrets the calls below carry, each where the issue found one could leak.
const SECRETS: [&str; 6] = [
    "s3cret-buildarg",
    "s3cret-password",
    "s3cret-header",
    "s3cret-env",
    "s3cret-typed",
    "s3cret-bind",
];

#[test]
fn no_log_level_of_serve_shows_a_query_a_body_a_header_or_a_field_value() {
    let served = Served::start(&[], &["--audit-log", "audit.jsonl"], "trace");
    let mut login = request(
        "POST",
        "/v1.41/auth",
        Some(r#"{"username":"bob","password":"s3cret-password"}"#),
    );
    login
        .request_headers
        .insert("X-Custom".into(), "s3cret-header".into());
    let calls = [
        request(
            "POST",
            r#"/v1.41/build?buildargs={"TOKEN":"s3cret-buildarg"}&networkmode=host"#,
            None,
        ),
        login,
        request(
            "POST",
            "/v1.41/containers/web/exec",
            Some(r#"{"Cmd":["sh"],"Env":["TOKEN=s3cret-env"],"Privileged":true}"#),
        ),
        request(
            "POST",
            "/v1.41/containers/create",
            Some(r#"{"Image":"busybox","HostConfig":{"Binds":["/s3cret-bind:/x"]}}"#),
        ),
    ];
    served.ask(Phase::Request, &calls);
    served.ask(Phase::Response, &calls);
    let client = PluginClient::new(served.path("plugin.sock"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, _) = runtime
        .block_on(client.post_raw(
            "/AuthZPlugin.AuthZReq",
            r#"{"RequestMethod":"GET","RequestUri":"/_ping","ResponseStatusCode":"s3cret-typed"}"#,
        ))
        .unwrap();
    assert_eq!(status, 200);
    let audit = std::fs::read_to_string(served.path("audit.jsonl")).unwrap();
    let log = served.stop();
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "{log}");
    assert!(log.contains("route"), "{log}");
    for secret in SECRETS {
        assert!(
            !log.contains(secret),
            "{secret} in the diagnostic log:\n{log}"
        );
        assert!(
            !audit.contains(secret),
            "{secret} in the audit log:\n{audit}"
        );
    }
}
