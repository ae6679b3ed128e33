//! The Rego decision of one call: refuse what no policy can see, then ask the query.
//!
//! Before the policy runs, the same guards as authobot's own rules: a call whose body the
//! daemon acts on but did not forward (chunked, 1 MiB or more, a plugin archive) is refused,
//! as is a body dockerd would not decode as read (the document would not be what it acts on)
//! and a form-encoded body (its fields are read like the query, and never forwarded). A
//! target that does not route the way it parses was refused before this by the caller.

use std::borrow::Cow;

use protocol::body::{document, DocumentKind};
use protocol::route::Route;
use protocol::AuthzRequest;
use serde_json::Value;

use super::input::{bind_mounts, build, to_rego};
use super::{Outcome, RegoPolicy};
use crate::decide::{
    body_kind, media_type, not_forwarded_reason, refusal, route_what, start_body_ignored, BodyKind,
    Refusal,
};
use crate::decision::{FieldLog, RegoResult, RegoTrace};
use crate::rules::{BODY_NOT_FORWARDED, BODY_UNREADABLE, NO_FORM_BODY, REGO};

/// The rule an allowed `HEAD /_ping` names when the policy was not asked (`skip_ping`).
pub const SKIP_PING: &str = "rego-skip-ping";

/// Decides `request`, routed to `route`, by the Rego policy; `trace` gets what the query
/// answered when it was asked.
pub(crate) fn decide(
    rego: &RegoPolicy,
    request: &AuthzRequest,
    route: &Route,
    log: &mut FieldLog,
    trace: &mut Option<RegoTrace>,
) -> Result<Cow<'static, str>, Refusal> {
    if rego.options().skip_ping
        && route.method == "HEAD"
        && route.template == "/_ping"
        && route.version.is_none()
        && route.query.is_empty()
    {
        return Ok(Cow::Borrowed(SKIP_PING));
    }
    if media_type(request)
        .is_some_and(|m| m.eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    {
        return Err(refusal(
            NO_FORM_BODY,
            "a form-encoded request body",
            "dockerd reads its fields as query parameters, but never forwards it to plugins",
        ));
    }
    let (body, binds) = match body_kind(route) {
        None => (Value::Null, Vec::new()),
        Some(BodyKind::PluginArchive) => {
            return Err(refusal(
                BODY_NOT_FORWARDED,
                route_what(route),
                "the plugin archive (its config.json declares mounts, devices and capabilities) is never forwarded to authorization plugins, so no policy can read it",
            ))
        }
        Some(kind) => {
            let document_kind = document_kind(kind);
            let body = request.request_body.as_slice();
            if body.is_empty() {
                if kind != BodyKind::OldApiStart || !start_body_ignored(request) {
                    return Err(refusal(
                        BODY_NOT_FORWARDED,
                        format!("{} without a request body", route_what(route)),
                        not_forwarded_reason(request),
                    ));
                }
                (Value::Null, Vec::new())
            } else {
                let unreadable = |e| {
                    refusal(
                        BODY_UNREADABLE,
                        format!("the request body of {}", route_what(route)),
                        format!("dockerd would not read it as this plugin does: {e}"),
                    )
                };
                (
                    document(document_kind, body).map_err(unreadable)?,
                    bind_mounts(document_kind, body).map_err(unreadable)?,
                )
            }
        }
    };
    let input = build(request, route, body, binds);
    let outcome = rego.evaluate(to_rego(input));
    let result = match &outcome {
        Outcome::Bool(b) => RegoResult::Bool(*b),
        Outcome::Undefined => RegoResult::Undefined,
        Outcome::NotBoolean(kind) => RegoResult::NotBoolean(kind),
        Outcome::Failed(_) => RegoResult::Failed,
    };
    log.read("rego.query", rego.query());
    log.read("rego.result", result.to_string());
    *trace = Some(RegoTrace::new(rego.query_shared(), result));
    let why = match outcome {
        Outcome::Bool(true) => return Ok(Cow::Borrowed(REGO)),
        Outcome::Bool(false) => format!("{} is false", rego.query()),
        Outcome::Undefined => format!("{} is undefined for this call", rego.query()),
        Outcome::NotBoolean(kind) => {
            format!("{} is a {kind}, not a boolean", rego.query())
        }
        Outcome::Failed(error) => format!("evaluating {} failed: {error}", rego.query()),
    };
    Err(refusal(
        REGO,
        route_what(route),
        format!(
            "the Rego policy {} refused it: {why}",
            rego.file().display()
        ),
    ))
}

/// The Go type dockerd decodes a body of `kind` into.
fn document_kind(kind: BodyKind) -> DocumentKind {
    match kind {
        BodyKind::ContainerCreate => DocumentKind::ContainerCreate,
        BodyKind::ExecCreate => DocumentKind::ExecCreate,
        BodyKind::ContainerUpdate => DocumentKind::ContainerUpdate,
        BodyKind::OldApiStart => DocumentKind::HostConfig,
        BodyKind::VolumeCreate => DocumentKind::VolumeCreate,
        BodyKind::NetworkCreate => DocumentKind::NetworkCreate,
        BodyKind::Service => DocumentKind::ServiceSpec,
        BodyKind::PluginPrivileges => DocumentKind::PluginPrivileges,
        BodyKind::PluginSettings => DocumentKind::PluginSettings,
        BodyKind::PluginArchive => unreachable!("refused before its body is read"),
    }
}
