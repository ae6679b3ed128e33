//! The request mixes `bench` sends, built from real plugin-side captures of dockerd 20.10.
//!
//! A mix hands out numbered *units*: short sequences of plugin calls that must stay in order
//! on one connection (a create before its start, a request phase before its response phase).
//! Bodies are varied per unit so that no plugin can answer from a cache by accident, and
//! every call is serialised once, here, so the load loop only writes bytes.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::Deserialize;

use protocol::{AuthzRequest, Phase};

/// Why a mix could not be built.
#[derive(Debug, thiserror::Error)]
pub enum MixError {
    /// A capture file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A capture line is not `{"phase":...,"message":{...}}`.
    #[error("{path} line {line}: {source}")]
    Line {
        /// The capture file.
        path: PathBuf,
        /// One-based line number.
        line: usize,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// The captures lack a message this mix is built from.
    #[error("the captures hold no {0}")]
    Missing(String),
    /// A recorded body lacks a field the variation rewrites, or holds it more than once.
    #[error("recorded create body has {count} occurrences of {key}, expected one")]
    Template {
        /// The JSON key looked for.
        key: &'static str,
        /// How often it occurred.
        count: usize,
    },
}

/// One line of a plugin-side capture.
#[derive(Debug, Clone, Deserialize)]
pub struct Recorded {
    /// Which call the daemon made.
    pub phase: Phase,
    /// The object it sent.
    pub message: AuthzRequest,
}

/// One plugin call, serialised as the daemon would send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Which endpoint the call goes to.
    pub phase: Phase,
    /// The JSON envelope.
    pub envelope: Bytes,
}

impl Call {
    /// Serialises `message` for `phase`.
    pub fn new(phase: Phase, message: &AuthzRequest) -> Self {
        let envelope =
            serde_json::to_vec(message).expect("an AuthzRequest always serialises to JSON");
        Self {
            phase,
            envelope: Bytes::from(envelope),
        }
    }

    /// The message back, for tests and checks.
    pub fn message(&self) -> AuthzRequest {
        serde_json::from_slice(&self.envelope).expect("envelopes are serialised AuthzRequests")
    }
}

/// Reads one capture file (JSON Lines of [`Recorded`]).
pub fn read_capture(path: &Path) -> Result<Vec<Recorded>, MixError> {
    let text = fs::read_to_string(path).map_err(|source| MixError::Read {
        path: path.to_owned(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|source| MixError::Line {
                path: path.to_owned(),
                line: index + 1,
                source,
            })
        })
        .collect()
}

/// Reads every `*.jsonl` capture of a directory, sorted by file name.
pub fn read_capture_dir(dir: &Path) -> Result<Vec<(String, Vec<Recorded>)>, MixError> {
    let read_error = |source| MixError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if path.extension().is_some_and(|ext| ext == "jsonl") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((name, read_capture(&path)?))
        })
        .collect()
}

/// Which traffic to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MixKind {
    /// The recorded CLI workflow, command by command, cycled.
    Workflow,
    /// Container creates with varied CLI-28 bodies, each followed by its start.
    Create,
    /// Calls naming containers owned by TLS users, after teaching the plugin who owns which.
    Ownership,
}

/// A request mix, ready to hand out units.
#[derive(Debug, Clone)]
pub enum Mix {
    /// Each unit is one recorded CLI command's calls, in order.
    Workflow(Vec<Vec<Call>>),
    /// Each unit creates and starts one container.
    Create(CreateMix),
    /// Setup teaches owners; each unit is one call naming an owned container, both phases.
    Ownership(Box<OwnershipMix>),
}

impl Mix {
    /// Builds `kind` from the capture directory (holding `workflow/`). `salt` makes names and
    /// ids differ between runs; `owned` is how many containers the ownership mix teaches.
    pub fn build(kind: MixKind, captures: &Path, salt: u32, owned: u64) -> Result<Mix, MixError> {
        let workflow = read_capture_dir(&captures.join("workflow"))?;
        Ok(match kind {
            MixKind::Workflow => Mix::Workflow(workflow_units(&workflow)?),
            MixKind::Create => Mix::Create(CreateMix::from_captures(&workflow, salt)?),
            MixKind::Ownership => Mix::Ownership(Box::new(OwnershipMix::from_captures(
                &workflow, salt, owned,
            )?)),
        })
    }

    /// How many setup units must run, unmeasured, before the measured load.
    pub fn setup_units(&self) -> u64 {
        match self {
            Mix::Ownership(mix) => mix.owned,
            Mix::Workflow(_) | Mix::Create(_) => 0,
        }
    }

    /// Setup unit `k` (`k < setup_units()`).
    pub fn setup_unit(&self, k: u64) -> Vec<Call> {
        match self {
            Mix::Ownership(mix) => vec![mix.teach(k)],
            Mix::Workflow(_) | Mix::Create(_) => Vec::new(),
        }
    }

    /// Measured unit `k`; any `k` is valid, units repeat or vary as the mix says.
    pub fn unit(&self, k: u64) -> Vec<Call> {
        match self {
            Mix::Workflow(units) => units[(k % units.len() as u64) as usize].clone(),
            Mix::Create(mix) => mix.unit(k),
            Mix::Ownership(mix) => mix.unit(k),
        }
    }
}

fn workflow_units(workflow: &[(String, Vec<Recorded>)]) -> Result<Vec<Vec<Call>>, MixError> {
    let units: Vec<Vec<Call>> = workflow
        .iter()
        .filter(|(_, recorded)| !recorded.is_empty())
        .map(|(_, recorded)| {
            recorded
                .iter()
                .map(|r| Call::new(r.phase, &r.message))
                .collect()
        })
        .collect();
    if units.is_empty() {
        return Err(MixError::Missing("workflow captures".into()));
    }
    Ok(units)
}

/// A recorded create and start of one container, the pattern every create unit follows.
#[derive(Debug, Clone)]
struct CreateTemplate {
    create_request: AuthzRequest,
    create_response: AuthzRequest,
    start_request: AuthzRequest,
    start_response: AuthzRequest,
    body: String,
}

/// Creates and starts of containers with bodies as the docker CLI 28 sends them, each with its
/// own image, name, labels and environment.
#[derive(Debug, Clone)]
pub struct CreateMix {
    templates: Vec<CreateTemplate>,
    salt: u32,
}

impl CreateMix {
    fn from_captures(workflow: &[(String, Vec<Recorded>)], salt: u32) -> Result<Self, MixError> {
        let templates: Vec<CreateTemplate> = workflow
            .iter()
            .filter_map(|(_, recorded)| create_template(recorded))
            .collect::<Result<_, _>>()?;
        if templates.is_empty() {
            return Err(MixError::Missing(
                "container create followed by its start".into(),
            ));
        }
        Ok(Self { templates, salt })
    }

    /// Unit `k`: create request, create response (201 with the new id), start request,
    /// start response (204).
    pub fn unit(&self, k: u64) -> Vec<Call> {
        let template = &self.templates[(k % self.templates.len() as u64) as usize];
        let id = container_id(self.salt, k);
        let body = vary_create_body(&template.body, k)
            .expect("templates were checked to hold each varied key once")
            .into_bytes();
        let create_uri = format!("/v1.41/containers/create?name=bench-{:x}-c{k}", self.salt);
        let start_uri = format!("/v1.41/containers/{id}/start");

        let mut create_request = template.create_request.clone();
        create_request.request_uri.clone_from(&create_uri);
        create_request.request_body.clone_from(&body);
        set_content_length(&mut create_request, body.len());
        let mut create_response = template.create_response.clone();
        create_response.request_uri = create_uri;
        create_response.request_body = body.clone();
        set_content_length(&mut create_response, body.len());
        create_response.response_status_code = 201;
        create_response.response_body = format!(r#"{{"Id":"{id}","Warnings":[]}}"#).into_bytes();
        let mut start_request = template.start_request.clone();
        start_request.request_uri.clone_from(&start_uri);
        let mut start_response = template.start_response.clone();
        start_response.request_uri = start_uri;

        vec![
            Call::new(Phase::Request, &create_request),
            Call::new(Phase::Response, &create_response),
            Call::new(Phase::Request, &start_request),
            Call::new(Phase::Response, &start_response),
        ]
    }
}

fn set_content_length(message: &mut AuthzRequest, length: usize) {
    if let Some(value) = message.request_headers.get_mut("Content-Length") {
        *value = length.to_string();
    }
}

/// Finds, in one recorded command, a create with a body, its response, and the start of the
/// container it created (both phases). `None` when the command has no such sequence.
fn create_template(recorded: &[Recorded]) -> Option<Result<CreateTemplate, MixError>> {
    let is_create = |r: &&Recorded| {
        r.message.request_method == "POST"
            && r.message.request_uri.contains("/containers/create")
            && !r.message.request_body.is_empty()
    };
    let create_request = recorded
        .iter()
        .filter(|r| r.phase == Phase::Request)
        .find(is_create)?;
    let create_response = recorded
        .iter()
        .filter(|r| r.phase == Phase::Response && r.message.response_status_code == 201)
        .find(is_create)?;
    let created: serde_json::Value =
        serde_json::from_slice(&create_response.message.response_body).ok()?;
    let id = created.get("Id")?.as_str()?;
    let start_path = format!("/containers/{id}/start");
    let start = |phase: Phase| {
        recorded
            .iter()
            .find(|r| r.phase == phase && r.message.request_uri.ends_with(&start_path))
    };
    let (start_request, start_response) = (start(Phase::Request)?, start(Phase::Response)?);
    let body = String::from_utf8(create_request.message.request_body.clone()).ok()?;
    if let Err(error) = vary_create_body(&body, 0) {
        return Some(Err(error));
    }
    Some(Ok(CreateTemplate {
        create_request: create_request.message.clone(),
        create_response: create_response.message.clone(),
        start_request: start_request.message.clone(),
        start_response: start_response.message.clone(),
        body,
    }))
}

/// Rewrites a recorded create body for unit `k`: its own image reference, two labels and two
/// environment variables, keeping every other byte as the CLI sent it.
pub fn vary_create_body(body: &str, k: u64) -> Result<String, MixError> {
    let image = format!(
        "registry.example:5000/team-{}/app-{}:v{}",
        k % 17,
        k % 101,
        k % 13
    );
    let labels = format!(
        r#""com.example.bench.seq":"{k}","com.example.team":"t{}""#,
        k % 17
    );
    let env = format!(r#""BENCH_SEQ={k}","APP_MODE=m{}""#, k % 5);
    let body = replace_string_value(body, "\"Image\":", &image)?;
    let body = extend_container(&body, "\"Labels\":", '{', '}', &labels)?;
    extend_container(&body, "\"Env\":", '[', ']', &env)
}

fn only_occurrence(body: &str, key: &'static str) -> Result<usize, MixError> {
    let count = body.matches(key).count();
    if count != 1 {
        return Err(MixError::Template { key, count });
    }
    Ok(body.find(key).expect("counted once"))
}

/// Replaces the string value of `key` (which must occur once and hold a plain string).
fn replace_string_value(body: &str, key: &'static str, value: &str) -> Result<String, MixError> {
    let start = only_occurrence(body, key)? + key.len();
    let malformed = MixError::Template { key, count: 0 };
    let rest = body[start..].strip_prefix('"').ok_or(malformed)?;
    let end = rest.find('"').ok_or(MixError::Template { key, count: 0 })?;
    let quoted = serde_json::to_string(value).expect("strings serialise");
    Ok(format!("{}{}{}", &body[..start], quoted, &rest[end + 1..]))
}

/// Adds `members` at the front of the object or list under `key`, turning a `null` into one.
fn extend_container(
    body: &str,
    key: &'static str,
    open: char,
    close: char,
    members: &str,
) -> Result<String, MixError> {
    let start = only_occurrence(body, key)? + key.len();
    let rest = &body[start..];
    let (head, tail) = if let Some(tail) = rest.strip_prefix("null") {
        (format!("{open}{members}{close}"), tail)
    } else if let Some(tail) = rest.strip_prefix(open) {
        let separator = if tail.starts_with(close) { "" } else { "," };
        (format!("{open}{members}{separator}"), tail)
    } else {
        return Err(MixError::Template { key, count: 0 });
    };
    Ok(format!("{}{head}{tail}", &body[..start]))
}

/// A 64-hex container id for unit `k` of a run, as unique as the (salt, k) pair.
pub fn container_id(salt: u32, k: u64) -> String {
    let mut state = (u64::from(salt) << 32) ^ k;
    (0..4)
        .map(|_| format!("{:016x}", splitmix64(&mut state)))
        .collect()
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How many distinct TLS users own the taught containers.
pub const OWNERS: u64 = 100;

/// How a call names its container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// The full 64-hex id.
    Id,
    /// The first 12 hex digits, as `docker ps` shows them.
    IdPrefix,
    /// The name given at create.
    Name,
}

/// One recorded call naming a container (both phases) and the reference it recorded.
#[derive(Debug, Clone)]
struct NamingTemplate {
    request: AuthzRequest,
    response: AuthzRequest,
    recorded_reference: String,
}

/// Teaches owned containers (create responses by TLS users), then sends exec create, logs,
/// inspect and stop on them by their owners, naming them by id, id prefix and name in turn.
#[derive(Debug, Clone)]
pub struct OwnershipMix {
    create: CreateTemplate,
    naming: Vec<NamingTemplate>,
    salt: u32,
    owned: u64,
}

impl OwnershipMix {
    fn from_captures(
        workflow: &[(String, Vec<Recorded>)],
        salt: u32,
        owned: u64,
    ) -> Result<Self, MixError> {
        let create = workflow
            .iter()
            .filter_map(|(_, recorded)| create_template(recorded))
            .next()
            .ok_or_else(|| MixError::Missing("container create followed by its start".into()))??;
        let naming = [
            ("POST", "/exec"),
            ("GET", "/logs"),
            ("GET", "/json"),
            ("POST", "/stop"),
        ]
        .into_iter()
        .map(|(method, action)| naming_template(workflow, method, action))
        .collect::<Result<_, _>>()?;
        Ok(Self {
            create,
            naming,
            salt,
            owned: owned.max(1),
        })
    }

    /// The TLS user owning container `c`.
    pub fn owner(c: u64) -> String {
        format!("bench-owner-{}", c % OWNERS)
    }

    /// The name container `c` was created with.
    pub fn name(&self, c: u64) -> String {
        format!("bench-{:x}-o{c}", self.salt)
    }

    /// The id container `c` was created with.
    pub fn id(&self, c: u64) -> String {
        container_id(self.salt ^ 0x5a5a_5a5a, c)
    }

    /// Setup call `c`: the response phase of `POST /containers/create?name=...` by its
    /// owner over TLS, status 201 with the new id.
    pub fn teach(&self, c: u64) -> Call {
        let body = vary_create_body(&self.create.body, c)
            .expect("templates were checked to hold each varied key once")
            .into_bytes();
        let mut message = self.create.create_response.clone();
        set_user(&mut message, &Self::owner(c));
        message.request_uri = format!("/v1.41/containers/create?name={}", self.name(c));
        set_content_length(&mut message, body.len());
        message.request_body = body;
        message.response_status_code = 201;
        message.response_body = format!(r#"{{"Id":"{}","Warnings":[]}}"#, self.id(c)).into_bytes();
        Call::new(Phase::Response, &message)
    }

    /// Which container, call and reference unit `k` uses.
    pub fn pick(&self, k: u64) -> (u64, usize, Reference) {
        let mut state = k;
        let container = splitmix64(&mut state) % self.owned;
        let action = (k % self.naming.len() as u64) as usize;
        let reference = match (k / self.naming.len() as u64) % 3 {
            0 => Reference::Id,
            1 => Reference::IdPrefix,
            _ => Reference::Name,
        };
        (container, action, reference)
    }

    /// Unit `k`: one call naming an owned container, request then response phase.
    pub fn unit(&self, k: u64) -> Vec<Call> {
        let (container, action, reference) = self.pick(k);
        let template = &self.naming[action];
        let named = match reference {
            Reference::Id => self.id(container),
            Reference::IdPrefix => self.id(container)[..12].to_owned(),
            Reference::Name => self.name(container),
        };
        let from = format!("/containers/{}/", template.recorded_reference);
        let to = format!("/containers/{named}/");
        let owner = Self::owner(container);
        [
            (Phase::Request, &template.request),
            (Phase::Response, &template.response),
        ]
        .into_iter()
        .map(|(phase, recorded)| {
            let mut message = recorded.clone();
            set_user(&mut message, &owner);
            message.request_uri = message.request_uri.replacen(&from, &to, 1);
            Call::new(phase, &message)
        })
        .collect()
    }
}

fn set_user(message: &mut AuthzRequest, user: &str) {
    user.clone_into(&mut message.user);
    "TLS".clone_into(&mut message.user_authn_method);
}

/// The first recorded `method .../containers/{ref}{action}...` call with both phases.
fn naming_template(
    workflow: &[(String, Vec<Recorded>)],
    method: &str,
    action: &str,
) -> Result<NamingTemplate, MixError> {
    let reference_of = |message: &AuthzRequest| -> Option<String> {
        if message.request_method != method {
            return None;
        }
        let path = message.request_uri.split('?').next()?;
        let rest = &path[path.find("/containers/")? + "/containers/".len()..];
        let (reference, tail) = rest.split_once('/')?;
        (format!("/{tail}") == action).then(|| reference.to_owned())
    };
    for (_, recorded) in workflow {
        let Some((request, reference)) = recorded
            .iter()
            .filter(|r| r.phase == Phase::Request)
            .find_map(|r| reference_of(&r.message).map(|reference| (r, reference)))
        else {
            continue;
        };
        let response = recorded.iter().find(|r| {
            r.phase == Phase::Response && r.message.request_uri == request.message.request_uri
        });
        if let Some(response) = response {
            return Ok(NamingTemplate {
                request: request.message.clone(),
                response: response.message.clone(),
                recorded_reference: reference,
            });
        }
    }
    Err(MixError::Missing(format!(
        "{method} /containers/{{ref}}{action} with both phases"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn captures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../captures")
    }

    fn build(kind: MixKind) -> Mix {
        Mix::build(kind, &captures(), 7, 1000).expect("the repository's captures build every mix")
    }

    fn decoded_body(call: &Call) -> serde_json::Value {
        serde_json::from_slice(&call.message().request_body).expect("varied bodies stay JSON")
    }

    #[test]
    fn workflow_mix_replays_every_recorded_message_in_order() {
        let Mix::Workflow(units) = build(MixKind::Workflow) else {
            panic!("workflow kind builds a workflow mix");
        };
        let recorded = read_capture_dir(&captures().join("workflow")).unwrap();
        assert_eq!(units.len(), recorded.len());
        for (unit, (name, messages)) in units.iter().zip(&recorded) {
            let sent: Vec<(Phase, AuthzRequest)> =
                unit.iter().map(|c| (c.phase, c.message())).collect();
            let expected: Vec<(Phase, AuthzRequest)> = messages
                .iter()
                .map(|r| (r.phase, r.message.clone()))
                .collect();
            assert_eq!(sent, expected, "{name}");
        }
    }

    #[test]
    fn workflow_mix_cycles_after_the_last_command() {
        let mix = build(MixKind::Workflow);
        let Mix::Workflow(units) = &mix else {
            unreachable!()
        };
        assert_eq!(mix.unit(units.len() as u64), mix.unit(0));
        assert_eq!(mix.setup_units(), 0);
    }

    #[test]
    fn create_unit_is_create_then_its_start_in_both_phases() {
        let unit = build(MixKind::Create).unit(3);
        let messages: Vec<(Phase, AuthzRequest)> =
            unit.iter().map(|c| (c.phase, c.message())).collect();
        let phases: Vec<Phase> = messages.iter().map(|(p, _)| *p).collect();
        assert_eq!(
            phases,
            [
                Phase::Request,
                Phase::Response,
                Phase::Request,
                Phase::Response
            ]
        );
        let id = container_id(7, 3);
        assert!(messages[0]
            .1
            .request_uri
            .starts_with("/v1.41/containers/create?name=bench-"));
        assert_eq!(messages[1].1.response_status_code, 201);
        let created: serde_json::Value =
            serde_json::from_slice(&messages[1].1.response_body).unwrap();
        assert_eq!(created["Id"], id.as_str());
        assert_eq!(
            messages[2].1.request_uri,
            format!("/v1.41/containers/{id}/start")
        );
        assert_eq!(messages[3].1.response_status_code, 204);
    }

    #[test]
    fn create_bodies_are_the_cli_body_with_image_labels_and_env_varied() {
        let mix = build(MixKind::Create);
        let first = decoded_body(&mix.unit(0)[0]);
        let second = decoded_body(&mix.unit(1)[0]);
        assert_ne!(first["Image"], second["Image"]);
        assert_eq!(first["Labels"]["com.example.bench.seq"], "0");
        assert_eq!(second["Env"][0], "BENCH_SEQ=1");
        assert_eq!(first["HostConfig"]["NetworkMode"], "default");
        assert_eq!(first["HostConfig"]["Privileged"], false);
    }

    #[test]
    fn create_content_length_header_matches_the_varied_body() {
        let request = build(MixKind::Create).unit(12345)[0].message();
        assert_eq!(
            request.request_header("Content-Length"),
            Some(request.request_body.len().to_string().as_str())
        );
    }

    #[test]
    fn create_units_never_repeat_a_body_name_or_id() {
        let mix = build(MixKind::Create);
        let mut seen = HashSet::new();
        for k in 0..500 {
            let unit = mix.unit(k);
            assert!(
                seen.insert(unit[0].envelope.clone()),
                "unit {k} repeats a create"
            );
            assert!(
                seen.insert(unit[2].envelope.clone()),
                "unit {k} repeats a start"
            );
        }
    }

    #[test]
    fn variation_turns_null_env_into_a_list_and_extends_existing_labels() {
        let body = r#"{"Env":null,"Image":"a","Labels":{"x":"y"}}"#;
        let varied: serde_json::Value =
            serde_json::from_str(&vary_create_body(body, 4).unwrap()).unwrap();
        assert_eq!(varied["Env"][0], "BENCH_SEQ=4");
        assert_eq!(varied["Labels"]["x"], "y");
        assert_eq!(varied["Labels"]["com.example.bench.seq"], "4");
    }

    #[test]
    fn variation_refuses_a_body_holding_a_key_twice() {
        let body = r#"{"Env":null,"Image":"a","Labels":{},"Image":"b"}"#;
        assert!(matches!(
            vary_create_body(body, 0),
            Err(MixError::Template {
                key: "\"Image\":",
                count: 2
            })
        ));
    }

    #[test]
    fn container_ids_are_64_lower_hex_and_distinct() {
        let ids: HashSet<String> = (0..10_000).map(|k| container_id(1, k)).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|id| id.len() == 64
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())));
    }

    #[test]
    fn ownership_setup_teaches_each_container_to_its_tls_owner() {
        let mix = build(MixKind::Ownership);
        assert_eq!(mix.setup_units(), 1000);
        let Mix::Ownership(ownership) = &mix else {
            unreachable!()
        };
        let unit = mix.setup_unit(42);
        assert_eq!(unit.len(), 1);
        assert_eq!(unit[0].phase, Phase::Response);
        let message = unit[0].message();
        assert_eq!(message.user, "bench-owner-42");
        assert_eq!(message.user_authn_method, "TLS");
        assert_eq!(message.request_method, "POST");
        assert_eq!(
            message.request_uri,
            format!("/v1.41/containers/create?name={}", ownership.name(42))
        );
        assert_eq!(message.response_status_code, 201);
        let created: serde_json::Value = serde_json::from_slice(&message.response_body).unwrap();
        assert_eq!(created["Id"], ownership.id(42).as_str());
    }

    #[test]
    fn ownership_units_name_owned_containers_by_their_owners_every_way() {
        let Mix::Ownership(mix) = build(MixKind::Ownership) else {
            unreachable!()
        };
        let mut actions = HashSet::new();
        let mut references = HashSet::new();
        for k in 0..24 {
            let (container, action, reference) = mix.pick(k);
            assert!(container < 1000);
            actions.insert(action);
            references.insert(format!("{reference:?}"));
            let named = match reference {
                Reference::Id => mix.id(container),
                Reference::IdPrefix => mix.id(container)[..12].to_owned(),
                Reference::Name => mix.name(container),
            };
            let unit = mix.unit(k);
            assert_eq!(
                unit.iter().map(|c| c.phase).collect::<Vec<_>>(),
                [Phase::Request, Phase::Response]
            );
            for call in &unit {
                let message = call.message();
                assert_eq!(message.user, OwnershipMix::owner(container));
                assert!(
                    message
                        .request_uri
                        .contains(&format!("/containers/{named}/")),
                    "{} does not name {named}",
                    message.request_uri
                );
            }
        }
        assert_eq!(actions.len(), 4, "exec create, logs, inspect and stop");
        assert_eq!(references.len(), 3, "id, id prefix and name");
    }

    #[test]
    fn ownership_calls_are_exec_create_logs_inspect_and_stop() {
        let Mix::Ownership(mix) = build(MixKind::Ownership) else {
            unreachable!()
        };
        let endpoints: HashSet<(String, String)> = (0..4)
            .map(|k| {
                let message = mix.unit(k)[0].message();
                let path = message.request_uri.split('?').next().unwrap().to_owned();
                let action = path.rsplit('/').next().unwrap().to_owned();
                (message.request_method, action)
            })
            .collect();
        let expected: HashSet<(String, String)> = [
            ("POST", "exec"),
            ("GET", "logs"),
            ("GET", "json"),
            ("POST", "stop"),
        ]
        .into_iter()
        .map(|(m, a)| (m.to_owned(), a.to_owned()))
        .collect();
        assert_eq!(endpoints, expected);
    }
}
