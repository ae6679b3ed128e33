//! The request-phase decision core: one `AuthZReq` message and a policy in, a [`Decision`]
//! out, with no I/O.
//!
//! Order: the caller's profile, the route as dockerd will route it, the profile's route
//! rules, then the host-escape rules on the body and query the daemon will act on. Nothing
//! here reads the raw URI or raw JSON: routes come from `protocol::route::parse` and bodies
//! from `protocol::body::decode`, and whatever they cannot read is refused.

use protocol::body::{
    decode, BodyError, ContainerCreate, ContainerUpdate, ExecCreate, HostConfig, NetworkCreate,
    PluginPrivilege, PluginSettings, ServiceSpec, VolumeCreate,
};
use protocol::route::{self, Route};
use protocol::AuthzRequest;

use crate::decision::{Decision, FieldLog};
use crate::escapes::{Checker, Denial};
use crate::ownership::{self, NothingOwned, OwnershipView};
use crate::policy::{Caller, Escapes, Policy, Profile, Verdict};
use crate::rules::{
    BODY_NOT_FORWARDED, BODY_UNREADABLE, DEFAULT, NO_FORM_BODY, NO_PLUGIN_PRIVILEGES, NO_PROFILE,
    ROUTE_UNPARSEABLE,
};

/// Largest old-API start body the daemon ignores: "a non-nil JSON object is at least 7
/// characters" (moby's postContainersStart).
const START_BODY_IGNORED_UP_TO: u64 = 7;

/// Decides the request phase of one API call with nothing recorded as owned (see
/// [`decide_with`]).
pub fn decide(policy: &Policy, request: &AuthzRequest) -> Decision {
    decide_with(policy, request, &NothingOwned)
}

/// Decides the request phase of one API call against the ownership record `owners`.
pub fn decide_with(
    policy: &Policy,
    request: &AuthzRequest,
    owners: &dyn OwnershipView,
) -> Decision {
    let mut log = FieldLog::default();
    let outcome = decide_logged(policy, request, owners, &mut log);
    let fields = log.into_fields();
    match outcome {
        Ok(rule) => Decision::allow(rule, fields),
        Err(refusal) => Decision::deny(refusal.rule, &refusal.what, &refusal.why, fields),
    }
}

/// A refusal by any rule, built-in or named in the policy.
struct Refusal {
    rule: String,
    what: String,
    why: String,
}

impl From<Denial> for Refusal {
    fn from(denial: Denial) -> Refusal {
        Refusal {
            rule: denial.rule.to_owned(),
            what: denial.what,
            why: denial.why,
        }
    }
}

fn refusal(rule: &str, what: impl Into<String>, why: impl Into<String>) -> Refusal {
    Refusal {
        rule: rule.to_owned(),
        what: what.into(),
        why: why.into(),
    }
}

/// The caller a request comes from: the TLS user name, or anonymous.
pub fn caller_of(request: &AuthzRequest) -> Caller<'_> {
    if request.user.is_empty() {
        Caller::Anonymous
    } else {
        Caller::User(&request.user)
    }
}

fn decide_logged(
    policy: &Policy,
    request: &AuthzRequest,
    owners: &dyn OwnershipView,
    log: &mut FieldLog,
) -> Result<String, Refusal> {
    let caller = caller_of(request);
    log.read("User", &request.user);
    let profile = policy.profile_for(caller).ok_or_else(|| {
        let who = match caller {
            Caller::Anonymous => "a call from an anonymous caller (no TLS identity)".to_owned(),
            Caller::User(name) => format!("a call from TLS user {name:?}"),
        };
        refusal(NO_PROFILE, who, "the policy has no profile for this caller")
    })?;
    log.read("profile", &profile.name);

    let route = route::parse(&request.request_method, &request.request_uri).map_err(|e| {
        refusal(
            ROUTE_UNPARSEABLE,
            format!("{} {}", request.request_method, request.request_uri),
            format!("it does not route the way it parses ({e})"),
        )
    })?;
    log.read("route.method", &route.method);
    log.read("route.template", route.template);
    log.read("route.version", &route.version);

    form_body(profile, request, log)?;
    let rule = route_rule(policy, profile, &route)?;
    escapes(&profile.escapes, &route, request, log)?;
    let call = ownership::enforce::Call {
        policy,
        profile,
        caller,
        route: &route,
        request,
    };
    ownership::enforce::enforce(&call, owners, log)?;
    Ok(rule)
}

fn media_type(request: &AuthzRequest) -> Option<String> {
    request.request_header("Content-Type").map(|value| {
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    })
}

/// Go's `r.FormValue`, which dockerd's handlers use for query parameters, also reads a
/// form-encoded body, and a `networkmode=host` there would be invisible to a plugin that only
/// sees the URI. No Docker client sends one, so it is refused outright.
fn form_body(profile: &Profile, request: &AuthzRequest, log: &mut FieldLog) -> Result<(), Refusal> {
    let media = media_type(request);
    log.read("RequestHeaders.Content-Type", &media);
    if media.as_deref() == Some("application/x-www-form-urlencoded")
        && profile.escapes.enforces(NO_FORM_BODY)
    {
        return Err(refusal(
            NO_FORM_BODY,
            "a form-encoded request body",
            "dockerd reads its fields as query parameters, but never forwards it to plugins",
        ));
    }
    Ok(())
}

fn route_rule(policy: &Policy, profile: &Profile, route: &Route) -> Result<String, Refusal> {
    let what = format!("{} {}", route.method, route.template);
    match profile
        .routes
        .iter()
        .find(|r| r.matches(&route.method, route.template))
    {
        Some(rule) if rule.verdict == Verdict::Allow => Ok(rule.name.clone()),
        Some(rule) => Err(refusal(&rule.name, what, rule.reason.clone())),
        None if policy.default_verdict() == Verdict::Allow => Ok(DEFAULT.to_owned()),
        None => Err(refusal(
            DEFAULT,
            what,
            format!("profile {:?} allows no such route", profile.name),
        )),
    }
}

/// The request bodies that can carry a host escape, by route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    ContainerCreate,
    ExecCreate,
    ContainerUpdate,
    /// A start on API < 1.24, where the daemon still applies a HostConfig body.
    OldApiStart,
    VolumeCreate,
    NetworkCreate,
    Service,
    PluginPrivileges,
    PluginSettings,
    /// `POST /plugins/create`: a tar archive, never forwarded to plugins.
    PluginArchive,
}

/// The route template with every parameter written `{}`, so parameter names do not matter.
fn shape(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

fn body_kind(route: &Route) -> Option<BodyKind> {
    if !route.method.eq_ignore_ascii_case("POST") {
        return None;
    }
    Some(match shape(route.template).as_str() {
        "/containers/create" => BodyKind::ContainerCreate,
        "/containers/{}/exec" => BodyKind::ExecCreate,
        "/containers/{}/update" => BodyKind::ContainerUpdate,
        "/containers/{}/start" if route.api_version_below("1.24") => BodyKind::OldApiStart,
        "/volumes/create" => BodyKind::VolumeCreate,
        "/networks/create" => BodyKind::NetworkCreate,
        "/services/create" | "/services/{}/update" => BodyKind::Service,
        "/plugins/pull" | "/plugins/{}/upgrade" => BodyKind::PluginPrivileges,
        "/plugins/{}/set" => BodyKind::PluginSettings,
        "/plugins/create" => BodyKind::PluginArchive,
        _ => return None,
    })
}

fn escapes(
    escapes: &Escapes,
    route: &Route,
    request: &AuthzRequest,
    log: &mut FieldLog,
) -> Result<(), Refusal> {
    let what = format!("{} {}", route.method, route.template);
    let mut checker = Checker::new(escapes, log);
    match shape(route.template).as_str() {
        "/build" => checker.build_query(route)?,
        "/containers/{}/start" => checker.start_query(route)?,
        _ => {}
    }
    let Some(kind) = body_kind(route) else {
        return Ok(());
    };
    let body = request.request_body.as_slice();
    if kind == BodyKind::PluginArchive {
        if escapes.enforces(NO_PLUGIN_PRIVILEGES) {
            return Err(refusal(
                NO_PLUGIN_PRIVILEGES,
                what,
                "the plugin archive (its config.json declares mounts, devices and capabilities) is never forwarded to authorization plugins, so it cannot be checked",
            ));
        }
        return Ok(());
    }
    if body.is_empty() {
        if kind == BodyKind::OldApiStart && start_body_ignored(request) {
            return Ok(());
        }
        if escapes.enforces(BODY_NOT_FORWARDED) {
            return Err(refusal(
                BODY_NOT_FORWARDED,
                format!("{what} without a request body"),
                not_forwarded_reason(request),
            ));
        }
        return Ok(());
    }
    let unreadable = |e: BodyError| {
        refusal(
            BODY_UNREADABLE,
            format!("the request body of {what}"),
            format!("dockerd would not read it as this plugin does: {e}"),
        )
    };
    match kind {
        BodyKind::ContainerCreate => {
            checker.container_create(&decode::<ContainerCreate>(body).map_err(unreadable)?)?
        }
        BodyKind::ExecCreate => {
            checker.exec_create(&decode::<ExecCreate>(body).map_err(unreadable)?)?
        }
        BodyKind::ContainerUpdate => {
            checker.container_update(&decode::<ContainerUpdate>(body).map_err(unreadable)?)?
        }
        BodyKind::OldApiStart => checker.host_config(
            "HostConfig",
            &decode::<HostConfig>(body).map_err(unreadable)?,
        )?,
        BodyKind::VolumeCreate => {
            checker.volume_create(&decode::<VolumeCreate>(body).map_err(unreadable)?)?
        }
        BodyKind::NetworkCreate => {
            decode::<NetworkCreate>(body).map_err(unreadable)?;
        }
        BodyKind::Service => checker.service(&decode::<ServiceSpec>(body).map_err(unreadable)?)?,
        BodyKind::PluginPrivileges => {
            checker.plugin_privileges(&decode::<Vec<PluginPrivilege>>(body).map_err(unreadable)?)?
        }
        BodyKind::PluginSettings => {
            checker.plugin_settings(&decode::<PluginSettings>(body).map_err(unreadable)?)?
        }
        BodyKind::PluginArchive => unreachable!("answered before the body is read"),
    }
    Ok(())
}

fn content_length(request: &AuthzRequest) -> Option<u64> {
    request
        .request_header("Content-Length")
        .and_then(|v| v.trim().parse().ok())
}

/// On API < 1.24 dockerd reads a start body only when its Content-Length is above 7 or
/// unknown (chunked); a known small length means there is no HostConfig to miss.
fn start_body_ignored(request: &AuthzRequest) -> bool {
    content_length(request).is_some_and(|n| n <= START_BODY_IGNORED_UP_TO)
}

fn not_forwarded_reason(request: &AuthzRequest) -> String {
    let cause = match content_length(request) {
        Some(n) if n >= 1 << 20 => format!(
            "its Content-Length is {n}, and bodies of 1 MiB or more reach plugins empty (CVE-2026-34040)"
        ),
        Some(n) if n > 0 => format!("its Content-Length is {n} but the daemon sent it empty"),
        _ => "chunked bodies reach older daemons' plugins empty (CVE-2024-41110) and large ones newer daemons' (CVE-2026-34040)".to_owned(),
    };
    format!("the daemon did not forward the body to the plugin, so it cannot be checked; {cause}")
}
