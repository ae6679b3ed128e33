//! Broken plugins on `protocol::server` and the `AuthzPlugin` trait, each with one flaw
//! found in real authz plugins. All but [`AllowAll`] and [`DenyAll`] share one reasonable policy
//! ([`FlawedPolicy`]): refuse privileged containers and execs, dangerous capabilities, host
//! paths and host namespaces; each [`Flaw`] weakens exactly one part of it.

use std::collections::BTreeMap;

use protocol::body::{
    decode, ContainerCreate, ExecCreate, HostConfig, Mount, ServiceSpec, VolumeCreate,
};
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
    /// Local volume driver options are refused only when `o` binds, as if binding were the
    /// only way out: `type=ext4,device=/dev/vda` or `type=proc` pass.
    LocalDriverBindOnly,
    /// The body is read only when `Content-Type` is exactly `application/json`; any other
    /// create is judged without one and passes (what opa-docker-authz's input gives a Rego
    /// policy).
    BodyOnlyForExactJson,
    /// The route picked by a pattern over the whole `RequestUri`, query included, so
    /// `/containers/create?name=web` is not seen as a create (a Rego policy comparing
    /// `input.Path`).
    PatternWithQuery,
    /// A build's Content-Type lower-cased as ASCII before it is compared with the form media
    /// types, where Go lower-cases `İ` to `i`.
    AsciiMediaType,
    /// A service's network target is refused only when it is spelled `host`, though the
    /// daemon resolves ids and id prefixes too.
    ServiceNetworkByNameOnly,
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
            let path = request.request_uri.split('?').next().unwrap_or_default();
            return Ok(endpoint_by_raw_pattern(path));
        }
        if self.has(Flaw::PatternWithQuery) {
            return Ok(endpoint_by_raw_pattern(&request.request_uri));
        }
        let route = route::parse(&request.request_method, &request.request_uri)
            .map_err(|e| e.to_string())?;
        Ok(match (route.method.as_str(), route.template) {
            ("POST", "/containers/create") => Endpoint::Create,
            ("POST", "/containers/{name}/exec") => Endpoint::Exec,
            ("POST", "/volumes/create") => Endpoint::VolumeCreate,
            ("POST", "/build") => Endpoint::Build,
            ("POST", "/services/create") => Endpoint::ServiceCreate,
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
        if let Some(refusal) = host.mounts.iter().find_map(|m| self.judge_mount(m)) {
            return Some(refusal);
        }
        if host.pid_mode == "host" || host.network_mode == "host" {
            return Some("host namespaces are not allowed".into());
        }
        None
    }

    fn judge_mount(&self, mount: &Mount) -> Option<String> {
        match mount.kind.as_str() {
            "bind" => mount
                .host_path()
                .map(|path| format!("host path {path} is not allowed")),
            "volume" => {
                let driver = mount
                    .volume_options
                    .as_ref()
                    .and_then(|options| options.driver_config.as_ref())?;
                self.judge_local_driver(&driver.name, &driver.options)
            }
            _ => None,
        }
    }

    /// Local volume driver options go to mount(2) on the host; none are allowed.
    fn judge_local_driver(
        &self,
        driver: &str,
        options: &BTreeMap<String, String>,
    ) -> Option<String> {
        let local = driver.is_empty() || driver == "local";
        if !local || options.is_empty() || self.has(Flaw::VolumeBindOptionsUnchecked) {
            return None;
        }
        if self.has(Flaw::LocalDriverBindOnly) {
            let binds = options
                .get("o")
                .is_some_and(|o| o.split(',').any(|o| o == "bind" || o == "rbind"));
            return binds.then(|| "local volumes bound to host paths are not allowed".to_owned());
        }
        Some("local volume driver options are not allowed".to_owned())
    }

    fn judge_build(&self, request: &AuthzRequest) -> Option<String> {
        let query = request.request_uri.split_once('?').map(|(_, q)| q);
        let host_network = query.is_some_and(|q| {
            q.split('&')
                .any(|pair| pair.eq_ignore_ascii_case("networkmode=host"))
        });
        if host_network {
            return Some("builds on the host network are not allowed".to_owned());
        }
        let content_type = request
            .request_headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            .map(|(_, value)| value.as_str())
            .unwrap_or_default();
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        let media_type = if self.has(Flaw::AsciiMediaType) {
            media_type.to_ascii_lowercase()
        } else {
            go_to_lower(media_type)
        };
        matches!(
            media_type.as_str(),
            "application/x-www-form-urlencoded" | "multipart/form-data"
        )
        .then(|| "build options in a form body are not allowed".to_owned())
    }

    fn judge_service(&self, service: &ServiceSpec) -> Option<String> {
        let may_be_host = |target: &String| {
            target == "host"
                || (!self.has(Flaw::ServiceNetworkByNameOnly)
                    && !target.is_empty()
                    && target.chars().all(|c| c.is_ascii_hexdigit()))
        };
        if let Some(target) = service.networks.iter().find(|t| may_be_host(t)) {
            return Some(format!("network {target} may be the host network"));
        }
        service
            .container_spec
            .mounts
            .iter()
            .find_map(|m| self.judge_mount(m))
    }

    /// `Ok` to allow; why not otherwise.
    fn decide(&self, request: &AuthzRequest) -> Result<(), Refusal> {
        let endpoint = self.endpoint(request).map_err(Refusal::Unreadable)?;
        let body = &request.request_body;
        let dangerous =
            |reason: Option<String>| reason.map_or(Ok(()), |r| Err(Refusal::Dangerous(r)));
        let unreadable = |e: &dyn std::fmt::Display| Refusal::Unreadable(e.to_string());
        let exact_json = request.request_headers.iter().any(|(name, value)| {
            name.eq_ignore_ascii_case("content-type") && value == "application/json"
        });
        match endpoint {
            Endpoint::Other => Ok(()),
            Endpoint::Build => dangerous(self.judge_build(request)),
            Endpoint::Create if self.has(Flaw::BodyOnlyForExactJson) && !exact_json => Ok(()),
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
                dangerous(self.judge_local_driver(&volume.driver, &volume.driver_opts))
            }
            Endpoint::ServiceCreate => {
                let service = decode::<ServiceSpec>(body).map_err(|e| unreadable(&e))?;
                dangerous(self.judge_service(&service))
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
    Build,
    ServiceCreate,
    Other,
}

/// `^(/v[0-9.]+)?/containers/create$` and friends, over the raw target as given.
fn endpoint_by_raw_pattern(path: &str) -> Endpoint {
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
        ["", "build"] => Endpoint::Build,
        ["", "services", "create"] => Endpoint::ServiceCreate,
        _ => Endpoint::Other,
    }
}

/// Go's `strings.ToLower`: the simple lower-case mapping of each character, which takes `İ`
/// (U+0130) to `i` where Rust's full mapping gives `i` and a combining dot.
fn go_to_lower(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '\u{130}' => 'i'.to_lowercase(),
            c => c.to_lowercase(),
        })
        .collect()
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
