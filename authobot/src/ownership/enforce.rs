//! The request-phase ownership check: every call that names a container, exec session,
//! volume or network must name one its caller owns (admins excepted), list calls and
//! creates must carry the owner label where the profile asks, and creates respect the
//! container quota.
//!
//! Objects are resolved the way dockerd resolves them (full id, then name, then unique id
//! prefix), against the read-only [`OwnershipView`] the caller passes in.

use std::borrow::Cow;

use protocol::body::{decode, ContainerCreate, NetworkCreate, VolumeCreate};
use protocol::route::Route;
use protocol::AuthzRequest;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::Deserializer as _;
use serde_json::Value;

use super::rules::{
    CONTAINER_QUOTA, OWNERSHIP, OWNERSHIP_ADMIN_ONLY, OWNERSHIP_AMBIGUOUS, OWNERSHIP_STORE,
    OWNERSHIP_UNKNOWN, OWNER_FILTER_REQUIRED, OWNER_LABEL_REQUIRED,
};
use super::{container_name, Enforce, Lookup, ObjectKind, Owner, OwnershipView, OWNER_LABEL};
use crate::decision::FieldLog;
use crate::escapes::Denial;
use crate::policy::{Caller, Policy, Profile};

/// The owner a caller's creates are recorded under.
pub fn owner_of(caller: Caller<'_>) -> Owner {
    match caller {
        Caller::Anonymous => Owner::anonymous(),
        Caller::User(name) => Owner(name.to_owned()),
    }
}

fn denial(rule: &'static str, what: impl Into<String>, why: impl Into<String>) -> Denial {
    Denial {
        rule,
        what: what.into(),
        why: why.into(),
    }
}

/// Everything the check needs about one call.
#[derive(Debug)]
pub struct Call<'a> {
    /// The policy in force.
    pub policy: &'a Policy,
    /// The caller's profile.
    pub profile: &'a Profile,
    /// Who calls.
    pub caller: Caller<'a>,
    /// Where dockerd routes the call.
    pub route: &'a Route,
    /// The whole message.
    pub request: &'a AuthzRequest,
    /// Its body, if the host-escape checks already decoded it.
    pub body: &'a Decoded,
}

/// A create body the host-escape checks decoded, handed on so that the ownership checks
/// read the very same fields without decoding the body a second (or third) time.
// One per decision, on the stack: boxing the create would cost an allocation per create.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Decoded {
    /// Nothing was decoded: the checks decode what they need themselves.
    Nothing,
    /// `POST /containers/create`.
    Container(ContainerCreate),
    /// `POST /volumes/create`.
    Volume(VolumeCreate),
    /// `POST /networks/create`.
    Network(NetworkCreate),
}

impl<'a> Call<'a> {
    fn what(&self) -> String {
        format!("{} {}", self.route.method, self.route.template)
    }

    /// The body as a container create: the one already decoded, else decoded now.
    fn container_create(&self) -> Option<Cow<'a, ContainerCreate>> {
        match self.body {
            Decoded::Container(create) => Some(Cow::Borrowed(create)),
            _ => decode(&self.request.request_body).ok().map(Cow::Owned),
        }
    }

    /// The body as a volume create: the one already decoded, else decoded now.
    fn volume_create(&self) -> Option<Cow<'a, VolumeCreate>> {
        match self.body {
            Decoded::Volume(create) => Some(Cow::Borrowed(create)),
            _ => decode(&self.request.request_body).ok().map(Cow::Owned),
        }
    }

    /// The body as a network create: the one already decoded, else decoded now.
    fn network_create(&self) -> Option<Cow<'a, NetworkCreate>> {
        match self.body {
            Decoded::Network(create) => Some(Cow::Borrowed(create)),
            _ => decode(&self.request.request_body).ok().map(Cow::Owned),
        }
    }
}

/// Checks one request-phase call against the ownership record.
pub fn enforce(
    call: &Call<'_>,
    view: &dyn OwnershipView,
    log: &mut FieldLog,
) -> Result<(), Denial> {
    let settings = &call.profile.ownership;
    let admin = call.policy.is_admin(call.caller);
    let owner = owner_of(call.caller);
    let checked = match settings.enforce {
        Enforce::Off => false,
        Enforce::Identified => !owner.is_anonymous(),
        Enforce::All => true,
    };
    if admin {
        log.read("ownership.role", "admin");
    } else if checked {
        log.read("ownership.owner", &owner.0);
    }
    let store_failed = |e: super::StoreError| {
        denial(
            OWNERSHIP_STORE,
            call.what(),
            format!("the ownership record cannot be read ({e})"),
        )
    };
    let template = call.route.template;
    if let Some(max) = settings.max_containers {
        if template == "/containers/create" {
            let count = view.containers_owned(&owner).map_err(store_failed)?;
            log.read("ownership.containers_owned", count);
            if count >= max {
                return Err(denial(
                    CONTAINER_QUOTA,
                    format!("a new container for {owner}"),
                    format!(
                        "{owner} owns {count} containers and the profile {:?} allows {max}",
                        call.profile.name
                    ),
                ));
            }
        }
    }
    if admin {
        // Admins may touch everything; what they touch is still shown (`explain`).
        if checked {
            for (kind, reference) in named_objects(call).unwrap_or_default() {
                let lookup = view.lookup(kind, &reference).map_err(store_failed)?;
                log_lookup(log, kind, &reference, &lookup);
            }
        }
        return Ok(());
    }
    if let Caller::User(name) = call.caller {
        if settings.require_list_filter && is_list(call.route) {
            require_list_filter(call, name, log)?;
        }
        if settings.require_owner_label {
            require_owner_label(call, name, log)?;
        }
    }
    if !checked {
        return Ok(());
    }
    if matches!(
        template,
        "/containers/prune" | "/volumes/prune" | "/networks/prune"
    ) {
        return Err(denial(
            OWNERSHIP_ADMIN_ONLY,
            call.what(),
            "a prune removes every user's unused objects, so only admins may run it",
        ));
    }
    for (kind, reference) in named_objects(call)? {
        let lookup = view.lookup(kind, &reference).map_err(store_failed)?;
        log_lookup(log, kind, &reference, &lookup);
        must_own(call, &owner, kind, &reference, &lookup)?;
    }
    if template == "/volumes/create" {
        // dockerd answers a create naming an existing volume with that volume.
        if let Some(create) = call.volume_create() {
            if !create.name.is_empty() {
                let lookup = view
                    .lookup(ObjectKind::Volume, &create.name)
                    .map_err(store_failed)?;
                if log.is_recording() {
                    log.read(
                        "ownership.volume",
                        serde_json::json!({ "reference": create.name, "lookup": lookup }),
                    );
                }
                if !matches!(lookup, Lookup::Unknown) {
                    must_own(call, &owner, ObjectKind::Volume, &create.name, &lookup)?;
                }
            }
        }
    }
    if template == "/containers/create" && !call.request.request_body.is_empty() {
        if let Some(create) = call.container_create() {
            create_references(call, &owner, &create, view, log)?;
        }
    }
    Ok(())
}

/// Records what a reference resolved to, for `explain` and the audit of fields read.
fn log_lookup(log: &mut FieldLog, kind: ObjectKind, reference: &str, lookup: &Lookup) {
    if !log.is_recording() {
        return;
    }
    log.read(
        format!("ownership.{}", kind.noun().replace(' ', "_")),
        serde_json::json!({ "reference": reference, "lookup": lookup }),
    );
}

/// Refuses unless `lookup` found an object `owner` owns.
fn must_own(
    call: &Call<'_>,
    owner: &Owner,
    kind: ObjectKind,
    reference: &str,
    lookup: &Lookup,
) -> Result<(), Denial> {
    // Only a refusal names the call: an allow builds no message.
    let what = || format!("{} on {} {reference:?}", call.what(), kind.noun());
    match lookup {
        Lookup::Found(owned) if owned.owner == *owner => Ok(()),
        Lookup::Found(owned) => Err(denial(
            OWNERSHIP,
            what(),
            format!(
                "it belongs to {} (id {}), not to {owner}; only its owner or an admin may touch it",
                owned.owner,
                short(&owned.id)
            ),
        )),
        Lookup::Unknown => Err(denial(
            OWNERSHIP_UNKNOWN,
            what(),
            format!(
                "authobot has no record of who owns it (not created through this plugin, or no such {}), and only admins may touch unrecorded objects",
                kind.noun()
            ),
        )),
        Lookup::Ambiguous { matches } => Err(denial(
            OWNERSHIP_AMBIGUOUS,
            what(),
            format!("the id prefix matches {matches} recorded objects; give a longer prefix, the full id or the name"),
        )),
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// The objects a call names in its path, query or body; path and query references are
/// borrowed from the route.
fn named_objects<'a>(call: &Call<'a>) -> Result<Vec<(ObjectKind, Cow<'a, str>)>, Denial> {
    let route = call.route;
    let template = route.template;
    let param = |name: &str| Cow::Borrowed(route.param(name).unwrap_or_default());
    let mut named = Vec::new();
    if template == "/commit" {
        let container = route.query_value("container").unwrap_or_default();
        named.push((ObjectKind::Container, Cow::Borrowed(container)));
    } else if template.starts_with("/containers/{name}") {
        named.push((ObjectKind::Container, param("name")));
    } else if template.starts_with("/exec/{") {
        let id = route.param("id").or_else(|| route.param("name"));
        named.push((ObjectKind::Exec, Cow::Borrowed(id.unwrap_or_default())));
    } else if template == "/volumes/{name}" {
        named.push((ObjectKind::Volume, param("name")));
    } else if template.starts_with("/networks/{id}") {
        named.push((ObjectKind::Network, param("id")));
        if template.ends_with("/connect") || template.ends_with("/disconnect") {
            named.push((
                ObjectKind::Container,
                Cow::Owned(connected_container(call)?),
            ));
        }
    }
    Ok(named)
}

/// The `Container` of a network connect or disconnect body, read as Go's encoding/json
/// fills `NetworkConnect.Container`: keys matched case-insensitively (no letter of
/// "container" has a non-ASCII fold), the last one wins, `null` leaves it unchanged.
fn connected_container(call: &Call<'_>) -> Result<String, Denial> {
    struct ContainerField;
    impl<'de> Visitor<'de> for ContainerField {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
            let mut container = String::new();
            while let Some(key) = map.next_key::<String>()? {
                if key.eq_ignore_ascii_case("container") {
                    match map.next_value::<Value>()? {
                        Value::String(s) => container = s,
                        Value::Null => {}
                        _ => return Err(serde::de::Error::custom("Container is not a string")),
                    }
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(container)
        }
    }
    let body = &call.request.request_body;
    let unreadable = |why: String| {
        denial(
            OWNERSHIP_UNKNOWN,
            format!("{} without a readable container", call.what()),
            why,
        )
    };
    if body.is_empty() {
        return Err(unreadable(
            "the daemon did not forward the body naming the container, so its owner cannot be checked".to_owned(),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let container = de
        .deserialize_map(ContainerField)
        .and_then(|c| de.end().map(|()| c))
        .map_err(|e| unreadable(format!("the body is not read as dockerd reads it: {e}")))?;
    Ok(container)
}

/// Networks, volumes and linked containers a create names in its body must be the caller's,
/// like objects named in the path. The built-in networks have no owner and pass (`host` is
/// a host-escape matter). A named volume must be created (`docker volume create`) before
/// it is mounted: dockerd would create it silently, or mount a volume nobody recorded.
fn create_references(
    call: &Call<'_>,
    owner: &Owner,
    create: &ContainerCreate,
    view: &dyn OwnershipView,
    log: &mut FieldLog,
) -> Result<(), Denial> {
    let host_config = &create.host_config;
    let mut named: Vec<(ObjectKind, String)> = Vec::new();
    let mode = host_config.network_mode.as_str();
    if !mode.is_empty() && !mode.contains(':') {
        named.push((ObjectKind::Network, mode.to_owned()));
    }
    named.extend(
        create
            .endpoints
            .iter()
            .map(|n| (ObjectKind::Network, n.clone())),
    );
    if let Ok(binds) = host_config.parsed_binds() {
        named.extend(
            binds
                .into_iter()
                .filter(|b| !b.host_path && !b.source.is_empty())
                .map(|b| (ObjectKind::Volume, b.source)),
        );
    }
    named.extend(
        host_config
            .mounts
            .iter()
            .filter(|m| m.kind == "volume" && !m.source.is_empty())
            .map(|m| (ObjectKind::Volume, m.source.clone())),
    );
    // `Links` entries are `name:alias`, `VolumesFrom` entries `name[:ro|rw]`; the network,
    // PID and IPC modes `container:NAME` join another container's namespace (profiles that
    // switch off no-host-namespaces or no-volumes-from still may not reach another user's).
    let before_colon = |spec: &str| {
        spec.split_once(':')
            .map_or(spec, |(name, _)| name)
            .to_owned()
    };
    named.extend(
        host_config
            .links
            .iter()
            .chain(&host_config.volumes_from)
            .map(|spec| {
                (
                    ObjectKind::Container,
                    container_name(&before_colon(spec)).to_owned(),
                )
            }),
    );
    named.extend(
        [
            &host_config.network_mode,
            &host_config.pid_mode,
            &host_config.ipc_mode,
        ]
        .into_iter()
        .filter_map(|mode| mode.strip_prefix("container:"))
        .map(|name| (ObjectKind::Container, name.to_owned())),
    );
    for (kind, reference) in named {
        let lookup = view.lookup(kind, &reference).map_err(|e| {
            denial(
                OWNERSHIP_STORE,
                call.what(),
                format!("the ownership record cannot be read ({e})"),
            )
        })?;
        if log.is_recording() {
            log.read(
                format!("ownership.create.{}", kind.noun()),
                serde_json::json!({ "reference": reference, "lookup": lookup }),
            );
        }
        let built_in =
            kind == ObjectKind::Network && BUILT_IN_NETWORKS.contains(&reference.as_str());
        if !(built_in && lookup == Lookup::Unknown) {
            must_own(call, owner, kind, &reference, &lookup)?;
        }
    }
    Ok(())
}

/// The networks every daemon has, and the mode that means the default one.
const BUILT_IN_NETWORKS: [&str; 4] = ["default", "bridge", "host", "none"];

fn is_list(route: &Route) -> bool {
    route.method == "GET"
        && matches!(
            route.template,
            "/containers/json" | "/volumes" | "/networks" | "/networks/"
        )
}

/// The label values of a `filters` query as dockerd's `filters.FromJSON` reads them: the
/// map form `{"label":{"k=v":true}}` (any boolean: only keys count) or the legacy list form
/// `{"label":["k=v"]}`. `None` when dockerd would refuse the text.
fn label_filters(filters: &str) -> Option<Vec<String>> {
    if filters.is_empty() {
        return Some(Vec::new());
    }
    let parsed: serde_json::Map<String, Value> = serde_json::from_str(filters).ok()?;
    Some(match parsed.get("label") {
        Some(Value::Object(values)) => values.keys().cloned().collect(),
        Some(Value::Array(values)) => values
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()?,
        Some(Value::Null) | None => Vec::new(),
        Some(_) => return None,
    })
}

fn require_list_filter(call: &Call<'_>, user: &str, log: &mut FieldLog) -> Result<(), Denial> {
    let wanted = format!("{OWNER_LABEL}={user}");
    let filters = call.route.query_value("filters").unwrap_or_default();
    let labels = label_filters(filters);
    log.read("query.filters.label", &labels);
    if labels.is_some_and(|labels| labels.contains(&wanted)) {
        return Ok(());
    }
    Err(denial(
        OWNER_FILTER_REQUIRED,
        format!("{} without the filter label={wanted}", call.what()),
        format!("this profile lets user {user:?} list only their own objects: add --filter label={wanted}"),
    ))
}

fn require_owner_label(call: &Call<'_>, user: &str, log: &mut FieldLog) -> Result<(), Denial> {
    let label =
        |labels: &std::collections::BTreeMap<String, String>| labels.get(OWNER_LABEL).cloned();
    let found = match call.route.template {
        "/containers/create" => call.container_create().and_then(|c| label(&c.labels)),
        "/volumes/create" => call.volume_create().and_then(|v| label(&v.labels)),
        "/networks/create" => call.network_create().and_then(|n| label(&n.labels)),
        _ => return Ok(()),
    };
    log.read(format!("Labels.{OWNER_LABEL}"), &found);
    if found.as_deref() == Some(user) {
        return Ok(());
    }
    Err(denial(
        OWNER_LABEL_REQUIRED,
        format!("{} without the label {OWNER_LABEL}={user}", call.what()),
        format!(
            "this profile requires every create to carry its owner's label (found {}), so the daemon itself records who owns what",
            found.map_or_else(|| "none".to_owned(), |v| format!("{v:?}"))
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_filters_read_the_map_form() {
        assert_eq!(
            label_filters(r#"{"label":{"authobot.owner=alice":true}}"#),
            Some(vec!["authobot.owner=alice".to_owned()])
        );
    }

    #[test]
    fn label_filters_read_the_legacy_list_form() {
        assert_eq!(
            label_filters(r#"{"label":["authobot.owner=alice"]}"#),
            Some(vec!["authobot.owner=alice".to_owned()])
        );
    }

    #[test]
    fn label_filters_take_the_last_duplicate_key_as_go_maps_do() {
        assert_eq!(
            label_filters(r#"{"label":{"authobot.owner=alice":true},"label":{"x=y":true}}"#),
            Some(vec!["x=y".to_owned()])
        );
    }

    #[test]
    fn label_filters_refuse_what_dockerd_refuses() {
        assert_eq!(label_filters(r#"{"label":"authobot.owner=alice"}"#), None);
        assert_eq!(label_filters("not json"), None);
    }
}
