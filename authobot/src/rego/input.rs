//! The `input` document a Rego policy reads: opa-docker-authz's fields, filled with what
//! dockerd will act on, plus the canonical route.
//!
//! opa-docker-authz (main.go `makeInput`) gives `Headers`, `Path` (the raw `RequestUri`),
//! `PathPlain`, `PathArr`, `Query`, `Method`, `Body` (the raw JSON as a map), `User`,
//! `AuthMethod` and `BindMounts`. Here every field keeps its name and type, and:
//!
//! - `Path` and `PathPlain` are the path dockerd routes: percent-decoded, query cut off, with
//!   the API version prefix (`/v1.41/containers/create`; an unversioned call gets
//!   [`UNVERSIONED_API`]), so a glob such as `/**/containers/create` cannot be dodged by
//!   `?x=`, `%63ontainers` or a missing version; `PathArr` splits it.
//! - `Query` is the query as dockerd's `r.Form` reads it (decoded, repeated keys in order).
//! - `Body` is the document dockerd decodes ([`protocol::body::document`]): Go's key rules,
//!   duplicates and merges resolved, top-level HostConfig fields moved where 20.10 applies
//!   them, in moby's spelling. `null` for routes that carry no body the canonicaliser types.
//! - `BindMounts` are the host paths dockerd will bind: `Binds` as the daemon parses them,
//!   `Mounts` of type bind, local-driver volumes with bind options (container mounts, service
//!   mounts, volume create); `Source` cleaned as Go's `path.Clean` does, `Resolved` the
//!   symlink-resolved path on this host when it exists (as opa-docker-authz gives it).
//! - New: `Route` (the template dockerd runs, `/containers/{name}/exec`), `Params` (its
//!   parameters, decoded), `Version` (the API version asked for, or `null`).

use std::collections::BTreeMap;

use protocol::body::{
    decode, go_path_clean, BodyError, ContainerCreate, DocumentKind, HostConfig, Mount,
    ServiceSpec, VolumeCreate,
};
use protocol::route::Route;
use protocol::AuthzRequest;
use serde::Serialize;
use serde_json::{Map, Value};

/// The API version written into `Path` for a call without a `/vX.Y` prefix: dockerd serves
/// it at its own default version, which is 1.41 for dockerd 20.10.
pub const UNVERSIONED_API: &str = "1.41";

/// One host path the daemon will bind into a container (opa-docker-authz's `BindMount`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BindMount {
    /// The host path, cleaned as the daemon cleans it.
    pub source: String,
    /// Whether the mount is read-only.
    pub read_only: bool,
    /// The path with symlinks resolved on this host, or empty when it does not resolve.
    pub resolved: String,
}

/// The input document for one call routed to `route`, with `body` the decoded document
/// (or `Value::Null`) and `bind_mounts` the host paths it binds.
pub fn build(
    request: &AuthzRequest,
    route: &Route,
    body: Value,
    bind_mounts: Vec<BindMount>,
) -> Value {
    let path = format!(
        "/v{}{}",
        route.version.as_deref().unwrap_or(UNVERSIONED_API),
        route.path
    );
    let mut query: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (key, value) in &route.query {
        query.entry(key).or_default().push(value);
    }
    let params: Map<String, Value> = route
        .params
        .iter()
        .map(|(name, value)| ((*name).to_owned(), Value::String(value.clone())))
        .collect();
    let mut input = Map::new();
    input.insert(
        "Headers".into(),
        Value::Object(
            request
                .request_headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ),
    );
    input.insert(
        "PathArr".into(),
        Value::Array(path.split('/').map(|p| Value::String(p.into())).collect()),
    );
    input.insert("PathPlain".into(), Value::String(path.clone()));
    input.insert("Path".into(), Value::String(path));
    input.insert(
        "Query".into(),
        serde_json::to_value(query).unwrap_or(Value::Null),
    );
    input.insert(
        "Method".into(),
        Value::String(request.request_method.clone()),
    );
    input.insert("Body".into(), body);
    input.insert("User".into(), Value::String(request.user.clone()));
    input.insert(
        "AuthMethod".into(),
        Value::String(request.user_authn_method.clone()),
    );
    input.insert(
        "BindMounts".into(),
        serde_json::to_value(bind_mounts).unwrap_or(Value::Array(Vec::new())),
    );
    input.insert("Route".into(), Value::String(route.template.to_owned()));
    input.insert("Params".into(), Value::Object(params));
    input.insert(
        "Version".into(),
        route
            .version
            .as_ref()
            .map_or(Value::Null, |v| Value::String(v.clone())),
    );
    Value::Object(input)
}

/// The input as regorus reads it: object members that are `null` are left out. OPA reads
/// `some x in null` as undefined and regorus fails the evaluation on it, so a nil list of
/// the document (`"SecurityOpt": null`, as the docker CLI sends it too) would make every
/// policy that iterates it deny; absent, it is undefined in both.
///
/// Built node by node (regorus's `From<serde_json::Value>` goes through serde's
/// deserializer, and was a quarter of a decision).
pub fn to_rego(input: Value) -> regorus::Value {
    match input {
        Value::Null => regorus::Value::Null,
        Value::Bool(b) => regorus::Value::from(b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => regorus::Value::from(i),
            (None, Some(u)) => regorus::Value::from(u),
            (None, None) => regorus::Value::from(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => regorus::Value::from(s),
        Value::Array(items) => {
            regorus::Value::from(items.into_iter().map(to_rego).collect::<Vec<_>>())
        }
        Value::Object(members) => regorus::Value::from(
            members
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (regorus::Value::from(k), to_rego(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

/// The host paths a body of `kind` makes the daemon bind, read with the daemon's own
/// parsers; `Err` when the daemon would refuse a bind it cannot parse.
pub fn bind_mounts(kind: DocumentKind, body: &[u8]) -> Result<Vec<BindMount>, BodyError> {
    let mut found = Vec::new();
    match kind {
        DocumentKind::ContainerCreate => {
            host_config_binds(&decode::<ContainerCreate>(body)?.host_config, &mut found)?
        }
        DocumentKind::HostConfig => host_config_binds(&decode::<HostConfig>(body)?, &mut found)?,
        DocumentKind::ServiceSpec => mount_binds(
            &decode::<ServiceSpec>(body)?.container_spec.mounts,
            &mut found,
        ),
        DocumentKind::VolumeCreate => {
            if let Some(device) = decode::<VolumeCreate>(body)?.host_path() {
                found.push(bind_mount(device, false));
            }
        }
        DocumentKind::ExecCreate
        | DocumentKind::NetworkCreate
        | DocumentKind::ContainerUpdate
        | DocumentKind::PluginPrivileges
        | DocumentKind::PluginSettings => {}
    }
    Ok(found)
}

fn host_config_binds(hc: &HostConfig, found: &mut Vec<BindMount>) -> Result<(), BodyError> {
    for bind in hc.parsed_binds()? {
        if bind.host_path {
            found.push(bind_mount(bind.source, bind.read_only));
        }
    }
    mount_binds(&hc.mounts, found);
    Ok(())
}

fn mount_binds(mounts: &[Mount], found: &mut Vec<BindMount>) {
    for mount in mounts {
        if let Some(path) = mount.host_path() {
            found.push(bind_mount(path, mount.read_only));
        }
    }
}

fn bind_mount(source: String, read_only: bool) -> BindMount {
    let source = go_path_clean(&source);
    let resolved = std::fs::canonicalize(&source)
        .ok()
        .and_then(|p| p.to_str().map(str::to_owned))
        .unwrap_or_default();
    BindMount {
        source,
        read_only,
        resolved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Query parameters as `{name: [values]}`.
    pub fn query_of(input: &Value) -> BTreeMap<String, Vec<String>> {
        input["Query"]
            .as_object()
            .map(|q| {
                q.iter()
                    .map(|(k, v)| {
                        let values = v
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|s| s.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default();
                        (k.clone(), values)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn request(method: &str, uri: &str) -> AuthzRequest {
        AuthzRequest {
            request_method: method.to_owned(),
            request_uri: uri.to_owned(),
            ..AuthzRequest::default()
        }
    }

    fn input_of(method: &str, uri: &str) -> Value {
        let request = request(method, uri);
        let route = protocol::route::parse(method, uri).unwrap();
        build(&request, &route, Value::Null, Vec::new())
    }

    #[test]
    fn path_is_what_dockerd_routes_whatever_the_spelling() {
        for uri in [
            "/v1.41/containers/create",
            "/v1.41/containers/create?name=x",
            "/v1.41/%63ontainers/create",
            "/v1.41/containers%2Fcreate",
        ] {
            assert_eq!(
                input_of("POST", uri)["Path"],
                "/v1.41/containers/create",
                "{uri}"
            );
        }
        assert_eq!(
            input_of("POST", "/containers/create")["Path"],
            format!("/v{UNVERSIONED_API}/containers/create")
        );
    }

    #[test]
    fn route_params_query_and_version_are_given_apart() {
        let input = input_of("POST", "/v1.24/containers/web/exec?x=1&x=2");
        assert_eq!(input["Route"], "/containers/{name}/exec");
        assert_eq!(input["Params"]["name"], "web");
        assert_eq!(input["Version"], "1.24");
        assert_eq!(query_of(&input)["x"], ["1", "2"]);
        assert_eq!(input["PathArr"][2], "containers");
    }

    #[test]
    fn bind_mounts_are_the_host_paths_dockerd_binds() {
        let body = br#"{"HostConfig":{"Binds":["//etc/../:/h:ro","vol:/v"],"Mounts":[{"Type":"bind","Source":"/x/./y","Target":"/t"},{"Type":"volume","Target":"/d","VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"type":"none","o":"bind","device":"/srv"}}}}]}}"#;
        let mounts = bind_mounts(DocumentKind::ContainerCreate, body).unwrap();
        let sources: Vec<(&str, bool)> = mounts
            .iter()
            .map(|m| (m.source.as_str(), m.read_only))
            .collect();
        assert_eq!(sources, [("/", true), ("/x/y", false), ("/srv", false)]);
        assert_eq!(mounts[0].resolved, "/");
    }

    #[test]
    fn null_members_are_left_out_of_the_rego_input() {
        let input = serde_json::json!({"Body": {"SecurityOpt": null, "Binds": [], "N": 1}});
        let expected = regorus::Value::from_json_str(r#"{"Body": {"Binds": [], "N": 1}}"#).unwrap();
        assert_eq!(to_rego(input), expected);
    }

    #[test]
    fn a_bind_the_daemon_cannot_parse_refuses_the_body() {
        let body = br#"{"HostConfig":{"Binds":["/a:/b:c:d"]}}"#;
        assert!(bind_mounts(DocumentKind::ContainerCreate, body).is_err());
    }
}
