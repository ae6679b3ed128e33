//! Broken plugins on `protocol::server` and the `AuthzPlugin` trait, each with one flaw
//! found in real authz plugins. All but [`AllowAll`] and [`DenyAll`] share one reasonable policy
//! ([`FlawedPolicy`]): refuse privileged containers and execs, dangerous capabilities, host
//! paths and host namespaces; each [`Flaw`] weakens exactly one part of it.

use protocol::body::{decode, ContainerCreate, ExecCreate, HostConfig, Mount, VolumeCreate};
use protocol::route;
use protocol::wire::{ActivateManifest, AuthzReply, AuthzRequest};
use protocol::AuthzPlugin;
use serde::Deserialize;

/// Allows every call: the plugin that is installed "to be filled in later".
#[derive(Debug, Default)]
pub struct AllowAll;

impl AuthzPlugin for AllowAll {
    fn authz_request(&self, _: &AuthzRequest) -> AuthzReply {
        AuthzReply::allow()
    }

    fn authz_response(&self, _: &AuthzRequest) -> AuthzReply {
        AuthzReply::allow()
    }
}

/// Refuses every call: safe, and useless; the replay group exists to catch it.
#[derive(Debug, Default)]
pub struct DenyAll;

impl AuthzPlugin for DenyAll {
    fn authz_request(&self, _: &AuthzRequest) -> AuthzReply {
        AuthzReply::deny("every call is refused")
    }

    fn authz_response(&self, _: &AuthzRequest) -> AuthzReply {
        AuthzReply::deny("every call is refused")
    }
}

/// The one thing a [`FlawedPolicy`] gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// Bodies read by a serde derive with Docker's exact field names: `privileged` and
    /// `hostconfig` go unseen although Go matches them.
    CaseSensitiveBody,
    /// Bodies read into a JSON map where the last of case-insensitively equal keys wins and
    /// repeated objects replace each other instead of merging as Go's do.
    LastWinsWithoutMerge,
    /// The route picked by a pattern over the raw `RequestUri`, so `containers%2Fcreate`
    /// is not seen as a create.
    PatternOverRawUri,
    /// A create with no body is allowed ("nothing to check"), though the daemon may simply
    /// not have forwarded it.
    EmptyBodyCreateAllowed,
    /// `POST /containers/{name}/exec` is never looked at.
    ExecPrivilegedUnchecked,
    /// Local volume driver options (`o=bind,device=/`) are never looked at.
    VolumeBindOptionsUnchecked,
    /// A call the policy cannot read is let through with the error in `Err` ("fail open,
    /// but say so"); dockerd ignores `Err` on HTTP 200 and runs the call.
    FailOpenWithErr,
    /// The Activate manifest says `AuthZ`, which dockerd does not take for `authz`.
    WrongImplements,
}

/// A reasonable host-escape policy with one [`Flaw`].
#[derive(Debug)]
pub struct FlawedPolicy {
    flaw: Flaw,
}

impl FlawedPolicy {
    /// The policy with `flaw`.
    pub fn new(flaw: Flaw) -> Self {
        FlawedPolicy { flaw }
    }

    fn has(&self, flaw: Flaw) -> bool {
        self.flaw == flaw
    }

    /// Which endpoint the call is, as this policy (mis)reads it.
    fn endpoint(&self, request: &AuthzRequest) -> Result<Endpoint, String> {
        if self.has(Flaw::PatternOverRawUri) {
            return Ok(endpoint_by_raw_pattern(&request.request_uri));
        }
        let route = route::parse(&request.request_method, &request.request_uri)
            .map_err(|e| e.to_string())?;
        Ok(match (route.method.as_str(), route.template) {
            ("POST", "/containers/create") => Endpoint::Create,
            ("POST", "/containers/{name}/exec") => Endpoint::Exec,
            ("POST", "/volumes/create") => Endpoint::VolumeCreate,
            _ => Endpoint::Other,
        })
    }

    fn read_create(&self, body: &[u8]) -> Result<HostConfig, String> {
        if self.has(Flaw::CaseSensitiveBody) {
            let create: ExactCreate = serde_json::from_slice(body).map_err(|e| e.to_string())?;
            return Ok(create.host_config.into_model());
        }
        if self.has(Flaw::LastWinsWithoutMerge) {
            let value: serde_json::Value =
                serde_json::from_slice(body).map_err(|e| e.to_string())?;
            return Ok(last_wins_host_config(&value));
        }
        decode::<ContainerCreate>(body)
            .map(|c| c.host_config)
            .map_err(|e| e.to_string())
    }

    fn judge_host_config(&self, host: &HostConfig) -> Option<String> {
        if host.privileged {
            return Some("privileged containers are not allowed".into());
        }
        let dangerous = [
            "ALL",
            "CAP_SYS_ADMIN",
            "CAP_SYS_PTRACE",
            "CAP_SYS_MODULE",
            "CAP_NET_ADMIN",
            "CAP_DAC_READ_SEARCH",
        ];
        if let Some(cap) = host
            .normalized_cap_add()
            .into_iter()
            .find(|c| dangerous.contains(&c.as_str()))
        {
            return Some(format!("capability {cap} is not allowed"));
        }
        match host.parsed_binds() {
            Err(e) => return Some(e.to_string()),
            Ok(binds) => {
                if let Some(bind) = binds.iter().find(|b| b.host_path) {
                    return Some(format!("host path {} is not allowed", bind.source));
                }
            }
        }
        let host_path = |m: &Mount| {
            if self.has(Flaw::VolumeBindOptionsUnchecked) && m.kind == "volume" {
                None
            } else {
                m.host_path()
            }
        };
        if let Some(path) = host.mounts.iter().find_map(host_path) {
            return Some(format!("host path {path} is not allowed"));
        }
        if host.pid_mode == "host" || host.network_mode == "host" {
            return Some("host namespaces are not allowed".into());
        }
        None
    }

    /// `Ok` to allow; why not otherwise.
    fn decide(&self, request: &AuthzRequest) -> Result<(), Refusal> {
        let endpoint = self.endpoint(request).map_err(Refusal::Unreadable)?;
        let body = &request.request_body;
        let dangerous =
            |reason: Option<String>| reason.map_or(Ok(()), |r| Err(Refusal::Dangerous(r)));
        let unreadable = |e: &dyn std::fmt::Display| Refusal::Unreadable(e.to_string());
        match endpoint {
            Endpoint::Other => Ok(()),
            Endpoint::Create if body.is_empty() && self.has(Flaw::EmptyBodyCreateAllowed) => Ok(()),
            Endpoint::Exec if self.has(Flaw::ExecPrivilegedUnchecked) => Ok(()),
            Endpoint::VolumeCreate if self.has(Flaw::VolumeBindOptionsUnchecked) => Ok(()),
            _ if body.is_empty() => Err(Refusal::Unreadable(
                "the daemon did not forward the body".into(),
            )),
            Endpoint::Create => {
                let host = self.read_create(body).map_err(|e| unreadable(&e))?;
                dangerous(self.judge_host_config(&host))
            }
            Endpoint::Exec => {
                let exec = decode::<ExecCreate>(body).map_err(|e| unreadable(&e))?;
                dangerous(
                    exec.privileged
                        .then(|| "privileged exec is not allowed".to_owned()),
                )
            }
            Endpoint::VolumeCreate => {
                let volume = decode::<VolumeCreate>(body).map_err(|e| unreadable(&e))?;
                dangerous(
                    volume
                        .host_path()
                        .map(|path| format!("volume bound to host path {path} is not allowed")),
                )
            }
        }
    }
}

/// Why a [`FlawedPolicy`] does not allow a call.
enum Refusal {
    /// The call asks for something the policy forbids.
    Dangerous(String),
    /// The policy could not read the call.
    Unreadable(String),
}

impl AuthzPlugin for FlawedPolicy {
    fn authz_request(&self, request: &AuthzRequest) -> AuthzReply {
        match self.decide(request) {
            Ok(()) => AuthzReply::allow(),
            Err(Refusal::Unreadable(error)) if self.has(Flaw::FailOpenWithErr) => AuthzReply {
                allow: true,
                msg: String::new(),
                err: error,
            },
            Err(Refusal::Dangerous(reason) | Refusal::Unreadable(reason)) => {
                AuthzReply::deny(reason)
            }
        }
    }

    fn authz_response(&self, _: &AuthzRequest) -> AuthzReply {
        AuthzReply::allow()
    }

    fn manifest(&self) -> ActivateManifest {
        if self.has(Flaw::WrongImplements) {
            ActivateManifest {
                implements: vec!["AuthZ".into()],
            }
        } else {
            ActivateManifest::authz()
        }
    }
}

/// The endpoints the policy looks into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Create,
    Exec,
    VolumeCreate,
    Other,
}

/// `^(/v[0-9.]+)?/containers/create(\?.*)?$` and friends, over the raw target.
fn endpoint_by_raw_pattern(uri: &str) -> Endpoint {
    let path = uri.split('?').next().unwrap_or_default();
    let path = match path.strip_prefix("/v") {
        Some(rest) => match rest.find('/') {
            Some(at) if rest[..at].chars().all(|c| c.is_ascii_digit() || c == '.') => &rest[at..],
            _ => path,
        },
        None => path,
    };
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["", "containers", "create"] => Endpoint::Create,
        ["", "containers", _, "exec"] => Endpoint::Exec,
        ["", "volumes", "create"] => Endpoint::VolumeCreate,
        _ => Endpoint::Other,
    }
}

/// A create body as a serde derive with exact names reads it.
#[derive(Deserialize)]
struct ExactCreate {
    #[serde(rename = "HostConfig", default)]
    host_config: ExactHostConfig,
}

#[derive(Deserialize, Default)]
struct ExactHostConfig {
    #[serde(rename = "Privileged", default)]
    privileged: bool,
    #[serde(rename = "CapAdd", default)]
    cap_add: Option<Vec<String>>,
    #[serde(rename = "Binds", default)]
    binds: Option<Vec<String>>,
    #[serde(rename = "PidMode", default)]
    pid_mode: String,
    #[serde(rename = "NetworkMode", default)]
    network_mode: String,
}

impl ExactHostConfig {
    fn into_model(self) -> HostConfig {
        HostConfig {
            privileged: self.privileged,
            cap_add: self.cap_add.unwrap_or_default(),
            binds: self.binds.unwrap_or_default(),
            pid_mode: self.pid_mode,
            network_mode: self.network_mode,
            ..HostConfig::default()
        }
    }
}

/// The last member whose key equals `name` ignoring ASCII case, in the map's order.
fn last_member<'v>(
    object: &'v serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<&'v serde_json::Value> {
    object
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn strings(value: Option<&serde_json::Value>) -> Vec<String> {
    value
        .and_then(|v| v.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A HostConfig read through a last-wins map, without Go's merge of repeated objects.
fn last_wins_host_config(body: &serde_json::Value) -> HostConfig {
    let empty = serde_json::Map::new();
    let top = body.as_object().unwrap_or(&empty);
    let host = last_member(top, "HostConfig")
        .and_then(|v| v.as_object())
        .unwrap_or(&empty);
    let text = |name| {
        last_member(host, name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    HostConfig {
        privileged: last_member(host, "Privileged")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        cap_add: strings(last_member(host, "CapAdd")),
        binds: strings(last_member(host, "Binds")),
        pid_mode: text("PidMode"),
        network_mode: text("NetworkMode"),
        ..HostConfig::default()
    }
}
