//! What the fuzz targets and the oracle check share: the API objects the canonicaliser reads,
//! selected by name, and their canonical form as JSON (the Go oracle's output shape).

use protocol::body::{
    decode, BodyError, Canonical, ContainerCreate, ContainerUpdate, ExecCreate, HostConfig,
    NetworkCreate, PluginPrivilege, PluginSettings, ServiceSpec, VolumeCreate,
};
use protocol::wire::AuthzReply;
use serde::Serialize;
use serde_json::{json, Value};

/// The Go oracle's kind names; a fuzz input's first byte picks one (modulo the count).
pub const KINDS: [&str; 10] = [
    "container_create",
    "host_config",
    "exec_create",
    "volume_create",
    "network_create",
    "container_update",
    "service_spec",
    "plugin_privileges",
    "plugin_settings",
    "authz_reply",
];

/// The oracle's error class for a decode error.
fn error_class(error: &BodyError) -> &'static str {
    match error {
        BodyError::Syntax { .. } | BodyError::TooDeep { .. } => "syntax",
        BodyError::WrongType { .. } => "type",
        BodyError::TrailingContent { .. } => "trailing",
        _ => "other",
    }
}

fn to_json<T: Canonical + Serialize + PartialEq + std::fmt::Debug>(
    body: &[u8],
    inspect: impl Fn(&T),
) -> Value {
    let first = decode::<T>(body);
    assert_eq!(first, decode::<T>(body), "two reads of one body differ");
    match first {
        Ok(value) => {
            inspect(&value);
            serde_json::to_value(&value).expect("the model serializes")
        }
        Err(error) => json!({ "error": error_class(&error) }),
    }
}

/// Calls the daemon-side helpers policies use, which must not panic on any decoded value.
fn inspect_host_config(host_config: &HostConfig) {
    let _ = host_config.normalized_cap_add();
    let _ = host_config.parsed_binds();
    for mount in &host_config.mounts {
        let _ = mount.host_path();
    }
}

/// The canonical form of `body` read as `kind`, or `{"error": class}`; `None` for an unknown
/// kind.
pub fn canonical_json(kind: &str, body: &[u8]) -> Option<Value> {
    let value = match kind {
        "container_create" => {
            to_json::<ContainerCreate>(body, |c| inspect_host_config(&c.host_config))
        }
        "host_config" => to_json::<HostConfig>(body, inspect_host_config),
        "exec_create" => to_json::<ExecCreate>(body, |_| ()),
        "volume_create" => to_json::<VolumeCreate>(body, |v| {
            let _ = v.host_path();
        }),
        "network_create" => to_json::<NetworkCreate>(body, |_| ()),
        "container_update" => to_json::<ContainerUpdate>(body, |_| ()),
        "service_spec" => to_json::<ServiceSpec>(body, |s| {
            for mount in &s.container_spec.mounts {
                let _ = mount.host_path();
            }
        }),
        "plugin_privileges" => to_json::<Vec<PluginPrivilege>>(body, |_| ()),
        "plugin_settings" => to_json::<PluginSettings>(body, |_| ()),
        "authz_reply" => to_json::<AuthzReply>(body, |_| ()),
        _ => return None,
    };
    Some(value)
}
