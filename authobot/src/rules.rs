//! The catalogue of built-in rules: their stable names and what each one refuses.
//!
//! Deny messages, audit lines and policy files all name rules by these ids, so they are
//! kept in one place; `disable = [...]` in a policy is checked against this list.

/// A built-in rule: its stable id and the one-line reason printed in docs and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo {
    /// The id used in policies and deny messages (`no-privileged`).
    pub id: &'static str,
    /// What it refuses, in one sentence.
    pub summary: &'static str,
}

/// The request target cannot be trusted to route the way it parses.
pub const ROUTE_UNPARSEABLE: &str = "route-unparseable";
/// A form-encoded body, which dockerd would read as query parameters we never saw.
pub const NO_FORM_BODY: &str = "no-form-body";
/// A body-carrying endpoint arrived without its body.
pub const BODY_NOT_FORWARDED: &str = "body-not-forwarded";
/// A body that cannot be read the way dockerd reads it.
pub const BODY_UNREADABLE: &str = "body-unreadable";
/// The caller has no profile in the policy.
pub const NO_PROFILE: &str = "no-profile";
/// No route rule matched: the policy's default decision applied.
pub const DEFAULT: &str = "default";
/// `HostConfig.Binds` entries with a host path.
pub const NO_HOST_BINDS: &str = "no-host-binds";
/// Mounts of type `bind`.
pub const NO_BIND_MOUNTS: &str = "no-bind-mounts";
/// Volumes whose local driver options bind a host path.
pub const NO_VOLUME_HOST_BINDS: &str = "no-volume-host-binds";
/// `HostConfig.VolumesFrom`.
pub const NO_VOLUMES_FROM: &str = "no-volumes-from";
/// Volume drivers other than `local` outside the allow-list.
pub const NO_VOLUME_DRIVERS: &str = "no-volume-drivers";
/// Privileged containers and privileged exec sessions.
pub const NO_PRIVILEGED: &str = "no-privileged";
/// Added capabilities outside the allow-list.
pub const NO_CAP_ADD: &str = "no-cap-add";
/// Security options that weaken confinement.
pub const NO_UNCONFINED: &str = "no-unconfined";
/// Sharing the host's (or another container's) namespaces.
pub const NO_HOST_NAMESPACES: &str = "no-host-namespaces";
/// Host devices outside the allow-list.
pub const NO_DEVICES: &str = "no-devices";
/// Device cgroup rules.
pub const NO_DEVICE_CGROUP_RULES: &str = "no-device-cgroup-rules";
/// Device requests (`--gpus`).
pub const NO_DEVICE_REQUESTS: &str = "no-device-requests";
/// Sysctls outside the allow-list.
pub const NO_SYSCTLS: &str = "no-sysctls";
/// A chosen cgroup parent.
pub const NO_CGROUP_PARENT: &str = "no-cgroup-parent";
/// OCI runtimes outside the allow-list.
pub const NO_RUNTIME: &str = "no-runtime";
/// Overrides of the masked and read-only kernel paths.
pub const NO_PATH_OVERRIDES: &str = "no-path-overrides";
/// Plugin privileges outside the allow-list.
pub const NO_PLUGIN_PRIVILEGES: &str = "no-plugin-privileges";
/// Plugin settings that point a plugin at host paths.
pub const NO_PLUGIN_HOST_SETTINGS: &str = "no-plugin-host-settings";
/// CRIU checkpoint directories on the host.
pub const NO_CHECKPOINT_DIR: &str = "no-checkpoint-dir";
/// The Rego policy's query (`[rego]`, or a `.rego` policy file) was not `true`.
pub const REGO: &str = "rego";

/// Every built-in rule, in the order the README documents them.
pub const RULES: &[RuleInfo] = &[
    RuleInfo { id: ROUTE_UNPARSEABLE, summary: "the request target does not route the way it parses (bad encoding, unknown route): dockerd might execute something other than what the policy matched" },
    RuleInfo { id: NO_FORM_BODY, summary: "a form-encoded body: Go's r.FormValue would read its fields (networkmode, checkpoint-dir, ...) like query parameters, and the daemon never forwards it to plugins; no Docker client sends one" },
    RuleInfo { id: BODY_NOT_FORWARDED, summary: "a body-carrying endpoint whose body did not reach the plugin (chunked: CVE-2024-41110; 1 MiB or more: CVE-2026-34040), while the daemon still acts on it" },
    RuleInfo { id: BODY_UNREADABLE, summary: "a body that is not what dockerd would decode for that endpoint" },
    RuleInfo { id: NO_PROFILE, summary: "the caller (TLS user, or anonymous on the unix socket) has no profile in the policy" },
    RuleInfo { id: DEFAULT, summary: "no route rule matched; the policy's `default` decided" },
    RuleInfo { id: NO_HOST_BINDS, summary: "HostConfig.Binds with a host path, unless under `bind_prefixes` (and read-only unless `bind_read_write`)" },
    RuleInfo { id: NO_BIND_MOUNTS, summary: "Mounts of type bind (containers and services), with the same allow-list as no-host-binds" },
    RuleInfo { id: NO_VOLUME_HOST_BINDS, summary: "volumes of the local driver with bind options (`type=none,o=bind,device=/`), in Mounts, services and volume create" },
    RuleInfo { id: NO_VOLUME_DRIVERS, summary: "volume drivers other than local (volume create, HostConfig.VolumeDriver, mount driver configs) not listed in `volume_drivers`: a third-party driver may mount any host path it is told to" },
    RuleInfo { id: NO_VOLUMES_FROM, summary: "HostConfig.VolumesFrom: it copies another container's mounts, host binds included" },
    RuleInfo { id: NO_PRIVILEGED, summary: "privileged containers (HostConfig.Privileged) and privileged exec sessions: every capability and every host device" },
    RuleInfo { id: NO_CAP_ADD, summary: "capabilities added beyond `capabilities` (CapAdd as the daemon normalises it, services' CapabilityAdd)" },
    RuleInfo { id: NO_UNCONFINED, summary: "security options that turn off or replace seccomp, AppArmor or SELinux labels (containers, services, build securityopt), unless listed in `security_opts`" },
    RuleInfo { id: NO_HOST_NAMESPACES, summary: "Pid/Ipc/Network/UTS/Userns/Cgroupns mode host, `container:` modes, the host network for services, build networkmode=host" },
    RuleInfo { id: NO_DEVICES, summary: "host devices (create and update) not listed in `devices`" },
    RuleInfo { id: NO_DEVICE_CGROUP_RULES, summary: "device cgroup rules (create and update): they open host devices to the container" },
    RuleInfo { id: NO_DEVICE_REQUESTS, summary: "device requests such as --gpus (create and update)" },
    RuleInfo { id: NO_SYSCTLS, summary: "sysctls (containers and services) not listed in `sysctls`" },
    RuleInfo { id: NO_CGROUP_PARENT, summary: "a cgroup parent (create, update, build): it moves the container out of the daemon's cgroup tree and limits" },
    RuleInfo { id: NO_RUNTIME, summary: "an OCI runtime not listed in `runtimes`" },
    RuleInfo { id: NO_PATH_OVERRIDES, summary: "MaskedPaths or ReadonlyPaths given: they replace the kernel paths the daemon hides or makes read-only" },
    RuleInfo { id: NO_PLUGIN_PRIVILEGES, summary: "plugin pull or upgrade granting privileges not listed in `plugin_privileges`; plugin archives (create) cannot be inspected at all" },
    RuleInfo { id: NO_PLUGIN_HOST_SETTINGS, summary: "plugin set of a mount source or device path (`NAME.source=`, `NAME.path=`)" },
    RuleInfo { id: NO_CHECKPOINT_DIR, summary: "container start with a checkpoint-dir: CRIU restores from a host directory" },
    RuleInfo { id: REGO, summary: "the Rego policy's query (data.docker.authz.allow by default) is not true for the call: false, undefined, not a boolean, or its evaluation failed" },
];

/// Looks a built-in rule up by id.
pub fn rule(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.id == id)
}

/// Rules a profile may switch off with `disable`: the body and query rules.
pub fn is_disableable(id: &str) -> bool {
    !matches!(
        id,
        ROUTE_UNPARSEABLE | NO_PROFILE | DEFAULT | BODY_UNREADABLE | REGO
    )
}
