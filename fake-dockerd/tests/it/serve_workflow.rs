//! The docker CLI workflow through `fake-dockerd serve --upstream` in front of a real
//! dockerd 20.10 gives a plugin the messages that same daemon gave it directly
//! (captures/workflow/), streamed and hijacked answers included; so does the in-memory
//! engine for the container lifecycle commands.

use std::path::Path;
use std::time::{Duration, Instant};

use fake_dockerd::fidelity::{compare_plugin_calls, normalize};
use fake_dockerd::record_plugin::{read_plugin_calls, PluginCall};

use crate::serve_harness::{docker_at, ok_stdout, real_dockerd, FakeDockerd, RunningPlugin};

/// Whether the docker CLI here is the one that made captures/workflow/ (the requests it
/// sends are part of what is compared). Another version is skipped with a printed reason,
/// even under CI: it is not a missing tool but a different subject.
fn same_cli_as_the_captures() -> bool {
    let recorded = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../captures/workflow/run.jsonl"),
    )
    .unwrap();
    let calls = read_plugin_calls(&recorded).unwrap();
    let wanted = calls[0]
        .message
        .request_header("User-Agent")
        .map(str::to_owned);
    let here = crate::serve_harness::docker_cli_user_agent();
    if here.is_some() && here == wanted {
        return true;
    }
    eprintln!("SKIPPED: the captures were made by {wanted:?}, the docker CLI here is {here:?}");
    false
}

/// Commands of captures/make-captures.sh, in its order, with the names it used.
const WORKFLOW: &[(&str, &[&str])] = &[
    (
        "run",
        &["run", "--name", "fd-run", "fdbox:latest", "echo", "hello"],
    ),
    (
        "run-d",
        &[
            "run",
            "-d",
            "--name",
            "fd-web",
            "fdbox:latest",
            "sleep",
            "300",
        ],
    ),
    ("exec", &["exec", "fd-web", "echo", "from-exec"]),
    ("logs", &["logs", "fd-run"]),
    ("stop", &["stop", "-t", "1", "fd-web"]),
    ("start", &["start", "fd-web"]),
    ("kill", &["kill", "fd-web"]),
    ("rm", &["rm", "fd-web", "fd-run"]),
];

/// A response body with what differs between two daemons on one machine blanked: data-root
/// paths, process ids, 12-hex-digit short ids (hostnames, netns names).
fn scrub(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find("\"/tmp/") {
        out.push_str(&rest[..start]);
        let path_end = rest[start + 1..]
            .find('"')
            .map_or(rest.len(), |e| start + 1 + e);
        let path = &rest[start + 1..path_end];
        let tail = ["/data/", "/exec/"]
            .iter()
            .find_map(|marker| path.find(marker).map(|at| &path[at..]))
            .unwrap_or(path);
        out.push_str(&format!("\"<root>{tail}"));
        rest = &rest[path_end..];
    }
    out.push_str(rest);
    let mut scrubbed = String::new();
    for (i, piece) in out.split("\"Pid\":").enumerate() {
        if i > 0 {
            scrubbed.push_str("\"Pid\":0");
            scrubbed.push_str(piece.trim_start_matches(|c: char| c.is_ascii_digit()));
        } else {
            scrubbed.push_str(piece);
        }
    }
    let chars: Vec<char> = scrubbed.chars().collect();
    let mut result = String::new();
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            .count();
        if run == 12 && chars[i..i + 12].iter().any(|c| c.is_ascii_digit()) {
            result.push_str("<short-id>");
            i += 12;
        } else if run > 0 {
            result.extend(&chars[i..i + run]);
            i += run;
        } else {
            result.push(chars[i]);
            i += 1;
        }
    }
    result.into_bytes()
}

/// Calls in a stable order: concurrent calls (attach, wait, start) interleave differently
/// from run to run, in the real daemon as here.
fn sorted(calls: &[PluginCall]) -> Vec<PluginCall> {
    let mut calls = calls.to_vec();
    calls.sort_by_key(|call| {
        let message = normalize(&call.message);
        (message.request_uri, format!("{:?}", call.phase))
    });
    for call in &mut calls {
        call.message.response_body = scrub(&call.message.response_body);
    }
    calls
}

/// Runs each command through `fake` and lists how the plugin calls it caused differ from
/// the real daemon's recording of that command.
fn differences(
    fake: &FakeDockerd,
    plugin: &RunningPlugin,
    commands: &[&(&str, &[&str])],
) -> Vec<String> {
    let workflow = Path::new(env!("CARGO_MANIFEST_DIR")).join("../captures/workflow");
    let mut failures = Vec::new();
    for (name, args) in commands {
        let text = std::fs::read_to_string(workflow.join(format!("{name}.jsonl"))).unwrap();
        let recorded = read_plugin_calls(&text).unwrap();
        let before = plugin.calls.lock().unwrap().len();
        ok_stdout(&fake.docker(args), name);
        // Response phases of hijacked and streamed calls may follow the client's exit.
        let deadline = Instant::now() + Duration::from_secs(5);
        while plugin.calls.lock().unwrap().len() - before < recorded.len()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let produced: Vec<PluginCall> = plugin.calls.lock().unwrap()[before..]
            .iter()
            .map(|(phase, message)| PluginCall {
                phase: *phase,
                message: message.clone(),
            })
            .collect();
        for mismatch in compare_plugin_calls(&sorted(&recorded), &sorted(&produced)) {
            failures.push(format!("{name}: {mismatch:?}"));
        }
    }
    failures
}

#[test]
fn the_cli_workflow_through_serve_gives_the_plugin_what_dockerd_gave_it() {
    let Some(daemon) = real_dockerd() else { return };
    if !same_cli_as_the_captures() {
        return;
    }
    let host = format!("unix://{}", daemon.socket.display());
    ok_stdout(
        &docker_at(&host, &["tag", daemon.image, "fdbox:latest"]),
        "docker tag",
    );
    let dir = tempfile::tempdir().unwrap();
    let plugin = RunningPlugin::start(dir.path(), "recorder", None);
    let fake = FakeDockerd::serve(
        dir.path(),
        "recorder",
        &["--profile", "moby-20.10", "--upstream", &host],
    );
    let failures = differences(&fake, &plugin, &WORKFLOW.iter().collect::<Vec<_>>());
    let _ = docker_at(&host, &["rm", "-f", "fd-web", "fd-run"]);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The commands whose every answer the in-memory engine shapes like dockerd (the others
/// inspect a container first, and a record's inspection is not a real one).
const MEMORY_WORKFLOW: &[&str] = &["run", "run-d", "stop", "start", "kill", "rm"];

#[test]
fn the_in_memory_engine_gives_the_plugin_what_dockerd_gave_it_for_container_lifecycle_commands() {
    if !crate::serve_harness::docker_cli_available() || !same_cli_as_the_captures() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let plugin = RunningPlugin::start(dir.path(), "recorder", None);
    let fake = FakeDockerd::serve(dir.path(), "recorder", &["--profile", "moby-20.10"]);
    let commands: Vec<_> = WORKFLOW
        .iter()
        .filter(|(name, _)| MEMORY_WORKFLOW.contains(name))
        .collect();
    let failures = differences(&fake, &plugin, &commands);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
