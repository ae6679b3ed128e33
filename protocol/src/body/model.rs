//! The API objects dockerd acts on, as the canonicaliser hands them to policies.
//!
//! Only the fields that matter for authorization are kept, with their Go zero values as
//! defaults. Serialized names are Docker's own (`HostConfig`, `CapAdd`, ...), so the Go
//! oracle can print the very same shape and the two can be compared field by field.
//! `Option` marks the fields where Go's nil and empty differ for the daemon
//! (`MaskedPaths: []` removes every mask, a missing one keeps the defaults).

use std::collections::BTreeMap;

use serde::Serialize;

/// `POST /containers/create`: the container config and the HostConfig the daemon will use.
///
/// dockerd 20.10 also reads HostConfig fields spelled at the top level of the body (its
/// `ContainerConfigWrapper` embeds a `*HostConfig`) when no `HostConfig` object is given;
/// `host_config` is the effective one after that rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerCreate {
    pub image: String,
    pub user: String,
    pub labels: BTreeMap<String, String>,
    /// Keys of `Volumes` (anonymous volumes; never a host path).
    pub volumes: Vec<String>,
    pub host_config: HostConfig,
    /// Names of the networks in `NetworkingConfig.EndpointsConfig`.
    pub endpoints: Vec<String>,
}

/// `container.HostConfig`, the part of a create (or old-API start) that reaches the host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    pub binds: Vec<String>,
    pub mounts: Vec<Mount>,
    pub volumes_from: Vec<String>,
    pub volume_driver: String,
    pub privileged: bool,
    /// As sent; see [`HostConfig::normalized_cap_add`] for what the daemon makes of it.
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub network_mode: String,
    pub pid_mode: String,
    pub ipc_mode: String,
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    pub userns_mode: String,
    pub cgroupns_mode: String,
    pub devices: Vec<DeviceMapping>,
    pub device_cgroup_rules: Vec<String>,
    pub device_requests: Vec<DeviceRequest>,
    pub sysctls: BTreeMap<String, String>,
    pub cgroup_parent: String,
    pub runtime: String,
    pub masked_paths: Option<Vec<String>>,
    pub readonly_paths: Option<Vec<String>>,
    pub links: Vec<String>,
}

/// `mount.Mount`, one entry of `HostConfig.Mounts` or a service's `ContainerSpec.Mounts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Mount {
    /// `bind`, `volume`, `tmpfs`, `npipe`, `cluster`; as sent (the daemon does not fold it).
    #[serde(rename = "Type")]
    pub kind: String,
    pub source: String,
    pub target: String,
    pub read_only: bool,
    pub bind_options: Option<BindOptions>,
    pub volume_options: Option<VolumeOptions>,
}

/// One `HostConfig.Binds` entry as the daemon parses it ([`HostConfig::parsed_binds`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Bind {
    /// The host path (cleaned like Go's `path.Clean`) or the volume name; empty for an
    /// anonymous volume.
    pub source: String,
    /// The path in the container, cleaned.
    pub destination: String,
    /// The mode options as sent (`ro,rslave`).
    pub mode: String,
    /// Whether the mode makes it read-only.
    pub read_only: bool,
    /// Whether `source` is a host path (absolute) rather than a named volume.
    pub host_path: bool,
}

/// `mount.BindOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BindOptions {
    pub propagation: String,
    pub non_recursive: bool,
}

/// `mount.VolumeOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeOptions {
    pub no_copy: bool,
    pub labels: BTreeMap<String, String>,
    pub driver_config: Option<Driver>,
}

/// `mount.Driver`: a volume driver and its options (`type=none,o=bind,device=/` binds a
/// host path through the local driver).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Driver {
    pub name: String,
    pub options: BTreeMap<String, String>,
}

/// `container.DeviceMapping`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

/// `container.DeviceRequest` (`--gpus` and friends).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceRequest {
    pub driver: String,
    pub count: i64,
    #[serde(rename = "DeviceIDs")]
    pub device_ids: Vec<String>,
    pub capabilities: Vec<Vec<String>>,
    pub options: BTreeMap<String, String>,
}

/// `POST /containers/{id}/exec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecCreate {
    pub user: String,
    pub privileged: bool,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
}

/// `POST /volumes/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeCreate {
    pub name: String,
    pub driver: String,
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// `POST /networks/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkCreate {
    pub name: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
}

/// `POST /containers/{id}/update` (`container.UpdateConfig`: Resources embedded).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerUpdate {
    pub devices: Vec<DeviceMapping>,
    pub device_cgroup_rules: Vec<String>,
    pub device_requests: Vec<DeviceRequest>,
    pub cgroup_parent: String,
}

/// `POST /services/create` and `/services/{id}/update` (`swarm.ServiceSpec`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceSpec {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub container_spec: ContainerSpec,
    /// `TaskTemplate.Networks[].Target`, then the deprecated top-level `Networks[].Target`
    /// (20.10 still hands both to swarm).
    pub networks: Vec<String>,
}

/// `swarm.ContainerSpec`, the part of a service that becomes a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSpec {
    pub image: String,
    pub mounts: Vec<Mount>,
    pub capability_add: Vec<String>,
    pub sysctls: BTreeMap<String, String>,
    /// `Privileges.Seccomp.Mode` (`unconfined` turns seccomp off).
    pub seccomp_mode: String,
    /// `Privileges.AppArmor.Mode` (`disabled` turns AppArmor off).
    pub app_armor_mode: String,
    /// `Privileges.SELinuxContext.Disable`.
    pub selinux_disable: bool,
}

/// One entry of the body of `POST /plugins/pull` and `/plugins/{name}/upgrade`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginPrivilege {
    pub name: String,
    pub description: String,
    pub value: Vec<String>,
}

/// The body of `POST /plugins/{name}/set`: `KEY=VALUE` settings (`mount.source=/` binds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PluginSettings(pub Vec<String>);

/// What dockerd's plugin client reads from a plugin's non-200 answer: the `Err` of
/// `struct{ Err string }` (empty when absent or `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginErrorBody {
    pub err: String,
}
