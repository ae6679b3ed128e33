//! Whole documents: a body decoded into its Go type with every field kept, then written
//! back as the JSON Go's `encoding/json` marshals that value to.
//!
//! This is what a policy language reads (authobot's Rego `input.Body`): the object dockerd
//! will act on, in dockerd's own spelling — keys as moby declares them, duplicates resolved
//! and repeated objects merged as Go decodes them, `null`s applied per type, single strings
//! of a `StrSlice` made lists, the create body's `HostConfig` as `getHostConfig()` yields it
//! (a create without any gets the empty one the daemon uses, on the `default` network) — in
//! the shape a docker client sends (moby's `omitempty` tags respected, so a field the CLI
//! leaves out is absent here too). The Go oracle's `"document": true` mode marshals the same
//! value with Go itself; the differential test holds the two equal.
//!
//! Sub-objects the schema does not model ([`Ty::Raw`]: swarm `Mode`, `Placement`,
//! `EndpointSpec`, ...) are left out of the document rather than passed on as sent: a raw
//! copy would show a policy keys dockerd reads differently.

use serde_json::{Map, Value};

use super::go::{decode_keeping, GoValue, Keep, StructTy, Ty};
use super::json::Trailing;
use super::schema::{self, wrapper};
use super::BodyError;

/// The Go type a request body is decoded into, by the route that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// `POST /containers/create`: `runconfig.ContainerConfigWrapper`, written as
    /// `container.CreateRequest` (the `Config` fields, `HostConfig`, `NetworkingConfig`).
    ContainerCreate,
    /// An old-API (< 1.24) `POST /containers/{id}/start`: the HostConfig the daemon applies.
    HostConfig,
    /// `POST /containers/{id}/exec`: `types.ExecConfig`.
    ExecCreate,
    /// `POST /volumes/create`: `volume.VolumeCreateBody`.
    VolumeCreate,
    /// `POST /networks/create`: `types.NetworkCreateRequest`.
    NetworkCreate,
    /// `POST /containers/{id}/update`: `container.UpdateConfig`.
    ContainerUpdate,
    /// `POST /services/create`, `/services/{id}/update`: `swarm.ServiceSpec`.
    ServiceSpec,
    /// `POST /plugins/pull`, `/plugins/{name}/upgrade`: `types.PluginPrivileges`.
    PluginPrivileges,
    /// `POST /plugins/{name}/set`: `[]string`.
    PluginSettings,
}

static WRAPPER_TY: Ty = Ty::Struct(&schema::CONTAINER_CONFIG_WRAPPER);
static EXEC_TY: Ty = Ty::Struct(&schema::EXEC_CONFIG);
static VOLUME_TY: Ty = Ty::Struct(&schema::VOLUME_CREATE);
static NETWORK_TY: Ty = Ty::Struct(&schema::NETWORK_CREATE_REQUEST);
static UPDATE_TY: Ty = Ty::Struct(&schema::UPDATE_CONFIG);
static SERVICE_TY: Ty = Ty::Struct(&schema::SERVICE_SPEC);
static PRIVILEGES_TY: Ty = Ty::Slice(&Ty::Struct(&schema::PLUGIN_PRIVILEGE));
static SETTINGS_TY: Ty = Ty::Slice(&Ty::Str);
static HOST_CONFIG_TY: Ty = Ty::Struct(&schema::HOST_CONFIG);
static NETWORKING_TY: Ty = Ty::Struct(&schema::NETWORKING_CONFIG);

/// Reads `body` as dockerd reads a body of `kind` and returns the whole object it will act
/// on, as Go marshals it; `Err` when dockerd would refuse the body.
pub fn document(kind: DocumentKind, body: &[u8]) -> Result<Value, BodyError> {
    let decoded = |ty: &'static Ty| decode_keeping(body, ty, Trailing::Refuse, Keep::All);
    Ok(match kind {
        DocumentKind::ContainerCreate => {
            let mut wrapper = decoded(&WRAPPER_TY)?;
            let host_config = get_host_config(&mut wrapper).and_then(|i| declared(&wrapper, i));
            let mut out = Map::new();
            if let Some(config) = declared(&wrapper, wrapper::CONFIG).and_then(GoValue::deref) {
                marshal_struct(config, &schema::CONFIG, &mut out);
            }
            // Without any, the daemon creates the container with an empty HostConfig, on the
            // default network (daemon/create.go).
            let hc = match host_config {
                Some(hc) => marshal(hc, &HOST_CONFIG_TY),
                None => default_host_config(),
            };
            out.insert("HostConfig".to_owned(), hc);
            if let Some(networking) = declared(&wrapper, NETWORKING_CONFIG).and_then(GoValue::deref)
            {
                out.insert(
                    "NetworkingConfig".to_owned(),
                    marshal(networking, &NETWORKING_TY),
                );
            }
            Value::Object(out)
        }
        DocumentKind::HostConfig => {
            let mut wrapper = decoded(&WRAPPER_TY)?;
            get_host_config(&mut wrapper)
                .and_then(|i| declared(&wrapper, i))
                .map_or(Value::Null, |hc| marshal(hc, &HOST_CONFIG_TY))
        }
        DocumentKind::ExecCreate => marshal(&decoded(&EXEC_TY)?, &EXEC_TY),
        DocumentKind::VolumeCreate => marshal(&decoded(&VOLUME_TY)?, &VOLUME_TY),
        DocumentKind::NetworkCreate => marshal(&decoded(&NETWORK_TY)?, &NETWORK_TY),
        DocumentKind::ContainerUpdate => marshal(&decoded(&UPDATE_TY)?, &UPDATE_TY),
        DocumentKind::ServiceSpec => marshal(&decoded(&SERVICE_TY)?, &SERVICE_TY),
        DocumentKind::PluginPrivileges => marshal(&decoded(&PRIVILEGES_TY)?, &PRIVILEGES_TY),
        DocumentKind::PluginSettings => marshal(&decoded(&SETTINGS_TY)?, &SETTINGS_TY),
    })
}

/// The HostConfig of a create body that has none: Go's zero value, on the default network.
fn default_host_config() -> Value {
    let mut hc = GoValue::zero_keeping(&HOST_CONFIG_TY, Keep::All);
    if let Some(mode) = named(&mut hc, &schema::HOST_CONFIG, "NetworkMode") {
        *mode = GoValue::Str("default".into());
    }
    marshal(&hc, &HOST_CONFIG_TY)
}

/// The wrapper's declared index of `NetworkingConfig`.
const NETWORKING_CONFIG: usize = 3;
/// The wrapper's declared index of `Cpuset`.
const CPUSET: usize = 2;

/// A struct value's declared field `index` (every field has its slot in [`Keep::All`]).
fn declared<'v, 't>(value: &'v GoValue<'t>, index: usize) -> Option<&'v GoValue<'t>> {
    match value {
        GoValue::Struct(fields) => fields.get(index),
        _ => None,
    }
}

fn declared_mut<'v, 't>(value: &'v mut GoValue<'t>, index: usize) -> Option<&'v mut GoValue<'t>> {
    match value {
        GoValue::Struct(fields) => fields.get_mut(index),
        _ => None,
    }
}

/// A field of a `st` value by JSON name, promoted fields included; `None` behind a nil
/// pointer.
fn named<'v, 't>(
    value: &'v mut GoValue<'t>,
    st: &'static StructTy,
    name: &str,
) -> Option<&'v mut GoValue<'t>> {
    let field = st.field_named(name)?;
    let mut current = value;
    for &index in &field.path {
        current = match current {
            GoValue::Ptr(Some(inner)) => declared_mut(inner, index)?,
            other => declared_mut(other, index)?,
        };
    }
    Some(current)
}

/// runconfig's `getHostConfig()` (20.10, unix) on a wrapper decoded with every field: the
/// `HostConfig` object wins, deprecated top-level values fill its unset ones; without it the
/// top-level fields are the HostConfig; `Cpuset` fills an unset `CpusetCpus`; an empty
/// `NetworkMode` is `default`. Returns the wrapper's declared index of the HostConfig the
/// daemon applies.
fn get_host_config(wrapper: &mut GoValue<'_>) -> Option<usize> {
    let GoValue::Struct(fields) = wrapper else {
        return None;
    };
    let cpuset = match &fields[CPUSET] {
        GoValue::Str(s) => s.clone(),
        _ => Default::default(),
    };
    let present = |v: &GoValue<'_>| matches!(v, GoValue::Ptr(Some(_)));
    let index = match (
        present(&fields[wrapper::EMBEDDED_HOST_CONFIG]),
        present(&fields[wrapper::INNER_HOST_CONFIG]),
    ) {
        (true, true) => {
            let mut top = fields[wrapper::EMBEDDED_HOST_CONFIG].clone();
            let inner = &mut fields[wrapper::INNER_HOST_CONFIG];
            for name in [
                "Memory",
                "MemorySwap",
                "CpuShares",
                "CpusetCpus",
                "VolumeDriver",
            ] {
                let from = named(&mut top, &schema::HOST_CONFIG, name).cloned();
                if let (Some(from), Some(into)) = (from, named(inner, &schema::HOST_CONFIG, name)) {
                    if !is_zero(&from) && is_zero(into) {
                        *into = from;
                    }
                }
            }
            wrapper::INNER_HOST_CONFIG
        }
        (false, true) => wrapper::INNER_HOST_CONFIG,
        (true, false) => wrapper::EMBEDDED_HOST_CONFIG,
        (false, false) => return None,
    };
    let hc = &mut fields[index];
    if !cpuset.is_empty() {
        if let Some(cpus) = named(hc, &schema::HOST_CONFIG, "CpusetCpus") {
            if is_zero(cpus) {
                *cpus = GoValue::Str(cpuset);
            }
        }
    }
    if let Some(mode) = named(hc, &schema::HOST_CONFIG, "NetworkMode") {
        if is_zero(mode) {
            *mode = GoValue::Str("default".into());
        }
    }
    Some(index)
}

/// Go's zero value test for scalars (what `getHostConfig` compares with).
fn is_zero(value: &GoValue<'_>) -> bool {
    match value {
        GoValue::Bool(b) => !b,
        GoValue::Int(n) => *n == 0,
        GoValue::Uint(n) => *n == 0,
        GoValue::Str(s) => s.is_empty(),
        _ => false,
    }
}

/// Go's `isEmptyValue`, which `omitempty` tests: false, 0, "", a nil pointer, an empty
/// slice, map or array. A struct is never empty.
fn is_empty(value: &GoValue<'_>) -> bool {
    match value {
        GoValue::Ptr(p) => p.is_none(),
        GoValue::Slice { len, .. } => *len == 0,
        GoValue::Map(m) => m.as_ref().is_none_or(|m| m.is_empty()),
        GoValue::Array(items) => items.is_empty(),
        GoValue::Struct(_) | GoValue::Raw => false,
        scalar => is_zero(scalar),
    }
}

/// `json.Marshal` of a value of `ty`.
fn marshal(value: &GoValue<'_>, ty: &'static Ty) -> Value {
    match (ty, value) {
        (Ty::Ptr(inner), GoValue::Ptr(Some(pointee))) => marshal(pointee, inner),
        (Ty::Ptr(_), _) => Value::Null,
        (Ty::Bool, GoValue::Bool(b)) => Value::Bool(*b),
        (Ty::Int(_), GoValue::Int(n)) => Value::from(*n),
        (Ty::Uint(_), GoValue::Uint(n)) => Value::from(*n),
        (Ty::Str, GoValue::Str(s)) => Value::String(s.as_ref().to_owned()),
        (Ty::Slice(_) | Ty::StrSlice, GoValue::Slice { nil: true, .. }) => Value::Null,
        (Ty::Slice(elem), GoValue::Slice { .. }) => {
            Value::Array(value.elements().iter().map(|e| marshal(e, elem)).collect())
        }
        (Ty::StrSlice, GoValue::Slice { .. }) => Value::Array(
            value
                .elements()
                .iter()
                .map(|e| marshal(e, &Ty::Str))
                .collect(),
        ),
        (Ty::Array(_, elem), GoValue::Array(items)) => {
            Value::Array(items.iter().map(|e| marshal(e, elem)).collect())
        }
        (Ty::Map(_), GoValue::Map(None)) => Value::Null,
        (Ty::Map(elem), GoValue::Map(Some(map))) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.as_ref().to_owned(), marshal(v, elem)))
                .collect(),
        ),
        (Ty::Struct(st), _) => {
            let mut out = Map::new();
            marshal_struct(value, st, &mut out);
            Value::Object(out)
        }
        // A value that stores nothing (an element of `map[string]struct{}`) is its zero.
        (ty, GoValue::Raw) => marshal(&GoValue::zero_keeping(ty, Keep::All), ty),
        // Decoding only ever stores a value of the field's type.
        _ => Value::Null,
    }
}

/// Writes the fields of a `st` value into `out` as Go's encoder does: promoted fields of
/// embedded structs in place, none behind a nil embedded pointer, `omitempty` honoured,
/// unmodelled ([`Ty::Raw`]) fields left out.
fn marshal_struct(value: &GoValue<'_>, st: &'static StructTy, out: &mut Map<String, Value>) {
    'fields: for field in st.all_fields() {
        if matches!(field.ty, Ty::Raw) {
            continue;
        }
        let mut current = value;
        for &index in &field.path {
            current = match current.deref() {
                Some(inner) => match declared(inner, index) {
                    Some(next) => next,
                    None => continue 'fields,
                },
                // A nil embedded pointer: Go writes none of its fields.
                None => continue 'fields,
            };
        }
        if omits_empty(st, field.name, &field.path) && is_empty(current) {
            continue;
        }
        out.insert(field.name.to_owned(), marshal(current, field.ty));
    }
}

/// Whether the field named `name` (reached by `path` from a `st` value) is tagged
/// `omitempty` in moby v20.10.24 (for the swarm `Privileges` additions, in later moby).
fn omits_empty(st: &'static StructTy, name: &str, path: &[usize]) -> bool {
    // The struct that declares the field: follow the embedded steps of the path.
    let mut owner = st;
    for &index in &path[..path.len().saturating_sub(1)] {
        owner = match &owner.fields[index].ty {
            Ty::Struct(s) | Ty::Ptr(Ty::Struct(s)) => s,
            _ => return false,
        };
    }
    OMIT_EMPTY
        .iter()
        .find(|(declaring, _)| std::ptr::eq(*declaring, owner))
        .is_some_and(|(_, names)| names.contains(&name))
}

/// moby's `json:",omitempty"` tags, by declaring struct. Structs not listed have none.
static OMIT_EMPTY: &[(&StructTy, &[&str])] = &[
    (
        &schema::CONFIG,
        &[
            "ExposedPorts",
            "Healthcheck",
            "ArgsEscaped",
            "NetworkDisabled",
            "MacAddress",
            "StopSignal",
            "StopTimeout",
            "Shell",
        ],
    ),
    (
        &schema::HEALTH_CONFIG,
        &["Test", "Interval", "Timeout", "StartPeriod", "Retries"],
    ),
    (
        &schema::HOST_CONFIG,
        &[
            "StorageOpt",
            "Tmpfs",
            "Sysctls",
            "Runtime",
            "Mounts",
            "Init",
        ],
    ),
    (
        &schema::MOUNT,
        &[
            "Type",
            "Source",
            "Target",
            "ReadOnly",
            "Consistency",
            "BindOptions",
            "VolumeOptions",
            "TmpfsOptions",
        ],
    ),
    (&schema::BIND_OPTIONS, &["Propagation", "NonRecursive"]),
    (&schema::DRIVER, &["Name", "Options"]),
    (
        &schema::VOLUME_OPTIONS,
        &["NoCopy", "Labels", "DriverConfig"],
    ),
    (&schema::TMPFS_OPTIONS, &["SizeBytes", "Mode"]),
    (
        &schema::ENDPOINT_IPAM_CONFIG,
        &["IPv4Address", "IPv6Address", "LinkLocalIPs"],
    ),
    (
        &schema::IPAM_CONFIG,
        &["Subnet", "IPRange", "Gateway", "AuxiliaryAddresses"],
    ),
    (&schema::SECCOMP_OPTS, &["Mode", "Profile"]),
    (&schema::APPARMOR_OPTS, &["Mode"]),
    (&schema::PRIVILEGES, &["Seccomp", "AppArmor"]),
    (
        &schema::CONTAINER_SPEC,
        &[
            "Image",
            "Labels",
            "Command",
            "Args",
            "Hostname",
            "Env",
            "Dir",
            "User",
            "Groups",
            "Privileges",
            "Init",
            "StopSignal",
            "TTY",
            "OpenStdin",
            "ReadOnly",
            "Mounts",
            "StopGracePeriod",
            "Healthcheck",
            "Hosts",
            "DNSConfig",
            "Secrets",
            "Configs",
            "Isolation",
            "Sysctls",
            "CapabilityAdd",
            "CapabilityDrop",
            "Ulimits",
        ],
    ),
    (
        &schema::NETWORK_ATTACHMENT,
        &["Target", "Aliases", "DriverOpts"],
    ),
    (
        &schema::TASK_SPEC,
        &[
            "ContainerSpec",
            "PluginSpec",
            "NetworkAttachmentSpec",
            "Resources",
            "RestartPolicy",
            "Placement",
            "Networks",
            "LogDriver",
            "Runtime",
        ],
    ),
    (&schema::ANNOTATIONS, &["Name"]),
    (
        &schema::SERVICE_SPEC,
        &[
            "TaskTemplate",
            "Mode",
            "UpdateConfig",
            "RollbackConfig",
            "Networks",
            "EndpointSpec",
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(kind: DocumentKind, body: &str) -> Value {
        document(kind, body.as_bytes()).unwrap()
    }

    #[test]
    fn create_keys_take_dockerds_spelling_and_repeated_objects_merge() {
        let d = doc(
            DocumentKind::ContainerCreate,
            r#"{"image":"busybox","hostconfig":{"privileged":true},"HostConfig":{"Memory":1}}"#,
        );
        assert_eq!(d["Image"], "busybox");
        assert_eq!(d["HostConfig"]["Privileged"], true);
        assert_eq!(d["HostConfig"]["Memory"], 1);
        assert!(d.get("image").is_none());
    }

    #[test]
    fn top_level_host_config_fields_become_the_host_config() {
        let d = doc(
            DocumentKind::ContainerCreate,
            r#"{"Image":"x","Privileged":true,"Binds":["/:/h"]}"#,
        );
        assert_eq!(d["HostConfig"]["Privileged"], true);
        assert_eq!(d["HostConfig"]["Binds"][0], "/:/h");
        assert_eq!(d["HostConfig"]["NetworkMode"], "default");
        assert!(d.get("Privileged").is_none());
    }

    #[test]
    fn a_create_without_host_config_gets_the_empty_one_on_the_default_network() {
        let d = doc(DocumentKind::ContainerCreate, r#"{"Image":"x"}"#);
        assert_eq!(d["HostConfig"]["NetworkMode"], "default");
        assert_eq!(d["HostConfig"]["Privileged"], false);
        assert_eq!(d["Cmd"], Value::Null);
        assert!(d.get("Healthcheck").is_none(), "omitempty");
        assert_eq!(d["Hostname"], "");
    }

    #[test]
    fn a_single_string_cap_add_is_a_list_and_null_keeps_a_bool() {
        let d = doc(
            DocumentKind::ContainerCreate,
            r#"{"HostConfig":{"CapAdd":"sys_admin","Privileged":true,"Privileged":null}}"#,
        );
        assert_eq!(d["HostConfig"]["CapAdd"], serde_json::json!(["sys_admin"]));
        assert_eq!(d["HostConfig"]["Privileged"], true);
    }

    #[test]
    fn unmodelled_sub_objects_are_left_out() {
        let d = doc(
            DocumentKind::ServiceSpec,
            r#"{"Name":"s","Mode":{"Replicated":{"Replicas":2}},"TaskTemplate":{"ContainerSpec":{"Image":"x"}}}"#,
        );
        assert!(d.get("Mode").is_none());
        assert_eq!(d["TaskTemplate"]["ContainerSpec"]["Image"], "x");
        assert_eq!(d["TaskTemplate"]["ForceUpdate"], 0);
    }

    #[test]
    fn a_body_dockerd_refuses_has_no_document() {
        assert!(document(DocumentKind::ExecCreate, br#"{"Privileged":"yes"}"#).is_err());
        assert!(document(DocumentKind::ExecCreate, b"{} x").is_err());
    }
}
