//! The Go types dockerd 20.10.24 decodes request bodies into, written down as data.
//!
//! Field names, order, Go types and embedding follow moby v20.10.24 (`api/types/container`,
//! `api/types/mount`, `api/types/network`, `api/types/volume`, `api/types/swarm`,
//! `runconfig/config_unix.go`); the swarm `Privileges` also carries the `Seccomp`/`AppArmor`
//! fields later daemons added (a 20.10 daemon ignores them; reading them costs nothing).
//! Sub-objects no policy reads are [`Ty::Raw`]. Fields the model reads are `Field::read`;
//! the others are `Field::checked`, decoded for Go's type check only and never stored. The
//! Go oracle (`protocol/oracle/main.go`) declares the same structs.

use super::go::{Field, StructTy, Ty};

const STRINGS: Ty = Ty::Slice(&Ty::Str);
const STRING_MAP: Ty = Ty::Map(&Ty::Str);
const INT: Ty = Ty::Int(64);

static EMPTY: StructTy = StructTy::new(&[]);

pub(crate) static HEALTH_CONFIG: StructTy = StructTy::new(&[
    Field::checked("Test", STRINGS),
    Field::checked("Interval", INT),
    Field::checked("Timeout", INT),
    Field::checked("StartPeriod", INT),
    Field::checked("Retries", INT),
]);

/// `container.Config`.
pub(crate) static CONFIG: StructTy = StructTy::new(&[
    Field::checked("Hostname", Ty::Str),
    Field::checked("Domainname", Ty::Str),
    Field::read("User", Ty::Str),
    Field::checked("AttachStdin", Ty::Bool),
    Field::checked("AttachStdout", Ty::Bool),
    Field::checked("AttachStderr", Ty::Bool),
    Field::checked("ExposedPorts", Ty::Map(&Ty::Struct(&EMPTY))),
    Field::checked("Tty", Ty::Bool),
    Field::checked("OpenStdin", Ty::Bool),
    Field::checked("StdinOnce", Ty::Bool),
    Field::checked("Env", STRINGS),
    Field::checked("Cmd", Ty::StrSlice),
    Field::checked("Healthcheck", Ty::Ptr(&Ty::Struct(&HEALTH_CONFIG))),
    Field::checked("ArgsEscaped", Ty::Bool),
    Field::read("Image", Ty::Str),
    Field::read("Volumes", Ty::Map(&Ty::Struct(&EMPTY))),
    Field::checked("WorkingDir", Ty::Str),
    Field::checked("Entrypoint", Ty::StrSlice),
    Field::checked("NetworkDisabled", Ty::Bool),
    Field::checked("MacAddress", Ty::Str),
    Field::checked("OnBuild", STRINGS),
    Field::read("Labels", STRING_MAP),
    Field::checked("StopSignal", Ty::Str),
    Field::checked("StopTimeout", Ty::Ptr(&INT)),
    Field::checked("Shell", Ty::StrSlice),
]);

static LOG_CONFIG: StructTy = StructTy::new(&[
    Field::checked("Type", Ty::Str),
    Field::checked("Config", STRING_MAP),
]);

static PORT_BINDING: StructTy = StructTy::new(&[
    Field::checked("HostIp", Ty::Str),
    Field::checked("HostPort", Ty::Str),
]);

/// `container.RestartPolicy`.
static RESTART_POLICY: StructTy = StructTy::new(&[
    Field::checked("Name", Ty::Str),
    Field::checked("MaximumRetryCount", INT),
]);

static WEIGHT_DEVICE: StructTy = StructTy::new(&[
    Field::checked("Path", Ty::Str),
    Field::checked("Weight", Ty::Uint(16)),
]);

static THROTTLE_DEVICE: StructTy = StructTy::new(&[
    Field::checked("Path", Ty::Str),
    Field::checked("Rate", Ty::Uint(64)),
]);

static ULIMIT: StructTy = StructTy::new(&[
    Field::checked("Name", Ty::Str),
    Field::checked("Hard", INT),
    Field::checked("Soft", INT),
]);

/// `container.DeviceMapping`.
pub(crate) static DEVICE_MAPPING: StructTy = StructTy::new(&[
    Field::read("PathOnHost", Ty::Str),
    Field::read("PathInContainer", Ty::Str),
    Field::read("CgroupPermissions", Ty::Str),
]);

/// `container.DeviceRequest`.
pub(crate) static DEVICE_REQUEST: StructTy = StructTy::new(&[
    Field::read("Driver", Ty::Str),
    Field::read("Count", INT),
    Field::read("DeviceIDs", STRINGS),
    Field::read("Capabilities", Ty::Slice(&STRINGS)),
    Field::read("Options", STRING_MAP),
]);

/// `container.Resources`.
pub(crate) static RESOURCES: StructTy = StructTy::new(&[
    Field::checked("CpuShares", INT),
    Field::checked("Memory", INT),
    Field::checked("NanoCpus", INT),
    Field::read("CgroupParent", Ty::Str),
    Field::checked("BlkioWeight", Ty::Uint(16)),
    Field::checked(
        "BlkioWeightDevice",
        Ty::Slice(&Ty::Ptr(&Ty::Struct(&WEIGHT_DEVICE))),
    ),
    Field::checked(
        "BlkioDeviceReadBps",
        Ty::Slice(&Ty::Ptr(&Ty::Struct(&THROTTLE_DEVICE))),
    ),
    Field::checked(
        "BlkioDeviceWriteBps",
        Ty::Slice(&Ty::Ptr(&Ty::Struct(&THROTTLE_DEVICE))),
    ),
    Field::checked(
        "BlkioDeviceReadIOps",
        Ty::Slice(&Ty::Ptr(&Ty::Struct(&THROTTLE_DEVICE))),
    ),
    Field::checked(
        "BlkioDeviceWriteIOps",
        Ty::Slice(&Ty::Ptr(&Ty::Struct(&THROTTLE_DEVICE))),
    ),
    Field::checked("CpuPeriod", INT),
    Field::checked("CpuQuota", INT),
    Field::checked("CpuRealtimePeriod", INT),
    Field::checked("CpuRealtimeRuntime", INT),
    Field::checked("CpusetCpus", Ty::Str),
    Field::checked("CpusetMems", Ty::Str),
    Field::read("Devices", Ty::Slice(&Ty::Struct(&DEVICE_MAPPING))),
    Field::read("DeviceCgroupRules", STRINGS),
    Field::read("DeviceRequests", Ty::Slice(&Ty::Struct(&DEVICE_REQUEST))),
    Field::checked("KernelMemory", INT),
    Field::checked("KernelMemoryTCP", INT),
    Field::checked("MemoryReservation", INT),
    Field::checked("MemorySwap", INT),
    Field::checked("MemorySwappiness", Ty::Ptr(&INT)),
    Field::checked("OomKillDisable", Ty::Ptr(&Ty::Bool)),
    Field::checked("PidsLimit", Ty::Ptr(&INT)),
    Field::checked("Ulimits", Ty::Slice(&Ty::Ptr(&Ty::Struct(&ULIMIT)))),
    Field::checked("CpuCount", INT),
    Field::checked("CpuPercent", INT),
    Field::checked("IOMaximumIOps", Ty::Uint(64)),
    Field::checked("IOMaximumBandwidth", Ty::Uint(64)),
]);

/// `mount.BindOptions`.
pub(crate) static BIND_OPTIONS: StructTy = StructTy::new(&[
    Field::read("Propagation", Ty::Str),
    Field::read("NonRecursive", Ty::Bool),
]);

/// `mount.Driver`.
pub(crate) static DRIVER: StructTy = StructTy::new(&[
    Field::read("Name", Ty::Str),
    Field::read("Options", STRING_MAP),
]);

/// `mount.VolumeOptions`.
pub(crate) static VOLUME_OPTIONS: StructTy = StructTy::new(&[
    Field::read("NoCopy", Ty::Bool),
    Field::read("Labels", STRING_MAP),
    Field::read("DriverConfig", Ty::Ptr(&Ty::Struct(&DRIVER))),
]);

pub(crate) static TMPFS_OPTIONS: StructTy = StructTy::new(&[
    Field::checked("SizeBytes", INT),
    Field::checked("Mode", Ty::Uint(32)),
]);

/// `mount.Mount`.
pub(crate) static MOUNT: StructTy = StructTy::new(&[
    Field::read("Type", Ty::Str),
    Field::read("Source", Ty::Str),
    Field::read("Target", Ty::Str),
    Field::read("ReadOnly", Ty::Bool),
    Field::checked("Consistency", Ty::Str),
    Field::read("BindOptions", Ty::Ptr(&Ty::Struct(&BIND_OPTIONS))),
    Field::read("VolumeOptions", Ty::Ptr(&Ty::Struct(&VOLUME_OPTIONS))),
    Field::checked("TmpfsOptions", Ty::Ptr(&Ty::Struct(&TMPFS_OPTIONS))),
]);

/// `container.HostConfig`.
pub(crate) static HOST_CONFIG: StructTy = StructTy::new(&[
    Field::read("Binds", STRINGS),
    Field::checked("ContainerIDFile", Ty::Str),
    Field::checked("LogConfig", Ty::Struct(&LOG_CONFIG)),
    Field::read("NetworkMode", Ty::Str),
    Field::checked(
        "PortBindings",
        Ty::Map(&Ty::Slice(&Ty::Struct(&PORT_BINDING))),
    ),
    Field::checked("RestartPolicy", Ty::Struct(&RESTART_POLICY)),
    Field::checked("AutoRemove", Ty::Bool),
    Field::read("VolumeDriver", Ty::Str),
    Field::read("VolumesFrom", STRINGS),
    Field::read("CapAdd", Ty::StrSlice),
    Field::read("CapDrop", Ty::StrSlice),
    Field::read("CgroupnsMode", Ty::Str),
    Field::checked("Dns", STRINGS),
    Field::checked("DnsOptions", STRINGS),
    Field::checked("DnsSearch", STRINGS),
    Field::checked("ExtraHosts", STRINGS),
    Field::checked("GroupAdd", STRINGS),
    Field::read("IpcMode", Ty::Str),
    Field::checked("Cgroup", Ty::Str),
    Field::read("Links", STRINGS),
    Field::checked("OomScoreAdj", INT),
    Field::read("PidMode", Ty::Str),
    Field::read("Privileged", Ty::Bool),
    Field::checked("PublishAllPorts", Ty::Bool),
    Field::checked("ReadonlyRootfs", Ty::Bool),
    Field::read("SecurityOpt", STRINGS),
    Field::checked("StorageOpt", STRING_MAP),
    Field::checked("Tmpfs", STRING_MAP),
    Field::read("UTSMode", Ty::Str),
    Field::read("UsernsMode", Ty::Str),
    Field::checked("ShmSize", INT),
    Field::read("Sysctls", STRING_MAP),
    Field::read("Runtime", Ty::Str),
    Field::checked("ConsoleSize", Ty::Array(2, &Ty::Uint(64))),
    Field::checked("Isolation", Ty::Str),
    Field::embedded("Resources", Ty::Struct(&RESOURCES)),
    Field::read("Mounts", Ty::Slice(&Ty::Struct(&MOUNT))),
    Field::read("MaskedPaths", STRINGS),
    Field::read("ReadonlyPaths", STRINGS),
    Field::checked("Init", Ty::Ptr(&Ty::Bool)),
]);

pub(crate) static ENDPOINT_IPAM_CONFIG: StructTy = StructTy::new(&[
    Field::checked("IPv4Address", Ty::Str),
    Field::checked("IPv6Address", Ty::Str),
    Field::checked("LinkLocalIPs", STRINGS),
]);

static ENDPOINT_SETTINGS: StructTy = StructTy::new(&[
    Field::checked("IPAMConfig", Ty::Ptr(&Ty::Struct(&ENDPOINT_IPAM_CONFIG))),
    Field::checked("Links", STRINGS),
    Field::checked("Aliases", STRINGS),
    Field::checked("NetworkID", Ty::Str),
    Field::checked("EndpointID", Ty::Str),
    Field::checked("Gateway", Ty::Str),
    Field::checked("IPAddress", Ty::Str),
    Field::checked("IPPrefixLen", INT),
    Field::checked("IPv6Gateway", Ty::Str),
    Field::checked("GlobalIPv6Address", Ty::Str),
    Field::checked("GlobalIPv6PrefixLen", INT),
    Field::checked("MacAddress", Ty::Str),
    Field::checked("DriverOpts", STRING_MAP),
]);

/// `network.NetworkingConfig`.
pub(crate) static NETWORKING_CONFIG: StructTy = StructTy::new(&[Field::read(
    "EndpointsConfig",
    Ty::Map(&Ty::Ptr(&Ty::Struct(&ENDPOINT_SETTINGS))),
)]);

/// `runconfig.ContainerConfigWrapper` (unix, 20.10): the create body and the old-API start
/// body. The field named `HostConfig` here is `InnerHostConfig`; the embedded `*HostConfig`
/// promotes its fields to the top level.
pub(crate) static CONTAINER_CONFIG_WRAPPER: StructTy = StructTy::new(&[
    Field::embedded("Config", Ty::Ptr(&Ty::Struct(&CONFIG))),
    Field::read("HostConfig", Ty::Ptr(&Ty::Struct(&HOST_CONFIG))),
    Field::checked("Cpuset", Ty::Str),
    Field::read("NetworkingConfig", Ty::Ptr(&Ty::Struct(&NETWORKING_CONFIG))),
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
    Field::read("User", Ty::Str),
    Field::read("Privileged", Ty::Bool),
    Field::checked("Tty", Ty::Bool),
    Field::checked("AttachStdin", Ty::Bool),
    Field::checked("AttachStderr", Ty::Bool),
    Field::checked("AttachStdout", Ty::Bool),
    Field::checked("Detach", Ty::Bool),
    Field::checked("DetachKeys", Ty::Str),
    Field::read("Env", STRINGS),
    Field::read("WorkingDir", Ty::Str),
    Field::read("Cmd", STRINGS),
]);

/// `volume.VolumeCreateBody`.
pub(crate) static VOLUME_CREATE: StructTy = StructTy::new(&[
    Field::read("Driver", Ty::Str),
    Field::read("DriverOpts", STRING_MAP),
    Field::read("Labels", STRING_MAP),
    Field::read("Name", Ty::Str),
]);

pub(crate) static IPAM_CONFIG: StructTy = StructTy::new(&[
    Field::checked("Subnet", Ty::Str),
    Field::checked("IPRange", Ty::Str),
    Field::checked("Gateway", Ty::Str),
    Field::checked("AuxiliaryAddresses", STRING_MAP),
]);

static IPAM: StructTy = StructTy::new(&[
    Field::checked("Driver", Ty::Str),
    Field::checked("Options", STRING_MAP),
    Field::checked("Config", Ty::Slice(&Ty::Struct(&IPAM_CONFIG))),
]);

static CONFIG_REFERENCE: StructTy = StructTy::new(&[Field::checked("Network", Ty::Str)]);

static NETWORK_CREATE: StructTy = StructTy::new(&[
    Field::checked("CheckDuplicate", Ty::Bool),
    Field::read("Driver", Ty::Str),
    Field::checked("Scope", Ty::Str),
    Field::checked("EnableIPv6", Ty::Bool),
    Field::checked("IPAM", Ty::Ptr(&Ty::Struct(&IPAM))),
    Field::checked("Internal", Ty::Bool),
    Field::checked("Attachable", Ty::Bool),
    Field::checked("Ingress", Ty::Bool),
    Field::checked("ConfigOnly", Ty::Bool),
    Field::checked("ConfigFrom", Ty::Ptr(&Ty::Struct(&CONFIG_REFERENCE))),
    Field::checked("Options", STRING_MAP),
    Field::read("Labels", STRING_MAP),
]);

/// `types.NetworkCreateRequest` (`NetworkCreate` embedded, then `Name`).
pub(crate) static NETWORK_CREATE_REQUEST: StructTy = StructTy::new(&[
    Field::embedded("NetworkCreate", Ty::Struct(&NETWORK_CREATE)),
    Field::read("Name", Ty::Str),
]);

/// `container.UpdateConfig` (`Resources` embedded).
pub(crate) static UPDATE_CONFIG: StructTy = StructTy::new(&[
    Field::embedded("Resources", Ty::Struct(&RESOURCES)),
    Field::checked("RestartPolicy", Ty::Struct(&RESTART_POLICY)),
]);

/// `swarm.SELinuxContext`.
pub(crate) static SELINUX_CONTEXT: StructTy = StructTy::new(&[
    Field::read("Disable", Ty::Bool),
    Field::checked("User", Ty::Str),
    Field::checked("Role", Ty::Str),
    Field::checked("Type", Ty::Str),
    Field::checked("Level", Ty::Str),
]);

/// `swarm.SeccompOpts` (API 1.42+; `Profile` is `[]byte`).
pub(crate) static SECCOMP_OPTS: StructTy = StructTy::new(&[
    Field::read("Mode", Ty::Str),
    Field::checked("Profile", Ty::Raw),
]);

/// `swarm.AppArmorOpts` (API 1.42+).
pub(crate) static APPARMOR_OPTS: StructTy = StructTy::new(&[Field::read("Mode", Ty::Str)]);

/// `swarm.Privileges`.
pub(crate) static PRIVILEGES: StructTy = StructTy::new(&[
    Field::checked("CredentialSpec", Ty::Raw),
    Field::read("SELinuxContext", Ty::Ptr(&Ty::Struct(&SELINUX_CONTEXT))),
    Field::read("Seccomp", Ty::Ptr(&Ty::Struct(&SECCOMP_OPTS))),
    Field::read("AppArmor", Ty::Ptr(&Ty::Struct(&APPARMOR_OPTS))),
    Field::checked("NoNewPrivileges", Ty::Bool),
]);

/// `swarm.ContainerSpec`.
pub(crate) static CONTAINER_SPEC: StructTy = StructTy::new(&[
    Field::read("Image", Ty::Str),
    Field::checked("Labels", STRING_MAP),
    Field::checked("Command", STRINGS),
    Field::checked("Args", STRINGS),
    Field::checked("Hostname", Ty::Str),
    Field::checked("Env", STRINGS),
    Field::checked("Dir", Ty::Str),
    Field::checked("User", Ty::Str),
    Field::checked("Groups", STRINGS),
    Field::read("Privileges", Ty::Ptr(&Ty::Struct(&PRIVILEGES))),
    Field::checked("Init", Ty::Ptr(&Ty::Bool)),
    Field::checked("StopSignal", Ty::Str),
    Field::checked("TTY", Ty::Bool),
    Field::checked("OpenStdin", Ty::Bool),
    Field::checked("ReadOnly", Ty::Bool),
    Field::read("Mounts", Ty::Slice(&Ty::Struct(&MOUNT))),
    Field::checked("StopGracePeriod", Ty::Ptr(&INT)),
    Field::checked("Healthcheck", Ty::Ptr(&Ty::Struct(&HEALTH_CONFIG))),
    Field::checked("Hosts", STRINGS),
    Field::checked("DNSConfig", Ty::Raw),
    Field::checked("Secrets", Ty::Raw),
    Field::checked("Configs", Ty::Raw),
    Field::checked("Isolation", Ty::Str),
    Field::read("Sysctls", STRING_MAP),
    Field::read("CapabilityAdd", STRINGS),
    Field::checked("CapabilityDrop", STRINGS),
    Field::checked("Ulimits", Ty::Slice(&Ty::Ptr(&Ty::Struct(&ULIMIT)))),
]);

/// `swarm.NetworkAttachmentConfig`.
pub(crate) static NETWORK_ATTACHMENT: StructTy = StructTy::new(&[
    Field::read("Target", Ty::Str),
    Field::checked("Aliases", STRINGS),
    Field::checked("DriverOpts", STRING_MAP),
]);

/// `swarm.TaskSpec`.
pub(crate) static TASK_SPEC: StructTy = StructTy::new(&[
    Field::read("ContainerSpec", Ty::Ptr(&Ty::Struct(&CONTAINER_SPEC))),
    Field::checked("PluginSpec", Ty::Raw),
    Field::checked("NetworkAttachmentSpec", Ty::Raw),
    Field::checked("Resources", Ty::Raw),
    Field::checked("RestartPolicy", Ty::Raw),
    Field::checked("Placement", Ty::Raw),
    Field::read("Networks", Ty::Slice(&Ty::Struct(&NETWORK_ATTACHMENT))),
    Field::checked("LogDriver", Ty::Raw),
    Field::checked("ForceUpdate", Ty::Uint(64)),
    Field::checked("Runtime", Ty::Str),
]);

/// `swarm.Annotations`.
pub(crate) static ANNOTATIONS: StructTy = StructTy::new(&[
    Field::read("Name", Ty::Str),
    Field::read("Labels", STRING_MAP),
]);

/// `swarm.ServiceSpec` (`Annotations` embedded).
pub(crate) static SERVICE_SPEC: StructTy = StructTy::new(&[
    Field::embedded("Annotations", Ty::Struct(&ANNOTATIONS)),
    Field::read("TaskTemplate", Ty::Struct(&TASK_SPEC)),
    Field::checked("Mode", Ty::Raw),
    Field::checked("UpdateConfig", Ty::Raw),
    Field::checked("RollbackConfig", Ty::Raw),
    Field::read("Networks", Ty::Slice(&Ty::Struct(&NETWORK_ATTACHMENT))),
    Field::checked("EndpointSpec", Ty::Raw),
]);

/// `types.PluginPrivilege`.
pub(crate) static PLUGIN_PRIVILEGE: StructTy = StructTy::new(&[
    Field::read("Name", Ty::Str),
    Field::read("Description", Ty::Str),
    Field::read("Value", STRINGS),
]);

/// `authorization.Response`, a plugin's reply as dockerd's plugin client reads it.
pub(crate) static AUTHZ_RESPONSE: StructTy = StructTy::new(&[
    Field::read("Allow", Ty::Bool),
    Field::read("Msg", Ty::Str),
    Field::read("Err", Ty::Str),
]);

/// `plugins.Manifest`, a plugin's answer to `Plugin.Activate`.
pub(crate) static PLUGIN_MANIFEST: StructTy = StructTy::new(&[Field::read("Implements", STRINGS)]);

/// `struct{ Err string }`, what `callWithRetry` reads a non-200 answer into.
pub(crate) static PLUGIN_ERROR: StructTy = StructTy::new(&[Field::read("Err", Ty::Str)]);

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
