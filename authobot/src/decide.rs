//! The request-phase decision core: one `AuthZReq` message and a policy in, a [`Decision`]
//! out, with no I/O.
//!
//! Order: the caller's profile, the route as dockerd will route it, the profile's route
//! rules, then the host-escape rules on the body and query the daemon will act on. Nothing
//! here reads the raw URI or raw JSON: routes come from `protocol::route::parse` and bodies
//! from `protocol::body::decode`, and whatever they cannot read is refused.

use std::borrow::Cow;

use protocol::body::{
    decode, BodyError, ContainerCreate, ContainerUpdate, ExecCreate, HostConfig, NetworkCreate,
    PluginPrivilege, PluginSettings, ServiceSpec, VolumeCreate,
};
use protocol::route::{self, Route};
use protocol::AuthzRequest;

use crate::decision::{Decision, FieldLog, RegoTrace, Routed};
use crate::escapes::{Checker, Denial};
use crate::ownership::enforce::Decoded;
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

/// Decides the request phase of one API call against the ownership record `owners`,
/// keeping the canonical fields read (for `explain` and tests).
pub fn decide_with(
    policy: &Policy,
    request: &AuthzRequest,
    owners: &dyn OwnershipView,
) -> Decision {
    decide_into(policy, request, owners, FieldLog::recording())
}

/// The same decision as [`decide_with`] with no field kept: what `serve` runs, where
/// nobody reads the fields and recording them was a tenth of the decision's cost.
pub fn decide_unexplained(
    policy: &Policy,
    request: &AuthzRequest,
    owners: &dyn OwnershipView,
) -> Decision {
    decide_into(policy, request, owners, FieldLog::off())
}

fn decide_into(
    policy: &Policy,
    request: &AuthzRequest,
    owners: &dyn OwnershipView,
    mut log: FieldLog,
) -> Decision {
    let mut routed = None;
    let mut rego = None;
    let outcome = decide_logged(policy, request, owners, &mut log, &mut routed, &mut rego);
    let fields = log.into_fields();
    let mut decision = match outcome {
        Ok(rule) => Decision::allow(rule, fields),
        Err(refusal) => Decision::deny(refusal.rule, &refusal.what, &refusal.why, fields),
    };
    decision.route = routed.map(|route: Route| Box::new(Routed::from(route)));
    decision.rego = rego.map(Box::new);
    decision
}

/// A refusal by any rule, built-in or named in the policy.
pub(crate) struct Refusal {
    rule: Cow<'static, str>,
    what: String,
    why: String,
}

impl From<Denial> for Refusal {
    fn from(denial: Denial) -> Refusal {
        Refusal {
            rule: Cow::Borrowed(denial.rule),
            what: denial.what,
            why: denial.why,
        }
    }
}

pub(crate) fn refusal(
    rule: impl Into<Cow<'static, str>>,
    what: impl Into<String>,
    why: impl Into<String>,
) -> Refusal {
    Refusal {
        rule: rule.into(),
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
    routed: &mut Option<Route>,
    rego: &mut Option<RegoTrace>,
) -> Result<Cow<'static, str>, Refusal> {
    // A Rego policy on its own: the guards and the query decide, no profile is asked.
    if let Some(policy) = policy.rego().filter(|r| !r.options().builtin_rules) {
        let route: &Route = routed.insert(routed_as_dockerd_will(request)?);
        return crate::rego::decide::decide(policy, request, route, log, rego);
    }
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

    // Kept for the audit line; every later step still sees the same route.
    let route: &Route = routed.insert(routed_as_dockerd_will(request)?);
    log.read("route.method", &route.method);
    log.read("route.template", route.template);
    log.read("route.version", &route.version);

    form_body(profile, request, log)?;
    let rule = route_rule(policy, profile, route)?;
    let body = escapes(&profile.escapes, route, request, log)?;
    let call = ownership::enforce::Call {
        policy,
        profile,
        caller,
        route,
        request,
        body: &body,
    };
    ownership::enforce::enforce(&call, owners, log)?;
    // A Rego policy after authobot's own rules: it sees only what they allowed.
    if let Some(policy) = policy.rego() {
        return crate::rego::decide::decide(policy, request, route, log, rego);
    }
    Ok(rule)
}

/// The route dockerd will run for `request`, or the refusal of a target that does not route
/// the way it parses.
fn routed_as_dockerd_will(request: &AuthzRequest) -> Result<Route, Refusal> {
    route::parse(&request.request_method, &request.request_uri).map_err(|e| {
        refusal(
            ROUTE_UNPARSEABLE,
            format!("{} {}", request.request_method, request.request_uri),
            format!("it does not route the way it parses ({e})"),
        )
    })
}

/// The media type of the Content-Type header, parameters and spaces cut off, as sent (it
/// is compared case-insensitively).
pub(crate) fn media_type(request: &AuthzRequest) -> Option<&str> {
    request
        .request_header("Content-Type")
        .map(|value| value.split(';').next().unwrap_or_default().trim())
}

/// Go's `r.FormValue`, which dockerd's handlers use for query parameters, also reads a
/// form-encoded body, and a `networkmode=host` there would be invisible to a plugin that only
/// sees the URI. No Docker client sends one, so it is refused outright.
fn form_body(profile: &Profile, request: &AuthzRequest, log: &mut FieldLog) -> Result<(), Refusal> {
    let media = media_type(request);
    if log.is_recording() {
        log.read(
            "RequestHeaders.Content-Type",
            media.map(str::to_ascii_lowercase),
        );
    }
    if media.is_some_and(|m| m.eq_ignore_ascii_case("application/x-www-form-urlencoded"))
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

/// `POST /containers/create`: what a refusal of the whole route names.
pub(crate) fn route_what(route: &Route) -> String {
    format!("{} {}", route.method, route.template)
}

fn route_rule(
    policy: &Policy,
    profile: &Profile,
    route: &Route,
) -> Result<Cow<'static, str>, Refusal> {
    match profile
        .routes
        .iter()
        .find(|r| r.matches(&route.method, route.template))
    {
        Some(rule) if rule.verdict == Verdict::Allow => Ok(Cow::Owned(rule.name.clone())),
        Some(rule) => Err(refusal(
            rule.name.clone(),
            route_what(route),
            rule.reason.clone(),
        )),
        None if policy.default_verdict() == Verdict::Allow => Ok(Cow::Borrowed(DEFAULT)),
        None => Err(refusal(
            DEFAULT,
            route_what(route),
            format!("profile {:?} allows no such route", profile.name),
        )),
    }
}

/// The request bodies that can carry a host escape, by route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
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

/// Whether a route template has `shape`, where a `{}` segment of the shape stands for any
/// parameter segment (one starting with `{`), so parameter names do not matter. Compared
/// byte by byte: it runs for up to a dozen shapes on every call.
fn has_shape(template: &str, shape: &str) -> bool {
    let (mut template, mut shape) = (template.as_bytes(), shape.as_bytes());
    let mut segment_start = false;
    loop {
        match (template.first(), shape.first()) {
            (None, None) => return true,
            (Some(b'{'), Some(b'{'))
                if segment_start && matches!(shape, [b'{', b'}'] | [b'{', b'}', b'/', ..]) =>
            {
                let end = template
                    .iter()
                    .position(|&b| b == b'/')
                    .unwrap_or(template.len());
                template = &template[end..];
                shape = &shape[2..];
                segment_start = false;
            }
            (Some(t), Some(s)) if t == s => {
                segment_start = *t == b'/';
                template = &template[1..];
                shape = &shape[1..];
            }
            _ => return false,
        }
    }
}

pub(crate) fn body_kind(route: &Route) -> Option<BodyKind> {
    if !route.method.eq_ignore_ascii_case("POST") {
        return None;
    }
    let is = |shape| has_shape(route.template, shape);
    Some(if is("/containers/create") {
        BodyKind::ContainerCreate
    } else if is("/containers/{}/exec") {
        BodyKind::ExecCreate
    } else if is("/containers/{}/update") {
        BodyKind::ContainerUpdate
    } else if is("/containers/{}/start") && route.api_version_below("1.24") {
        BodyKind::OldApiStart
    } else if is("/volumes/create") {
        BodyKind::VolumeCreate
    } else if is("/networks/create") {
        BodyKind::NetworkCreate
    } else if is("/services/create") || is("/services/{}/update") {
        BodyKind::Service
    } else if is("/plugins/pull") || is("/plugins/{}/upgrade") {
        BodyKind::PluginPrivileges
    } else if is("/plugins/{}/set") {
        BodyKind::PluginSettings
    } else if is("/plugins/create") {
        BodyKind::PluginArchive
    } else {
        return None;
    })
}

/// Checks the query and body of `route` for host escapes, and hands on the create body it
/// decoded (the ownership checks read it too).
fn escapes(
    escapes: &Escapes,
    route: &Route,
    request: &AuthzRequest,
    log: &mut FieldLog,
) -> Result<Decoded, Refusal> {
    let mut checker = Checker::new(escapes, log);
    if has_shape(route.template, "/build") {
        checker.build_query(route)?;
    } else if has_shape(route.template, "/containers/{}/start") {
        checker.start_query(route)?;
    }
    let Some(kind) = body_kind(route) else {
        return Ok(Decoded::Nothing);
    };
    let body = request.request_body.as_slice();
    if kind == BodyKind::PluginArchive {
        if escapes.enforces(NO_PLUGIN_PRIVILEGES) {
            return Err(refusal(
                NO_PLUGIN_PRIVILEGES,
                route_what(route),
                "the plugin archive (its config.json declares mounts, devices and capabilities) is never forwarded to authorization plugins, so it cannot be checked",
            ));
        }
        return Ok(Decoded::Nothing);
    }
    if body.is_empty() {
        if kind == BodyKind::OldApiStart && start_body_ignored(request) {
            return Ok(Decoded::Nothing);
        }
        if escapes.enforces(BODY_NOT_FORWARDED) {
            return Err(refusal(
                BODY_NOT_FORWARDED,
                format!("{} without a request body", route_what(route)),
                not_forwarded_reason(request),
            ));
        }
        return Ok(Decoded::Nothing);
    }
    let unreadable = |e: BodyError| {
        refusal(
            BODY_UNREADABLE,
            format!("the request body of {}", route_what(route)),
            format!("dockerd would not read it as this plugin does: {e}"),
        )
    };
    match kind {
        BodyKind::ContainerCreate => {
            let create = decode::<ContainerCreate>(body).map_err(unreadable)?;
            checker.container_create(&create)?;
            return Ok(Decoded::Container(create));
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
            let create = decode::<VolumeCreate>(body).map_err(unreadable)?;
            checker.volume_create(&create)?;
            return Ok(Decoded::Volume(create));
        }
        BodyKind::NetworkCreate => {
            return Ok(Decoded::Network(
                decode::<NetworkCreate>(body).map_err(unreadable)?,
            ));
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
    Ok(Decoded::Nothing)
}

fn content_length(request: &AuthzRequest) -> Option<u64> {
    request
        .request_header("Content-Length")
        .and_then(|v| v.trim().parse().ok())
}

/// On API < 1.24 dockerd reads a start body only when its Content-Length is above 7 or
/// unknown (chunked); a known small length means there is no HostConfig to miss.
pub(crate) fn start_body_ignored(request: &AuthzRequest) -> bool {
    content_length(request).is_some_and(|n| n <= START_BODY_IGNORED_UP_TO)
}

pub(crate) fn not_forwarded_reason(request: &AuthzRequest) -> String {
    let cause = match content_length(request) {
        Some(n) if n >= 1 << 20 => format!(
            "its Content-Length is {n}, and bodies of 1 MiB or more reach plugins empty (CVE-2026-34040)"
        ),
        Some(n) if n > 0 => format!("its Content-Length is {n} but the daemon sent it empty"),
        _ => "chunked bodies reach older daemons' plugins empty (CVE-2024-41110) and large ones newer daemons' (CVE-2026-34040)".to_owned(),
    };
    format!("the daemon did not forward the body to the plugin, so it cannot be checked; {cause}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_matches_any_parameter_name_and_nothing_else() {
        assert!(has_shape("/containers/{name}/exec", "/containers/{}/exec"));
        assert!(has_shape("/containers/{id}/exec", "/containers/{}/exec"));
        assert!(!has_shape("/containers/json/exec", "/containers/{}/exec"));
        assert!(!has_shape(
            "/containers/{name}/exec",
            "/containers/{}/execs"
        ));
        assert!(!has_shape("/containers/{name}", "/containers/{}/exec"));
        assert!(has_shape("/containers/create", "/containers/create"));
        assert!(!has_shape("/containers/create/", "/containers/create"));
        assert!(!has_shape("/a{b}/c", "/a{}/c"));
        assert!(!has_shape("/{b}x/c", "/{}x/c"));
    }
}
