//! The in-memory engine that answers `fake-dockerd serve` when no `--upstream` is given.
//!
//! It serves just enough of the Engine API for the docker CLI's everyday commands (`version`,
//! `ps`, `run -d`, `exec`, `logs`, `stop`, `rm`), with the response shapes and error texts of
//! dockerd 20.10, so that a plugin can be exercised by the real CLI without a daemon. Containers
//! are records: nothing runs. Commands are simulated by [`simulate`], which knows `echo`,
//! `true`, `false` and `sleep`, and every answer is consistent with the records (an exec's exit
//! code, a container's logs, its state after `stop`).

mod process;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use protocol::route::Route;
use serde::Deserialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub use process::{simulate, Simulated};

/// Who the fake engine says it is in `/version`, `/_ping` and its response headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineIdentity {
    /// The engine version, as in `Server: Docker/VERSION (linux)`.
    pub version: String,
    /// The API version the engine speaks (`Api-Version`).
    pub api_version: String,
    /// The oldest API version it accepts.
    pub min_api_version: String,
}

impl EngineIdentity {
    /// The headers dockerd's version middleware puts on every response, errors included.
    pub fn headers(&self) -> Vec<(String, String)> {
        vec![
            ("Api-Version".into(), self.api_version.clone()),
            ("Docker-Experimental".into(), "false".into()),
            ("Ostype".into(), "linux".into()),
            ("Server".into(), format!("Docker/{} (linux)", self.version)),
        ]
    }
}

/// A complete HTTP answer: status, headers (beyond the identity headers) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// Response headers in order.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// One answer of an engine, in the form dockerd's handler writes it; the form decides what
/// the authz response phase is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Written without flushing: the authz middleware buffers it and shows it to AuthZRes.
    Buffered(Answer),
    /// Flushed while written (logs, events): AuthZRes sees no status, headers or body.
    Streamed(Answer),
    /// The connection is hijacked (exec start, attach) and this raw stream is written to it.
    Hijacked(Vec<u8>),
    /// The answer depends on what happens to a container later (wait, attach): resolve it
    /// with [`MemoryEngine::resolve`].
    Pending {
        /// The container's full id.
        container_id: String,
        /// What is awaited.
        awaited: Awaited,
    },
    /// The handler returned an error; the router writes it after the response phase.
    Failed {
        /// The HTTP status of the error.
        status: u16,
        /// The error text, sent as `{"message": ...}`.
        message: String,
    },
}

impl Reply {
    /// The bytes a client receives as the body: the answer's body, a hijacked stream, or
    /// the error as dockerd's JSON; nothing for a still pending answer.
    pub fn into_body(self) -> Vec<u8> {
        match self {
            Reply::Buffered(answer) | Reply::Streamed(answer) => answer.body,
            Reply::Hijacked(output) => output,
            Reply::Pending { .. } => Vec::new(),
            Reply::Failed { message, .. } => {
                (json!({ "message": message }).to_string() + "\n").into_bytes()
            }
        }
    }

    fn json(status: u16, value: &Value) -> Reply {
        Reply::Buffered(Answer {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: format!("{value}\n").into_bytes(),
        })
    }

    fn no_content(status: u16) -> Reply {
        Reply::Buffered(Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        })
    }

    fn fail(status: u16, message: impl Into<String>) -> Reply {
        Reply::Failed {
            status,
            message: message.into(),
        }
    }
}

/// What a pending answer waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Awaited {
    /// `POST /containers/{id}/wait`: a flushed `{"Error":null,"StatusCode":N}` once
    /// `condition` holds.
    Wait {
        /// `not-running`, `next-exit` or `removed`.
        condition: WaitCondition,
        /// The container's exit count when the call came (for `next-exit`).
        exits_seen: u64,
    },
    /// `POST /containers/{id}/attach`: the output of the runs that start after the call,
    /// as a raw stream that ends when the container stops.
    Attach {
        /// The container's start count when the call came.
        starts_seen: u64,
        /// Whether standard output is wanted.
        stdout: bool,
        /// Whether standard error is wanted.
        stderr: bool,
    },
}

/// The `condition` of a wait, as dockerd spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    /// Until the container is not running (the default).
    NotRunning,
    /// Until its next exit.
    NextExit,
    /// Until it is removed.
    Removed,
}

/// The stream a piece of output was written to, numbered as in Docker's multiplexed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdStream {
    /// File descriptor 1.
    Stdout = 1,
    /// File descriptor 2.
    Stderr = 2,
}

/// Frames output the way dockerd does for a container without a TTY: an 8-byte header
/// (stream, three zero bytes, big-endian length) before each chunk.
pub fn multiplex(stream: StdStream, payload: &[u8]) -> Vec<u8> {
    if payload.is_empty() {
        return Vec::new();
    }
    let mut frame = Vec::with_capacity(8 + payload.len());
    frame.extend_from_slice(&[stream as u8, 0, 0, 0]);
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunState {
    Created,
    Running,
    Exited,
}

#[derive(Debug)]
struct Container {
    id: String,
    name: String,
    image: String,
    path: String,
    args: Vec<String>,
    tty: bool,
    labels: BTreeMap<String, String>,
    host_config: Value,
    created: SystemTime,
    state: RunState,
    started_at: Option<SystemTime>,
    finished_at: Option<SystemTime>,
    exit_code: i64,
    logs: Vec<(StdStream, Vec<u8>)>,
    exec_ids: Vec<String>,
    /// How many times it started and exited, and where in `logs` its last run began: what
    /// pending waits and attaches look at.
    starts: u64,
    exits: u64,
    run_logs_from: usize,
}

#[derive(Debug)]
struct Exec {
    id: String,
    container_id: String,
    argv: Vec<String>,
    tty: bool,
    privileged: bool,
    exit_code: Option<i64>,
}

#[derive(Debug, Default)]
struct State {
    containers: Vec<Container>,
    execs: BTreeMap<String, Exec>,
    /// Removed containers, kept for the waits and attaches that outlive them.
    removed: BTreeMap<String, Container>,
}

/// The in-memory engine: a table of container and exec records behind a lock.
#[derive(Debug)]
pub struct MemoryEngine {
    identity: EngineIdentity,
    state: Mutex<State>,
    /// Bumped after every change of a container's run state; pending answers re-check then.
    changes: tokio::sync::watch::Sender<u64>,
}

/// The part of a container create body the engine keeps (exact field names, as the CLI
/// sends them; policy-grade reading of bodies lives in `protocol::body`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CreateBody {
    #[serde(rename = "Image")]
    image: String,
    #[serde(rename = "Cmd")]
    cmd: Option<Vec<String>>,
    #[serde(rename = "Entrypoint")]
    entrypoint: Option<Vec<String>>,
    #[serde(rename = "Tty")]
    tty: bool,
    #[serde(rename = "Labels")]
    labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "HostConfig")]
    host_config: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ExecCreateBody {
    #[serde(rename = "Cmd")]
    cmd: Option<Vec<String>>,
    #[serde(rename = "Tty")]
    tty: bool,
    #[serde(rename = "Privileged")]
    privileged: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ExecStartBody {
    #[serde(rename = "Detach")]
    detach: bool,
}

impl MemoryEngine {
    /// An engine with no containers that introduces itself as `identity`.
    pub fn new(identity: EngineIdentity) -> Self {
        MemoryEngine {
            identity,
            state: Mutex::new(State::default()),
            changes: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Who this engine says it is.
    pub fn identity(&self) -> &EngineIdentity {
        &self.identity
    }

    /// Answers one API call that dockerd would route to `route`, with its request body.
    pub fn handle(&self, route: &Route, body: &[u8]) -> Reply {
        let method = route.method.as_str();
        match (method, route.template) {
            ("GET" | "HEAD", "/_ping") => self.ping(method),
            ("GET", "/version") => Reply::json(200, &self.version()),
            ("GET", "/containers/json") => self.list(route),
            ("POST", "/containers/create") => self.create(route, body),
            ("GET", "/containers/{name}/json") => {
                self.with_container(route, |c| Reply::json(200, &inspect(c)))
            }
            ("POST", "/containers/{name}/start") => self.start(route),
            ("POST", "/containers/{name}/stop") => self.stop(route),
            ("POST", "/containers/{name}/kill") => self.kill(route),
            ("DELETE", "/containers/{name}") => self.remove(route),
            ("GET", "/containers/{name}/logs") => self.logs(route),
            ("POST", "/containers/{name}/wait") => self.wait(route),
            ("POST", "/containers/{name}/attach") => self.attach(route),
            ("POST", "/containers/{name}/exec") => self.exec_create(route, body),
            ("POST", "/exec/{name}/start") => self.exec_start(route, body),
            ("GET", "/exec/{id}/json") => self.exec_inspect(route),
            (_, template) => Reply::fail(
                501,
                format!(
                    "fake-dockerd: {method} {template} is not implemented by the in-memory \
                     engine; use --upstream to forward to a real daemon"
                ),
            ),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves records that are still well-formed.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn ping(&self, method: &str) -> Reply {
        let mut headers = vec![
            (
                "Cache-Control".into(),
                "no-cache, no-store, must-revalidate".into(),
            ),
            ("Pragma".into(), "no-cache".into()),
            ("Content-Type".into(), "text/plain; charset=utf-8".into()),
        ];
        let body = if method == "HEAD" {
            // dockerd's ping handler sets the length itself on HEAD, so AuthZRes shows it.
            headers.push(("Content-Length".into(), "0".into()));
            Vec::new()
        } else {
            b"OK".to_vec()
        };
        Reply::Buffered(Answer {
            status: 200,
            headers,
            body,
        })
    }

    fn version(&self) -> Value {
        let id = &self.identity;
        json!({
            "Platform": {"Name": "fake-dockerd"},
            "Components": [{
                "Name": "Engine",
                "Version": id.version,
                "Details": {
                    "ApiVersion": id.api_version,
                    "Arch": std::env::consts::ARCH,
                    "Experimental": "false",
                    "GitCommit": "fake",
                    "GoVersion": "none",
                    "MinAPIVersion": id.min_api_version,
                    "Os": "linux",
                }
            }],
            "Version": id.version,
            "ApiVersion": id.api_version,
            "MinAPIVersion": id.min_api_version,
            "GitCommit": "fake",
            "GoVersion": "none",
            "Os": "linux",
            "Arch": go_arch(),
        })
    }

    fn list(&self, route: &Route) -> Reply {
        let all = route.query_value("all").is_some_and(form_bool);
        let state = self.lock();
        let now = SystemTime::now();
        let rows: Vec<Value> = state
            .containers
            .iter()
            .rev()
            .filter(|c| all || c.state == RunState::Running)
            .map(|c| {
                json!({
                    "Id": c.id,
                    "Names": [format!("/{}", c.name)],
                    "Image": c.image,
                    "ImageID": "",
                    "Command": std::iter::once(c.path.as_str())
                        .chain(c.args.iter().map(String::as_str))
                        .collect::<Vec<_>>()
                        .join(" "),
                    "Created": unix_seconds(c.created),
                    "Ports": [],
                    "Labels": c.labels,
                    "State": state_name(c.state),
                    "Status": status_text(c, now),
                    "HostConfig": {"NetworkMode": "default"},
                    "NetworkSettings": {"Networks": {}},
                    "Mounts": [],
                })
            })
            .collect();
        Reply::json(200, &Value::Array(rows))
    }

    fn create(&self, route: &Route, body: &[u8]) -> Reply {
        let config: CreateBody = match serde_json::from_slice(body) {
            Ok(config) => config,
            Err(err) => return Reply::fail(400, err.to_string()),
        };
        if config.image.is_empty() {
            return Reply::fail(400, "No command specified");
        }
        let mut argv = config.entrypoint.unwrap_or_default();
        argv.extend(config.cmd.unwrap_or_default());
        let mut state = self.lock();
        let id = random_id();
        let name = match route.query_value("name").filter(|n| !n.is_empty()) {
            Some(name) => name.trim_start_matches('/').to_owned(),
            None => format!("fake_{}", &id[..8]),
        };
        if let Some(holder) = state.containers.iter().find(|c| c.name == name) {
            return Reply::fail(
                409,
                format!(
                    "Conflict. The container name \"/{name}\" is already in use by container \
                     \"{}\". You have to remove (or rename) that container to be able to reuse \
                     that name.",
                    holder.id
                ),
            );
        }
        let mut argv = argv.into_iter();
        state.containers.push(Container {
            id: id.clone(),
            name,
            image: config.image,
            path: argv.next().unwrap_or_default(),
            args: argv.collect(),
            tty: config.tty,
            labels: config.labels.unwrap_or_default(),
            host_config: config.host_config.unwrap_or_else(|| json!({})),
            created: SystemTime::now(),
            state: RunState::Created,
            started_at: None,
            finished_at: None,
            exit_code: 0,
            logs: Vec::new(),
            exec_ids: Vec::new(),
            starts: 0,
            exits: 0,
            run_logs_from: 0,
        });
        Reply::json(201, &json!({"Id": id, "Warnings": []}))
    }

    fn with_container(&self, route: &Route, answer: impl FnOnce(&mut Container) -> Reply) -> Reply {
        let name = route.param("name").unwrap_or_default();
        let mut state = self.lock();
        let reply = match find_container(&mut state.containers, name) {
            Some(container) => answer(container),
            None => return Reply::fail(404, format!("No such container: {name}")),
        };
        // A container with AutoRemove goes once it stopped (`docker run --rm`).
        let (gone, kept): (Vec<Container>, Vec<Container>) = std::mem::take(&mut state.containers)
            .into_iter()
            .partition(|c| c.state == RunState::Exited && auto_removes(c));
        state.containers = kept;
        for container in gone {
            state.execs.retain(|_, e| e.container_id != container.id);
            state.removed.insert(container.id.clone(), container);
        }
        drop(state);
        self.changes.send_modify(|n| *n += 1);
        reply
    }

    fn start(&self, route: &Route) -> Reply {
        self.with_container(route, |c| {
            if c.state == RunState::Running {
                return Reply::no_content(304);
            }
            let argv: Vec<String> = std::iter::once(c.path.clone())
                .chain(c.args.iter().cloned())
                .filter(|a| !a.is_empty())
                .collect();
            let run = simulate(&argv);
            c.started_at = Some(SystemTime::now());
            c.starts += 1;
            c.run_logs_from = c.logs.len();
            c.logs.push((StdStream::Stdout, run.stdout));
            c.logs.push((StdStream::Stderr, run.stderr));
            c.state = RunState::Running;
            if let Some(code) = run.exit_code {
                finish(c, code);
            }
            Reply::no_content(204)
        })
    }

    fn stop(&self, route: &Route) -> Reply {
        self.with_container(route, |c| {
            if c.state != RunState::Running {
                return Reply::no_content(304);
            }
            // A simulated process honours SIGTERM: 128 + 15.
            finish(c, 143);
            Reply::no_content(204)
        })
    }

    fn kill(&self, route: &Route) -> Reply {
        self.with_container(route, |c| {
            if c.state != RunState::Running {
                return Reply::fail(
                    409,
                    format!(
                        "Cannot kill container: {0}: Container {0} is not running",
                        route.param("name").unwrap_or_default()
                    ),
                );
            }
            finish(c, 137);
            Reply::no_content(204)
        })
    }

    fn remove(&self, route: &Route) -> Reply {
        let name = route.param("name").unwrap_or_default();
        let force = route.query_value("force").is_some_and(form_bool);
        let mut state = self.lock();
        let Some(container) = find_container(&mut state.containers, name) else {
            return Reply::fail(404, format!("No such container: {name}"));
        };
        if container.state == RunState::Running && !force {
            return Reply::fail(
                409,
                format!(
                    "You cannot remove a running container {}. Stop the container before \
                     attempting removal or force remove",
                    container.id
                ),
            );
        }
        let id = container.id.clone();
        if let Some(index) = state.containers.iter().position(|c| c.id == id) {
            let container = state.containers.remove(index);
            state.removed.insert(id.clone(), container);
        }
        state.execs.retain(|_, e| e.container_id != id);
        drop(state);
        self.changes.send_modify(|n| *n += 1);
        Reply::no_content(204)
    }

    fn wait(&self, route: &Route) -> Reply {
        let condition = match route.query_value("condition").unwrap_or_default() {
            "" | "not-running" => WaitCondition::NotRunning,
            "next-exit" => WaitCondition::NextExit,
            "removed" => WaitCondition::Removed,
            other => {
                return Reply::fail(400, format!("invalid condition: {other:?}"));
            }
        };
        self.with_container(route, |c| Reply::Pending {
            container_id: c.id.clone(),
            awaited: Awaited::Wait {
                condition,
                exits_seen: c.exits,
            },
        })
    }

    fn attach(&self, route: &Route) -> Reply {
        let stdout = route.query_value("stdout").is_some_and(form_bool);
        let stderr = route.query_value("stderr").is_some_and(form_bool);
        self.with_container(route, |c| Reply::Pending {
            container_id: c.id.clone(),
            awaited: Awaited::Attach {
                starts_seen: c.starts,
                stdout,
                stderr,
            },
        })
    }

    /// The answer a [`Reply::Pending`] waits for, once the container got there.
    pub async fn resolve(&self, container_id: &str, awaited: &Awaited) -> Reply {
        loop {
            // Subscribed before looking, so no change between the two is missed.
            let mut changes = self.changes.subscribe();
            {
                let state = self.lock();
                let live = state.containers.iter().find(|c| c.id == container_id);
                let removed = state.removed.get(container_id);
                if let Some(reply) = settled(live, removed, awaited) {
                    return reply;
                }
            }
            if changes.changed().await.is_err() {
                return Reply::fail(500, "fake-dockerd: the engine is shutting down");
            }
        }
    }

    fn logs(&self, route: &Route) -> Reply {
        let want_stdout = route.query_value("stdout").is_some_and(form_bool);
        let want_stderr = route.query_value("stderr").is_some_and(form_bool);
        if !want_stdout && !want_stderr {
            return Reply::fail(400, "Bad parameters: you must choose at least one stream");
        }
        self.with_container(route, |c| {
            let mut body = Vec::new();
            for (stream, bytes) in &c.logs {
                let wanted = match stream {
                    StdStream::Stdout => want_stdout,
                    StdStream::Stderr => want_stderr,
                };
                if !wanted {
                    continue;
                }
                if c.tty {
                    body.extend_from_slice(bytes);
                } else {
                    body.extend(multiplex(*stream, bytes));
                }
            }
            Reply::Streamed(Answer {
                status: 200,
                headers: Vec::new(),
                body,
            })
        })
    }

    fn exec_create(&self, route: &Route, body: &[u8]) -> Reply {
        let config: ExecCreateBody = match serde_json::from_slice(body) {
            Ok(config) => config,
            Err(err) => return Reply::fail(400, err.to_string()),
        };
        let argv = config.cmd.unwrap_or_default();
        if argv.is_empty() {
            return Reply::fail(400, "No exec command specified");
        }
        let name = route.param("name").unwrap_or_default();
        let mut state = self.lock();
        let Some(container) = find_container(&mut state.containers, name) else {
            return Reply::fail(404, format!("No such container: {name}"));
        };
        if container.state != RunState::Running {
            return Reply::fail(409, format!("Container {} is not running", container.id));
        }
        let id = random_id();
        container.exec_ids.push(id.clone());
        let exec = Exec {
            id: id.clone(),
            container_id: container.id.clone(),
            argv,
            tty: config.tty,
            privileged: config.privileged,
            exit_code: None,
        };
        state.execs.insert(id.clone(), exec);
        Reply::json(201, &json!({"Id": id}))
    }

    fn exec_start(&self, route: &Route, body: &[u8]) -> Reply {
        let start: ExecStartBody = match serde_json::from_slice(body) {
            Ok(start) => start,
            Err(err) => return Reply::fail(400, err.to_string()),
        };
        let id = route.param("name").unwrap_or_default();
        let mut state = self.lock();
        let Some(exec) = state.execs.get_mut(id) else {
            return Reply::fail(404, format!("No such exec instance: {id}"));
        };
        if exec.exit_code.is_some() {
            return Reply::fail(409, format!("Error: Exec command {id} has already run"));
        }
        let run = simulate(&exec.argv);
        // A simulated exec that would run forever is reported as finished when its
        // stream closes, like a process the client detached from.
        exec.exit_code = Some(run.exit_code.unwrap_or(0));
        if start.detach {
            return Reply::no_content(200);
        }
        let output = if exec.tty {
            [run.stdout, run.stderr].concat()
        } else {
            [
                multiplex(StdStream::Stdout, &run.stdout),
                multiplex(StdStream::Stderr, &run.stderr),
            ]
            .concat()
        };
        Reply::Hijacked(output)
    }

    fn exec_inspect(&self, route: &Route) -> Reply {
        let id = route.param("id").unwrap_or_default();
        let state = self.lock();
        let Some(exec) = state.execs.get(id) else {
            return Reply::fail(404, format!("No such exec instance: {id}"));
        };
        let mut argv = exec.argv.iter();
        Reply::json(
            200,
            &json!({
                "ID": exec.id,
                "Running": false,
                "ExitCode": exec.exit_code,
                "ProcessConfig": {
                    "tty": exec.tty,
                    "entrypoint": argv.next(),
                    "arguments": argv.collect::<Vec<_>>(),
                    "privileged": exec.privileged,
                },
                "OpenStdin": false,
                "OpenStderr": true,
                "OpenStdout": true,
                "CanRemove": false,
                "ContainerID": exec.container_id,
                "DetachKeys": "",
                "Pid": 0,
            }),
        )
    }
}

fn finish(container: &mut Container, exit_code: i64) {
    container.state = RunState::Exited;
    container.exit_code = exit_code;
    container.exits += 1;
    container.finished_at = Some(SystemTime::now());
}

fn auto_removes(container: &Container) -> bool {
    container.host_config.get("AutoRemove") == Some(&Value::Bool(true))
}

/// The answer to `awaited` if the container (`live`, or `removed`) got there.
fn settled(
    live: Option<&Container>,
    removed: Option<&Container>,
    awaited: &Awaited,
) -> Option<Reply> {
    let container = live.or(removed)?;
    let stopped = removed.is_some() || container.state != RunState::Running;
    match awaited {
        Awaited::Wait {
            condition,
            exits_seen,
        } => {
            let done = match condition {
                WaitCondition::NotRunning => stopped,
                WaitCondition::NextExit => container.exits > *exits_seen,
                WaitCondition::Removed => removed.is_some(),
            };
            done.then(|| {
                let body = json!({"Error": null, "StatusCode": container.exit_code});
                Reply::Streamed(Answer {
                    status: 200,
                    headers: vec![("Content-Type".into(), "application/json".into())],
                    body: format!("{body}\n").into_bytes(),
                })
            })
        }
        Awaited::Attach {
            starts_seen,
            stdout,
            stderr,
        } => {
            let ran = container.starts > *starts_seen;
            if !stopped || (!ran && container.state == RunState::Created) {
                return None;
            }
            let mut output = Vec::new();
            if ran {
                for (stream, bytes) in &container.logs[container.run_logs_from..] {
                    let wanted = match stream {
                        StdStream::Stdout => *stdout,
                        StdStream::Stderr => *stderr,
                    };
                    if wanted && container.tty {
                        output.extend_from_slice(bytes);
                    } else if wanted {
                        output.extend(multiplex(*stream, bytes));
                    }
                }
            }
            Some(Reply::Hijacked(output))
        }
    }
}

/// Resolves a container reference the way dockerd does: full id, name (with or without the
/// leading slash), then a unique id prefix.
fn find_container<'a>(
    containers: &'a mut [Container],
    reference: &str,
) -> Option<&'a mut Container> {
    let name = reference.trim_start_matches('/');
    if let Some(index) = containers
        .iter()
        .position(|c| c.id == reference || c.name == name)
    {
        return containers.get_mut(index);
    }
    let mut by_prefix = containers
        .iter_mut()
        .filter(|c| !reference.is_empty() && c.id.starts_with(reference));
    match (by_prefix.next(), by_prefix.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

fn inspect(c: &Container) -> Value {
    json!({
        "Id": c.id,
        "Created": rfc3339(Some(c.created)),
        "Path": c.path,
        "Args": c.args,
        "State": {
            "Status": state_name(c.state),
            "Running": c.state == RunState::Running,
            "Paused": false,
            "Restarting": false,
            "OOMKilled": false,
            "Dead": false,
            "Pid": 0,
            "ExitCode": c.exit_code,
            "Error": "",
            "StartedAt": rfc3339(c.started_at),
            "FinishedAt": rfc3339(c.finished_at),
        },
        "Image": c.image,
        "Name": format!("/{}", c.name),
        "RestartCount": 0,
        "Driver": "fake",
        "Platform": "linux",
        "ExecIDs": if c.exec_ids.is_empty() { Value::Null } else { json!(c.exec_ids) },
        "HostConfig": c.host_config,
        "GraphDriver": {"Data": null, "Name": "fake"},
        "Mounts": [],
        "Config": {
            "Hostname": &c.id[..12],
            "Tty": c.tty,
            "Cmd": std::iter::once(&c.path).chain(&c.args).collect::<Vec<_>>(),
            "Image": c.image,
            "Labels": c.labels,
        },
        "NetworkSettings": {"Networks": {}},
    })
}

fn state_name(state: RunState) -> &'static str {
    match state {
        RunState::Created => "created",
        RunState::Running => "running",
        RunState::Exited => "exited",
    }
}

/// The `Status` column of `docker ps`, as dockerd words it.
fn status_text(c: &Container, now: SystemTime) -> String {
    let since = |t: Option<SystemTime>| human_duration(now.duration_since(t?).ok()?.as_secs());
    match c.state {
        RunState::Created => "Created".into(),
        RunState::Running => format!("Up {}", since(c.started_at).unwrap_or_default()),
        RunState::Exited => format!(
            "Exited ({}) {} ago",
            c.exit_code,
            since(c.finished_at).unwrap_or_default()
        ),
    }
}

/// Go's `units.HumanDuration` for the ranges a test session reaches.
fn human_duration(seconds: u64) -> Option<String> {
    Some(match seconds {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{seconds} seconds"),
        60..=119 => "About a minute".into(),
        120..=3599 => format!("{} minutes", seconds / 60),
        3600..=7199 => "About an hour".into(),
        _ => format!("{} hours", seconds / 3600),
    })
}

/// Go's `time.Time` JSON form; the zero time for "never", as dockerd shows it.
fn rfc3339(at: Option<SystemTime>) -> String {
    match at {
        Some(at) => OffsetDateTime::from(at)
            .format(&Rfc3339)
            .unwrap_or_else(|_| "0001-01-01T00:00:00Z".into()),
        None => "0001-01-01T00:00:00Z".into(),
    }
}

fn unix_seconds(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Go's `GOARCH` spelling of this machine's architecture.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// dockerd's `httputils.BoolValue`: anything but empty, `0`, `no`, `false` and `none` is true.
pub fn form_bool(value: &str) -> bool {
    !matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "no" | "false" | "none"
    )
}

/// A 64-hex-digit id like dockerd's, from the standard library's per-process random keys.
fn random_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    (0..4)
        .map(|_| {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u128(
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default(),
            );
            format!("{:016x}", hasher.finish())
        })
        .collect()
}

#[cfg(test)]
mod tests;
