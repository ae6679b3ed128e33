//! The Go types dockerd 20.10.24 decodes request bodies into, written down as data.
//!
//! Field names, order, Go types and embedding follow moby v20.10.24 (`api/types/container`,
//! `api/types/mount`, `api/types/network`, `api/types/volume`, `api/types/swarm`,
//! `runconfig/config_unix.go`); the swarm `Privileges` also carries the `Seccomp`/`AppArmor`
//! fields later daemons added (a 20.10 daemon ignores them; reading them costs nothing).
//! Sub-objects no policy reads are [`Ty::Raw`]. The Go oracle (`protocol/oracle/main.go`)
//! declares the same structs.

use super::go::{Field, StructTy, Ty};

const STRINGS: Ty = Ty::Slice(&Ty::Str);
const STRING_MAP: Ty = Ty::Map(&Ty::Str);
const INT: Ty = Ty::Int(64);

static EMPTY: StructTy = StructTy::new(&[]);

static HEALTH_CONFIG: StructTy = StructTy::new(&[
    Field::new("Test", STRINGS),
    Field::new("Interval", INT),
    Field::new("Timeout", INT),
    Field::new("StartPeriod", INT),
    Field::new("Retries", INT),
]);

/// `container.Config`.
pub(crate) static CONFIG: StructTy = StructTy::new(&[
    Field::new("Hostname", Ty::Str),
    Field::new("Domainname", Ty::Str),
    Field::new("User", Ty::Str),
    Field::new("AttachStdin", Ty::Bool),
    Field::new("AttachStdout", Ty::Bool),
    Field::new("AttachStderr", Ty::Bool),
    Field::new("ExposedPorts", Ty::Map(&Ty::Struct(&EMPTY))),
    Field::new("Tty", Ty::Bool),
    Field::new("OpenStdin", Ty::Bool),
    Field::new("StdinOnce", Ty::Bool),
    Field::new("Env", STRINGS),
    Field::new("Cmd", Ty::StrSlice),
    Field::new("Healthcheck", Ty::Ptr(&Ty::Struct(&HEALTH_CONFIG))),
    Field::new("ArgsEscaped", Ty::Bool),
    Field::new("Image", Ty::Str),
    Field::new("Volumes", Ty::Map(&Ty::Struct(&EMPTY))),
    Field::new("WorkingDir", Ty::Str),
    Field::new("Entrypoint", Ty::StrSlice),
    Field::new("NetworkDisabled", Ty::Bool),
    Field::new("MacAddress", Ty::Str),
    Field::new("OnBuild", STRINGS),
    Field::new("Labels", STRING_MAP),
    Field::new("StopSignal", Ty::Str),
    Field::new("StopTimeout", Ty::Ptr(&INT)),
    Field::new("Shell", Ty::StrSlice),
]);

static LOG_CONFIG: StructTy = StructTy::new(&[
    Field::new("Type", Ty::Str),
    Field::new("Config", STRING_MAP),
]);

static PORT_BINDING: StructTy = StructTy::new(&[
    Field::new("HostIp", Ty::Str),
    Field::new("HostPort", Ty::Str),
]);

/// `container.RestartPolicy`.
static RESTART_POLICY: StructTy = StructTy::new(&[
    Field::new("Name", Ty::Str),
    Field::new("MaximumRetryCount", INT),
]);

static WEIGHT_DEVICE: StructTy = StructTy::new(&[
    Field::new("Path", Ty::Str),
    Field::new("Weight", Ty::Uint(16)),
]);

static THROTTLE_DEVICE: StructTy = StructTy::new(&[
    Field::new("Path", Ty::Str),
    Field::new("Rate", Ty::Uint(64)),
]);

static ULIMIT: StructTy = StructTy::new(&[
    Field::new("Name", Ty::Str),
    Field::new("Hard", INT),
    Field::new("Soft", INT),
]);

/// `container.DeviceMapping`.
pub(crate) static DEVICE_MAPPING: StructTy = StructTy::new(&[
    Field::new("PathOnHost", Ty::Str),
    Field::new("PathInContainer", Ty::Str),
    Field::new("CgroupPermissions", Ty::Str),
]);

/// `container.DeviceRequest`.
pub(crate) static DEVICE_REQUEST: StructTy = StructTy::new(&[
    Field::new("Driver", Ty::Str),
    Field::new("Count", INT),
    Field::new("DeviceIDs", STRINGS),
    Field::new("Capabilities", Ty::Slice(&STRINGS)),
    Field::new("Options", STRING_MAP),
]);

/// `container.Resources`.
pub(crate) static RESOURCES: StructTy = StructTy::new(&[
    Field::new("CpuShares", INT),
    Field::new("Memory", INT),
    Field::new("NanoCpus", INT),
    Field::new("CgroupParent", Ty::Str),
    Field::new("BlkioWeight", Ty::Uint(16)),
    Field::new(
        "BlkioWeightDevice",
        Ty::Slice(&Ty::Ptr(&Ty::Struct(&WEIGHT_DEVICE))),
    ),
    Field::new(
        "BlkioDeviceReadBps",
        Ty::Slice(&Ty::Ptr(&Ty::Struct(&THROTTLE_DEVICE))),
    ),
    Field::new(
        "BlkioDeviceWriteBps",
        Ty::Slice(&Ty::Ptr(&Ty::Struct(&THROTTLE_DEVICE))),
    ),
    Field::new(
        "BlkioDeviceReadIOps",
        Ty::Slice(&Ty::Ptr(&Ty::Struct(&THROTTLE_DEVICE))),
    ),
    Field::new(
        "BlkioDeviceWriteIOps",
        Ty::Slice(&Ty::Ptr(&Ty::Struct(&THROTTLE_DEVICE))),
    ),
    Field::new("CpuPeriod", INT),
    Field::new("CpuQuota", INT),
    Field::new("CpuRealtimePeriod", INT),
    Field::new("CpuRealtimeRuntime", INT),
    Field::new("CpusetCpus", Ty::Str),
    Field::new("CpusetMems", Ty::Str),
    Field::new("Devices", Ty::Slice(&Ty::Struct(&DEVICE_MAPPING))),
    Field::new("DeviceCgroupRules", STRINGS),
    Field::new("DeviceRequests", Ty::Slice(&Ty::Struct(&DEVICE_REQUEST))),
    Field::new("KernelMemory", INT),
    Field::new("KernelMemoryTCP", INT),
    Field::new("MemoryReservation", INT),
    Field::new("MemorySwap", INT),
    Field::new("MemorySwappiness", Ty::Ptr(&INT)),
    Field::new("OomKillDisable", Ty::Ptr(&Ty::Bool)),
    Field::new("PidsLimit", Ty::Ptr(&INT)),
    Field::new("Ulimits", Ty::Slice(&Ty::Ptr(&Ty::Struct(&ULIMIT)))),
    Field::new("CpuCount", INT),
    Field::new("CpuPercent", INT),
    Field::new("IOMaximumIOps", Ty::Uint(64)),
    Field::new("IOMaximumBandwidth", Ty::Uint(64)),
]);

/// `mount.BindOptions`.
pub(crate) static BIND_OPTIONS: StructTy = StructTy::new(&[
    Field::new("Propagation", Ty::Str),
    Field::new("NonRecursive", Ty::Bool),
]);

/// `mount.Driver`.
pub(crate) static DRIVER: StructTy = StructTy::new(&[
    Field::new("Name", Ty::Str),
    Field::new("Options", STRING_MAP),
]);

/// `mount.VolumeOptions`.
pub(crate) static VOLUME_OPTIONS: StructTy = StructTy::new(&[
    Field::new("NoCopy", Ty::Bool),
    Field::new("Labels", STRING_MAP),
    Field::new("DriverConfig", Ty::Ptr(&Ty::Struct(&DRIVER))),
]);

static TMPFS_OPTIONS: StructTy = StructTy::new(&[
    Field::new("SizeBytes", INT),
    Field::new("Mode", Ty::Uint(32)),
]);

/// `mount.Mount`.
pub(crate) static MOUNT: StructTy = StructTy::new(&[
    Field::new("Type", Ty::Str),
    Field::new("Source", Ty::Str),
    Field::new("Target", Ty::Str),
    Field::new("ReadOnly", Ty::Bool),
    Field::new("Consistency", Ty::Str),
    Field::new("BindOptions", Ty::Ptr(&Ty::Struct(&BIND_OPTIONS))),
    Field::new("VolumeOptions", Ty::Ptr(&Ty::Struct(&VOLUME_OPTIONS))),
    Field::new("TmpfsOptions", Ty::Ptr(&Ty::Struct(&TMPFS_OPTIONS))),
]);

/// `container.HostConfig`.
pub(crate) static HOST_CONFIG: StructTy = StructTy::new(&[
    Field::new("Binds", STRINGS),
    Field::new("ContainerIDFile", Ty::Str),
    Field::new("LogConfig", Ty::Struct(&LOG_CONFIG)),
    Field::new("NetworkMode", Ty::Str),
    Field::new(
        "PortBindings",
        Ty::Map(&Ty::Slice(&Ty::Struct(&PORT_BINDING))),
    ),
    Field::new("RestartPolicy", Ty::Struct(&RESTART_POLICY)),
    Field::new("AutoRemove", Ty::Bool),
    Field::new("VolumeDriver", Ty::Str),
    Field::new("VolumesFrom", STRINGS),
    Field::new("CapAdd", Ty::StrSlice),
    Field::new("CapDrop", Ty::StrSlice),
    Field::new("CgroupnsMode", Ty::Str),
    Field::new("Dns", STRINGS),
    Field::new("DnsOptions", STRINGS),
    Field::new("DnsSearch", STRINGS),
    Field::new("ExtraHosts", STRINGS),
    Field::new("GroupAdd", STRINGS),
    Field::new("IpcMode", Ty::Str),
    Field::new("Cgroup", Ty::Str),
    Field::new("Links", STRINGS),
    Field::new("OomScoreAdj", INT),
    Field::new("PidMode", Ty::Str),
    Field::new("Privileged", Ty::Bool),
    Field::new("PublishAllPorts", Ty::Bool),
    Field::new("ReadonlyRootfs", Ty::Bool),
    Field::new("SecurityOpt", STRINGS),
    Field::new("StorageOpt", STRING_MAP),
    Field::new("Tmpfs", STRING_MAP),
    Field::new("UTSMode", Ty::Str),
    Field::new("UsernsMode", Ty::Str),
    Field::new("ShmSize", INT),
    Field::new("Sysctls", STRING_MAP),
    Field::new("Runtime", Ty::Str),
    Field::new("ConsoleSize", Ty::Array(2, &Ty::Uint(64))),
    Field::new("Isolation", Ty::Str),
    Field::embedded("Resources", Ty::Struct(&RESOURCES)),
    Field::new("Mounts", Ty::Slice(&Ty::Struct(&MOUNT))),
    Field::new("MaskedPaths", STRINGS),
    Field::new("ReadonlyPaths", STRINGS),
    Field::new("Init", Ty::Ptr(&Ty::Bool)),
]);

static ENDPOINT_IPAM_CONFIG: StructTy = StructTy::new(&[
    Field::new("IPv4Address", Ty::Str),
    Field::new("IPv6Address", Ty::Str),
    Field::new("LinkLocalIPs", STRINGS),
]);

static ENDPOINT_SETTINGS: StructTy = StructTy::new(&[
    Field::new("IPAMConfig", Ty::Ptr(&Ty::Struct(&ENDPOINT_IPAM_CONFIG))),
    Field::new("Links", STRINGS),
    Field::new("Aliases", STRINGS),
    Field::new("NetworkID", Ty::Str),
    Field::new("EndpointID", Ty::Str),
    Field::new("Gateway", Ty::Str),
    Field::new("IPAddress", Ty::Str),
    Field::new("IPPrefixLen", INT),
    Field::new("IPv6Gateway", Ty::Str),
    Field::new("GlobalIPv6Address", Ty::Str),
    Field::new("GlobalIPv6PrefixLen", INT),
    Field::new("MacAddress", Ty::Str),
    Field::new("DriverOpts", STRING_MAP),
]);

/// `network.NetworkingConfig`.
pub(crate) static NETWORKING_CONFIG: StructTy = StructTy::new(&[Field::new(
    "EndpointsConfig",
    Ty::Map(&Ty::Ptr(&Ty::Struct(&ENDPOINT_SETTINGS))),
)]);

/// `runconfig.ContainerConfigWrapper` (unix, 20.10): the create body and the old-API start
/// body. The field named `HostConfig` here is `InnerHostConfig`; the embedded `*HostConfig`
/// promotes its fields to the top level.
pub(crate) static CONTAINER_CONFIG_WRAPPER: StructTy = StructTy::new(&[
    Field::embedded("Config", Ty::Ptr(&Ty::Struct(&CONFIG))),
    Field::new("HostConfig", Ty::Ptr(&Ty::Struct(&HOST_CONFIG))),
    Field::new("Cpuset", Ty::Str),
    Field::new("NetworkingConfig", Ty::Ptr(&Ty::Struct(&NETWORKING_CONFIG))),
    Field::embedded("EmbeddedHostConfig", Ty::Ptr(&Ty::Struct(&HOST_CONFIG))),
]);

/// The wrapper's declared field indices, in the order above.
pub(crate) mod wrapper {
    pub const CONFIG: usize = 0;
    pub const INNER_HOST_CONFIG: usize = 1;
    pub const EMBEDDED_HOST_CONFIG: usize = 4;
}

/// `types.ExecConfig`.
pub(crate) static EXEC_CONFIG: StructTy = StructTy::new(&[
    Field::new("User", Ty::Str),
    Field::new("Privileged", Ty::Bool),
    Field::new("Tty", Ty::Bool),
    Field::new("AttachStdin", Ty::Bool),
    Field::new("AttachStderr", Ty::Bool),
    Field::new("AttachStdout", Ty::Bool),
    Field::new("Detach", Ty::Bool),
    Field::new("DetachKeys", Ty::Str),
    Field::new("Env", STRINGS),
    Field::new("WorkingDir", Ty::Str),
    Field::new("Cmd", STRINGS),
]);

/// `volume.VolumeCreateBody`.
pub(crate) static VOLUME_CREATE: StructTy = StructTy::new(&[
    Field::new("Driver", Ty::Str),
    Field::new("DriverOpts", STRING_MAP),
    Field::new("Labels", STRING_MAP),
    Field::new("Name", Ty::Str),
]);

static IPAM_CONFIG: StructTy = StructTy::new(&[
    Field::new("Subnet", Ty::Str),
    Field::new("IPRange", Ty::Str),
    Field::new("Gateway", Ty::Str),
    Field::new("AuxiliaryAddresses", STRING_MAP),
]);

static IPAM: StructTy = StructTy::new(&[
    Field::new("Driver", Ty::Str),
    Field::new("Options", STRING_MAP),
    Field::new("Config", Ty::Slice(&Ty::Struct(&IPAM_CONFIG))),
]);

static CONFIG_REFERENCE: StructTy = StructTy::new(&[Field::new("Network", Ty::Str)]);

static NETWORK_CREATE: StructTy = StructTy::new(&[
    Field::new("CheckDuplicate", Ty::Bool),
    Field::new("Driver", Ty::Str),
    Field::new("Scope", Ty::Str),
    Field::new("EnableIPv6", Ty::Bool),
    Field::new("IPAM", Ty::Ptr(&Ty::Struct(&IPAM))),
    Field::new("Internal", Ty::Bool),
    Field::new("Attachable", Ty::Bool),
    Field::new("Ingress", Ty::Bool),
    Field::new("ConfigOnly", Ty::Bool),
    Field::new("ConfigFrom", Ty::Ptr(&Ty::Struct(&CONFIG_REFERENCE))),
    Field::new("Options", STRING_MAP),
    Field::new("Labels", STRING_MAP),
]);

/// `types.NetworkCreateRequest` (`NetworkCreate` embedded, then `Name`).
pub(crate) static NETWORK_CREATE_REQUEST: StructTy = StructTy::new(&[
    Field::embedded("NetworkCreate", Ty::Struct(&NETWORK_CREATE)),
    Field::new("Name", Ty::Str),
]);

/// `container.UpdateConfig` (`Resources` embedded).
pub(crate) static UPDATE_CONFIG: StructTy = StructTy::new(&[
    Field::embedded("Resources", Ty::Struct(&RESOURCES)),
    Field::new("RestartPolicy", Ty::Struct(&RESTART_POLICY)),
]);

/// `swarm.SELinuxContext`.
pub(crate) static SELINUX_CONTEXT: StructTy = StructTy::new(&[
    Field::new("Disable", Ty::Bool),
    Field::new("User", Ty::Str),
    Field::new("Role", Ty::Str),
    Field::new("Type", Ty::Str),
    Field::new("Level", Ty::Str),
]);

/// `swarm.SeccompOpts` (API 1.42+; `Profile` is `[]byte`).
pub(crate) static SECCOMP_OPTS: StructTy =
    StructTy::new(&[Field::new("Mode", Ty::Str), Field::new("Profile", Ty::Raw)]);

/// `swarm.AppArmorOpts` (API 1.42+).
pub(crate) static APPARMOR_OPTS: StructTy = StructTy::new(&[Field::new("Mode", Ty::Str)]);

/// `swarm.Privileges`.
pub(crate) static PRIVILEGES: StructTy = StructTy::new(&[
    Field::new("CredentialSpec", Ty::Raw),
    Field::new("SELinuxContext", Ty::Ptr(&Ty::Struct(&SELINUX_CONTEXT))),
    Field::new("Seccomp", Ty::Ptr(&Ty::Struct(&SECCOMP_OPTS))),
    Field::new("AppArmor", Ty::Ptr(&Ty::Struct(&APPARMOR_OPTS))),
    Field::new("NoNewPrivileges", Ty::Bool),
]);

/// `swarm.ContainerSpec`.
pub(crate) static CONTAINER_SPEC: StructTy = StructTy::new(&[
    Field::new("Image", Ty::Str),
    Field::new("Labels", STRING_MAP),
    Field::new("Command", STRINGS),
    Field::new("Args", STRINGS),
    Field::new("Hostname", Ty::Str),
    Field::new("Env", STRINGS),
    Field::new("Dir", Ty::Str),
    Field::new("User", Ty::Str),
    Field::new("Groups", STRINGS),
    Field::new("Privileges", Ty::Ptr(&Ty::Struct(&PRIVILEGES))),
    Field::new("Init", Ty::Ptr(&Ty::Bool)),
    Field::new("StopSignal", Ty::Str),
    Field::new("TTY", Ty::Bool),
    Field::new("OpenStdin", Ty::Bool),
    Field::new("ReadOnly", Ty::Bool),
    Field::new("Mounts", Ty::Slice(&Ty::Struct(&MOUNT))),
    Field::new("StopGracePeriod", Ty::Ptr(&INT)),
    Field::new("Healthcheck", Ty::Ptr(&Ty::Struct(&HEALTH_CONFIG))),
    Field::new("Hosts", STRINGS),
    Field::new("DNSConfig", Ty::Raw),
    Field::new("Secrets", Ty::Raw),
    Field::new("Configs", Ty::Raw),
    Field::new("Isolation", Ty::Str),
    Field::new("Sysctls", STRING_MAP),
    Field::new("CapabilityAdd", STRINGS),
    Field::new("CapabilityDrop", STRINGS),
    Field::new("Ulimits", Ty::Slice(&Ty::Ptr(&Ty::Struct(&ULIMIT)))),
]);

/// `swarm.NetworkAttachmentConfig`.
pub(crate) static NETWORK_ATTACHMENT: StructTy = StructTy::new(&[
    Field::new("Target", Ty::Str),
    Field::new("Aliases", STRINGS),
    Field::new("DriverOpts", STRING_MAP),
]);

/// `swarm.TaskSpec`.
pub(crate) static TASK_SPEC: StructTy = StructTy::new(&[
    Field::new("ContainerSpec", Ty::Ptr(&Ty::Struct(&CONTAINER_SPEC))),
    Field::new("PluginSpec", Ty::Raw),
    Field::new("NetworkAttachmentSpec", Ty::Raw),
    Field::new("Resources", Ty::Raw),
    Field::new("RestartPolicy", Ty::Raw),
    Field::new("Placement", Ty::Raw),
    Field::new("Networks", Ty::Slice(&Ty::Struct(&NETWORK_ATTACHMENT))),
    Field::new("LogDriver", Ty::Raw),
    Field::new("ForceUpdate", Ty::Uint(64)),
    Field::new("Runtime", Ty::Str),
]);

/// `swarm.Annotations`.
pub(crate) static ANNOTATIONS: StructTy = StructTy::new(&[
    Field::new("Name", Ty::Str),
    Field::new("Labels", STRING_MAP),
]);

/// `swarm.ServiceSpec` (`Annotations` embedded).
pub(crate) static SERVICE_SPEC: StructTy = StructTy::new(&[
    Field::embedded("Annotations", Ty::Struct(&ANNOTATIONS)),
    Field::new("TaskTemplate", Ty::Struct(&TASK_SPEC)),
    Field::new("Mode", Ty::Raw),
    Field::new("UpdateConfig", Ty::Raw),
    Field::new("RollbackConfig", Ty::Raw),
    Field::new("Networks", Ty::Slice(&Ty::Struct(&NETWORK_ATTACHMENT))),
    Field::new("EndpointSpec", Ty::Raw),
]);

/// `types.PluginPrivilege`.
pub(crate) static PLUGIN_PRIVILEGE: StructTy = StructTy::new(&[
    Field::new("Name", Ty::Str),
    Field::new("Description", Ty::Str),
    Field::new("Value", STRINGS),
]);

/// `authorization.Response`, a plugin's reply as dockerd's plugin client reads it.
pub(crate) static AUTHZ_RESPONSE: StructTy = StructTy::new(&[
    Field::new("Allow", Ty::Bool),
    Field::new("Msg", Ty::Str),
    Field::new("Err", Ty::Str),
]);

/// `plugins.Manifest`, a plugin's answer to `Plugin.Activate`.
pub(crate) static PLUGIN_MANIFEST: StructTy = StructTy::new(&[Field::new("Implements", STRINGS)]);

/// `struct{ Err string }`, what `callWithRetry` reads a non-200 answer into.
pub(crate) static PLUGIN_ERROR: StructTy = StructTy::new(&[Field::new("Err", Ty::Str)]);

#[cfg(test)]
mod tests {
    use super::*;

    /// Go drops names that collide at the same depth; none of ours may, or the table would
    /// silently hide a field the daemon reads.
    #[test]
    fn no_promoted_field_names_collide() {
        for st in [
            &CONTAINER_CONFIG_WRAPPER,
            &UPDATE_CONFIG,
            &SERVICE_SPEC,
            &NETWORK_CREATE_REQUEST,
        ] {
            let flat = st.flat_fields();
            let declared: usize = count_leaf_fields(st);
            assert_eq!(flat.len(), declared);
        }
    }

    fn count_leaf_fields(st: &'static StructTy) -> usize {
        st.fields
            .iter()
            .map(|f| match (&f.ty, f.embedded) {
                (Ty::Struct(s), true) | (Ty::Ptr(Ty::Struct(s)), true) => count_leaf_fields(s),
                _ => 1,
            })
            .sum()
    }

    #[test]
    fn top_level_privileged_of_a_create_body_reaches_the_embedded_host_config() {
        let flat = CONTAINER_CONFIG_WRAPPER.flat_fields();
        let privileged = flat.iter().find(|f| f.name == "Privileged").unwrap();
        assert_eq!(privileged.path, vec![wrapper::EMBEDDED_HOST_CONFIG, 22]);
        let host_config = flat.iter().find(|f| f.name == "HostConfig").unwrap();
        assert_eq!(host_config.path, vec![wrapper::INNER_HOST_CONFIG]);
    }
}
