//! The host-escape rules: every way a Docker API body or query can reach the host
//! (DESIGN section 5), checked on the canonical objects the protocol crate decodes.
//!
//! Each check reads typed values only (never raw JSON), records what it read for
//! `explain`, and refuses with the rule id and a sentence saying why it is dangerous.
//! Allow-lists come from the caller's profile ([`Escapes`]).

use protocol::body::{
    go_path_clean, parse_security_opt, ContainerCreate, ContainerSpec, ContainerUpdate,
    DeviceMapping, DeviceRequest, ExecCreate, HostConfig, Mount, PluginPrivilege, PluginSettings,
    ServiceSpec, VolumeCreate,
};
use std::fmt;

use protocol::route::Route;

use crate::decision::FieldLog;
use crate::policy::Escapes;
use crate::rules::*;

/// A refusal by a built-in rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The rule id.
    pub rule: &'static str,
    /// What was refused (`HostConfig.Privileged`).
    pub what: String,
    /// Why it is refused.
    pub why: String,
}

/// The result of a check: `Err` carries the first refusal.
pub type Check = Result<(), Denial>;

fn is_under(path: &str, prefix: &str) -> bool {
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Runs the host-escape rules of one profile, recording the fields it reads.
#[derive(Debug)]
pub struct Checker<'a> {
    escapes: &'a Escapes,
    log: &'a mut FieldLog,
}

/// `{at}.{name}`, the dotted path of a field, written out only when a deny message or a
/// recording field log needs it: a create body names about 28 of them per decision, and
/// building each as a `String` was a tenth of an allowed decision's cost.
#[derive(Debug, Clone, Copy)]
struct FieldPath<'a> {
    /// The enclosing object's path; empty for a top-level field.
    at: &'a str,
    name: &'a str,
}

impl<'a> FieldPath<'a> {
    fn new(at: &'a str, name: &'a str) -> FieldPath<'a> {
        FieldPath { at, name }
    }

    /// A field named in full (`Devices`, `query.securityopt`).
    fn top(name: &'a str) -> FieldPath<'a> {
        FieldPath { at: "", name }
    }
}

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.at.is_empty() {
            f.write_str(self.at)?;
            f.write_str(".")?;
        }
        f.write_str(self.name)
    }
}

/// Text written by a closure when displayed, for deny messages that need more than
/// `format_args!` (a quoted string put together from parts).
struct Lazy<F>(F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Lazy<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

/// Serialises the items of an iterator as a JSON list, for the field log, without
/// collecting them first.
struct ListOf<I>(I);

impl<I> serde::Serialize for ListOf<I>
where
    I: Iterator + Clone,
    I::Item: serde::Serialize,
{
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.clone())
    }
}

impl<'a> Checker<'a> {
    /// A checker for `escapes` that records into `log`.
    pub fn new(escapes: &'a Escapes, log: &'a mut FieldLog) -> Checker<'a> {
        Checker { escapes, log }
    }

    /// Refuses with `rule` unless the profile disabled it. `what` is written out only for a
    /// refusal, so an allowed call builds no message.
    fn refuse(&self, rule: &'static str, what: impl fmt::Display, why: impl Into<String>) -> Check {
        if self.escapes.enforces(rule) {
            Err(Denial {
                rule,
                what: what.to_string(),
                why: why.into(),
            })
        } else {
            Ok(())
        }
    }

    /// `POST /containers/create`.
    pub fn container_create(&mut self, create: &ContainerCreate) -> Check {
        self.host_config("HostConfig", &create.host_config)?;
        self.log
            .read("NetworkingConfig.EndpointsConfig", &create.endpoints);
        for endpoint in &create.endpoints {
            if endpoint == "host" {
                self.refuse(
                    NO_HOST_NAMESPACES,
                    "NetworkingConfig.EndpointsConfig \"host\"",
                    "it puts the container in the host's network namespace",
                )?;
            }
        }
        Ok(())
    }

    /// A HostConfig: of a create, or the body of a start on API < 1.24.
    pub fn host_config(&mut self, at: &str, hc: &HostConfig) -> Check {
        let field = |name| FieldPath::new(at, name);
        self.log.read(field("Privileged"), hc.privileged);
        if hc.privileged {
            self.refuse(
                NO_PRIVILEGED,
                field("Privileged"),
                "a privileged container gets every capability and every host device",
            )?;
        }
        self.binds(at, hc)?;
        self.log.read(field("VolumeDriver"), &hc.volume_driver);
        self.volume_driver(field("VolumeDriver"), &hc.volume_driver)?;
        self.mounts(field("Mounts"), &hc.mounts)?;
        self.log.read(field("VolumesFrom"), &hc.volumes_from);
        if let Some(source) = hc.volumes_from.first() {
            self.refuse(
                NO_VOLUMES_FROM,
                format_args!("{at}.VolumesFrom {source:?}"),
                "it copies another container's mounts, host binds included",
            )?;
        }
        self.capabilities(field("CapAdd"), &hc.normalized_cap_add())?;
        self.security_opts(field("SecurityOpt"), &hc.security_opt)?;
        self.namespaces(at, hc)?;
        self.devices(field("Devices"), &hc.devices)?;
        self.device_cgroup_rules(field("DeviceCgroupRules"), &hc.device_cgroup_rules)?;
        self.device_requests(field("DeviceRequests"), &hc.device_requests)?;
        self.sysctls(field("Sysctls"), hc.sysctls.keys())?;
        self.cgroup_parent(field("CgroupParent"), &hc.cgroup_parent)?;
        self.log.read(field("Runtime"), &hc.runtime);
        if !hc.runtime.is_empty() && !self.escapes.runtimes.contains(&hc.runtime) {
            self.refuse(
                NO_RUNTIME,
                format_args!("{at}.Runtime {:?}", hc.runtime),
                "only the runtimes the policy lists confine containers as expected",
            )?;
        }
        for (name, paths) in [
            ("MaskedPaths", &hc.masked_paths),
            ("ReadonlyPaths", &hc.readonly_paths),
        ] {
            self.log.read(field(name), paths);
            if paths.is_some() {
                self.refuse(
                    NO_PATH_OVERRIDES,
                    field(name),
                    "it replaces the kernel paths the daemon hides or makes read-only (/proc/kcore, /sys/firmware, ...)",
                )?;
            }
        }
        Ok(())
    }

    fn binds(&mut self, at: &str, hc: &HostConfig) -> Check {
        self.log.read(FieldPath::new(at, "Binds"), &hc.binds);
        let binds = hc.parsed_binds().map_err(|e| Denial {
            rule: BODY_UNREADABLE,
            what: FieldPath::new(at, "Binds").to_string(),
            why: format!("dockerd would not read it as this plugin does: {e}"),
        })?;
        for bind in binds.iter().filter(|b| b.host_path) {
            self.host_path(
                NO_HOST_BINDS,
                Lazy(|f: &mut fmt::Formatter<'_>| {
                    let spec = format!("{}:{}", bind.source, bind.destination);
                    write!(f, "{at}.Binds entry {spec:?}")
                }),
                &bind.source,
                bind.read_only,
            )?;
        }
        Ok(())
    }

    fn host_path(
        &self,
        rule: &'static str,
        what: impl fmt::Display,
        path: &str,
        read_only: bool,
    ) -> Check {
        let path = go_path_clean(path);
        match self
            .escapes
            .bind_prefixes
            .iter()
            .find(|p| is_under(&path, p))
        {
            None => self.refuse(
                rule,
                what,
                format!("it mounts the host path {path} into the container"),
            ),
            Some(prefix) if !read_only && !self.escapes.bind_read_write => self.refuse(
                rule,
                what,
                format!("host paths under {prefix} may only be mounted read-only"),
            ),
            Some(_) => Ok(()),
        }
    }

    fn volume_driver(&self, what: impl fmt::Display, driver: &str) -> Check {
        if matches!(driver, "" | "local") || self.escapes.volume_drivers.contains(driver) {
            return Ok(());
        }
        self.refuse(
            NO_VOLUME_DRIVERS,
            format_args!("{what} {driver:?}"),
            "a volume driver other than local may mount any host path its options name",
        )
    }

    fn mounts(&mut self, at: FieldPath<'_>, mounts: &[Mount]) -> Check {
        self.log.read(at, mounts);
        for mount in mounts {
            let driver = mount
                .volume_options
                .as_ref()
                .and_then(|o| o.driver_config.as_ref())
                .map_or("", |d| d.name.as_str());
            self.volume_driver(
                format_args!("{at} entry of type {:?} with driver", mount.kind),
                driver,
            )?;
            let Some(path) = mount.host_path() else {
                continue;
            };
            if mount.kind == "bind" {
                self.host_path(
                    NO_BIND_MOUNTS,
                    format_args!("{at} entry of type bind with source {:?}", mount.source),
                    &path,
                    mount.read_only,
                )?;
            } else {
                self.host_path(
                    NO_VOLUME_HOST_BINDS,
                    format_args!(
                        "{at} entry of type {:?} whose local driver options bind {path:?}",
                        mount.kind
                    ),
                    &path,
                    mount.read_only,
                )?;
            }
        }
        Ok(())
    }

    /// `normalized`: the added capabilities as the daemon normalises them.
    fn capabilities(&mut self, at: FieldPath<'_>, normalized: &[String]) -> Check {
        self.log.read(at, normalized);
        for capability in normalized {
            if !self.escapes.capabilities.contains(capability) {
                self.refuse(
                    NO_CAP_ADD,
                    format_args!("{at} {capability}"),
                    capability_risk(capability),
                )?;
            }
        }
        Ok(())
    }

    fn security_opts(&mut self, at: FieldPath<'_>, options: &[String]) -> Check {
        self.log.read(at, options);
        for option in options {
            let split = parse_security_opt(option);
            if self.escapes.security_opts.contains(&split) {
                continue;
            }
            let (key, value) = split;
            let why = match (key.as_str(), value.as_str()) {
                ("no-new-privileges", "" | "1" | "t" | "T" | "true" | "TRUE" | "True") => continue,
                ("no-new-privileges", _) => "it keeps setuid privilege escalation available",
                ("seccomp", "unconfined") => "it turns the seccomp syscall filter off",
                ("seccomp", _) => "a custom seccomp profile can allow any syscall",
                ("apparmor", "unconfined") => "it turns AppArmor confinement off",
                ("apparmor", _) => "it replaces the AppArmor profile the daemon applies",
                ("label", "disable") => "it turns SELinux labelling off",
                ("label", _) => "it changes the SELinux label the daemon applies",
                _ => "it is not a security option this policy knows to be safe",
            };
            self.refuse(NO_UNCONFINED, format_args!("{at} {option:?}"), why)?;
        }
        Ok(())
    }

    fn namespaces(&mut self, at: &str, hc: &HostConfig) -> Check {
        let modes = [
            ("NetworkMode", &hc.network_mode, "network"),
            ("PidMode", &hc.pid_mode, "process"),
            ("IpcMode", &hc.ipc_mode, "IPC"),
            ("UTSMode", &hc.uts_mode, "hostname"),
            ("UsernsMode", &hc.userns_mode, "user"),
            ("CgroupnsMode", &hc.cgroupns_mode, "cgroup"),
        ];
        for (name, mode, kind) in modes {
            self.log.read(FieldPath::new(at, name), mode);
            self.namespace_mode(FieldPath::new(at, name), mode, kind)?;
        }
        Ok(())
    }

    fn namespace_mode(&self, what: impl fmt::Display, mode: &str, kind: &str) -> Check {
        let (head, tail) = mode.split_once(':').unwrap_or((mode, ""));
        if head.eq_ignore_ascii_case("host") {
            self.refuse(
                NO_HOST_NAMESPACES,
                format_args!("{what} {mode:?}"),
                format!("it shares the host's {kind} namespace"),
            )
        } else if head.eq_ignore_ascii_case("container") && mode.contains(':') {
            self.refuse(
                NO_HOST_NAMESPACES,
                format_args!("{what} {mode:?}"),
                format!("it joins the {kind} namespace of container {tail:?}, which may run with more privileges or belong to someone else"),
            )
        } else {
            Ok(())
        }
    }

    fn devices(&mut self, at: FieldPath<'_>, devices: &[DeviceMapping]) -> Check {
        self.log.read(at, devices);
        for device in devices {
            let path = go_path_clean(&device.path_on_host);
            if !self.escapes.devices.contains(&path) {
                self.refuse(
                    NO_DEVICES,
                    format_args!("{at} entry {:?}", device.path_on_host),
                    format!("it gives the container the host device {path}"),
                )?;
            }
        }
        Ok(())
    }

    fn device_cgroup_rules(&mut self, at: FieldPath<'_>, rules: &[String]) -> Check {
        self.log.read(at, rules);
        if let Some(rule) = rules.first() {
            self.refuse(
                NO_DEVICE_CGROUP_RULES,
                format_args!("{at} {rule:?}"),
                "it lets the container open host devices by number",
            )?;
        }
        Ok(())
    }

    fn device_requests(&mut self, at: FieldPath<'_>, requests: &[DeviceRequest]) -> Check {
        self.log.read(at, requests);
        if !requests.is_empty() {
            self.refuse(
                NO_DEVICE_REQUESTS,
                at,
                "it hands host devices (GPUs) and their driver libraries to the container",
            )?;
        }
        Ok(())
    }

    fn sysctls<'s>(
        &mut self,
        at: FieldPath<'_>,
        names: impl Iterator<Item = &'s String> + Clone,
    ) -> Check {
        self.log.read(at, ListOf(names.clone()));
        for name in names {
            if !self.escapes.sysctls.contains(name) {
                self.refuse(
                    NO_SYSCTLS,
                    format_args!("{at} {name:?}"),
                    "kernel settings are not all namespaced; the policy lists the ones that may be set",
                )?;
            }
        }
        Ok(())
    }

    fn cgroup_parent(&mut self, at: FieldPath<'_>, parent: &str) -> Check {
        self.log.read(at, parent);
        if !parent.is_empty() {
            self.refuse(
                NO_CGROUP_PARENT,
                format_args!("{at} {parent:?}"),
                "it moves the container out of the daemon's cgroup tree and its limits",
            )?;
        }
        Ok(())
    }

    /// `POST /containers/{id}/exec`.
    pub fn exec_create(&mut self, exec: &ExecCreate) -> Check {
        self.log.read("Privileged", exec.privileged);
        if exec.privileged {
            self.refuse(
                NO_PRIVILEGED,
                "Privileged (exec create)",
                "a privileged exec session gets every capability and every host device",
            )?;
        }
        Ok(())
    }

    /// `POST /containers/{id}/update`.
    pub fn container_update(&mut self, update: &ContainerUpdate) -> Check {
        self.devices(FieldPath::top("Devices"), &update.devices)?;
        self.device_cgroup_rules(
            FieldPath::top("DeviceCgroupRules"),
            &update.device_cgroup_rules,
        )?;
        self.device_requests(FieldPath::top("DeviceRequests"), &update.device_requests)?;
        self.cgroup_parent(FieldPath::top("CgroupParent"), &update.cgroup_parent)
    }

    /// `POST /volumes/create`.
    pub fn volume_create(&mut self, volume: &VolumeCreate) -> Check {
        self.log.read("Driver", &volume.driver);
        self.log.read("DriverOpts", &volume.driver_opts);
        self.volume_driver("Driver", &volume.driver)?;
        match volume.host_path() {
            Some(path) => self.host_path(
                NO_VOLUME_HOST_BINDS,
                format_args!("DriverOpts binding {path:?}"),
                &path,
                false,
            ),
            None => Ok(()),
        }
    }

    /// `POST /services/create` and `POST /services/{id}/update`.
    pub fn service(&mut self, spec: &ServiceSpec) -> Check {
        let at = "TaskTemplate.ContainerSpec";
        let container: &ContainerSpec = &spec.container_spec;
        self.mounts(FieldPath::new(at, "Mounts"), &container.mounts)?;
        let caps = HostConfig {
            cap_add: container.capability_add.clone(),
            ..HostConfig::default()
        };
        self.capabilities(
            FieldPath::new(at, "CapabilityAdd"),
            &caps.normalized_cap_add(),
        )?;
        self.sysctls(FieldPath::new(at, "Sysctls"), container.sysctls.keys())?;
        let privileges = FieldPath::new(at, "Privileges");
        self.log.read(
            format_args!("{privileges}.Seccomp.Mode"),
            &container.seccomp_mode,
        );
        if !matches!(container.seccomp_mode.as_str(), "" | "default") {
            self.refuse(
                NO_UNCONFINED,
                format_args!("{privileges}.Seccomp.Mode {:?}", container.seccomp_mode),
                "it turns the seccomp filter off or replaces it",
            )?;
        }
        self.log.read(
            format_args!("{privileges}.AppArmor.Mode"),
            &container.app_armor_mode,
        );
        if !matches!(container.app_armor_mode.as_str(), "" | "default") {
            self.refuse(
                NO_UNCONFINED,
                format_args!("{privileges}.AppArmor.Mode {:?}", container.app_armor_mode),
                "it turns AppArmor confinement off",
            )?;
        }
        self.log.read(
            format_args!("{privileges}.SELinuxContext.Disable"),
            container.selinux_disable,
        );
        if container.selinux_disable {
            self.refuse(
                NO_UNCONFINED,
                format_args!("{privileges}.SELinuxContext.Disable"),
                "it turns SELinux labelling off",
            )?;
        }
        self.log.read("TaskTemplate.Networks", &spec.networks);
        if spec.networks.iter().any(|n| n == "host") {
            self.refuse(
                NO_HOST_NAMESPACES,
                "TaskTemplate.Networks target \"host\"",
                "it puts the service's containers in the host's network namespace",
            )?;
        }
        Ok(())
    }

    /// `POST /plugins/pull` and `POST /plugins/{name}/upgrade`: the privileges granted.
    pub fn plugin_privileges(&mut self, privileges: &[PluginPrivilege]) -> Check {
        self.log.read("Privileges", privileges);
        for privilege in privileges {
            if !self.escapes.plugin_privileges.contains(&privilege.name) {
                self.refuse(
                    NO_PLUGIN_PRIVILEGES,
                    format_args!(
                        "plugin privilege {:?} {:?}",
                        privilege.name, privilege.value
                    ),
                    "a plugin runs as root on the host with the privileges it is granted",
                )?;
            }
        }
        Ok(())
    }

    /// `POST /plugins/{name}/set`.
    pub fn plugin_settings(&mut self, settings: &PluginSettings) -> Check {
        self.log.read("Settings", &settings.0);
        for setting in &settings.0 {
            let key = setting.split_once('=').map_or(setting.as_str(), |(k, _)| k);
            let field = key.rsplit_once('.').map(|(_, f)| f.to_ascii_lowercase());
            if matches!(field.as_deref(), Some("source" | "path")) {
                self.refuse(
                    NO_PLUGIN_HOST_SETTINGS,
                    format_args!("plugin setting {key:?}"),
                    "it points the plugin's mount or device at a host path",
                )?;
            }
        }
        Ok(())
    }

    /// `POST /build`: the query parameters that shape the build containers.
    pub fn build_query(&mut self, route: &Route) -> Check {
        for mode in query_values(route, "networkmode") {
            self.log.read("query.networkmode", mode);
            self.namespace_mode("build networkmode", mode, "network")?;
        }
        for parent in query_values(route, "cgroupparent") {
            self.cgroup_parent(FieldPath::top("query.cgroupparent"), parent)?;
        }
        let options: Vec<String> = query_values(route, "securityopt")
            .map(str::to_owned)
            .collect();
        self.security_opts(FieldPath::top("query.securityopt"), &options)
    }

    /// `POST /containers/{id}/start`: a CRIU checkpoint directory on the host.
    pub fn start_query(&mut self, route: &Route) -> Check {
        for dir in query_values(route, "checkpoint-dir") {
            self.log.read("query.checkpoint-dir", dir);
            if !dir.is_empty() {
                self.refuse(
                    NO_CHECKPOINT_DIR,
                    format_args!("query.checkpoint-dir {dir:?}"),
                    "CRIU would restore the container from a host directory",
                )?;
            }
        }
        Ok(())
    }
}

fn query_values<'r>(route: &'r Route, name: &'r str) -> impl Iterator<Item = &'r str> + 'r {
    route
        .query
        .iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn capability_risk(capability: &str) -> &'static str {
    match capability {
        "ALL" => "it grants every capability, as much as --privileged without the devices",
        "CAP_SYS_ADMIN" => {
            "it allows mount, namespace and device operations that break out of the container"
        }
        "CAP_SYS_PTRACE" => "it allows tracing processes and reading their memory",
        "CAP_SYS_MODULE" => "it allows loading kernel modules into the host kernel",
        "CAP_NET_ADMIN" => "it allows reconfiguring networking and firewall rules",
        "CAP_DAC_READ_SEARCH" => "it allows reading host files by handle (open_by_handle_at)",
        "CAP_SYS_RAWIO" => "it allows raw I/O on host memory and devices",
        _ => "only the capabilities the policy lists may be added",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_match_stops_at_path_components() {
        assert!(is_under("/srv/data", "/srv/data"));
        assert!(is_under("/srv/data/x", "/srv/data"));
        assert!(!is_under("/srv/database", "/srv/data"));
    }
}
