//! `Canonical` for every API object: decode as dockerd does, then read the model out.
//!
//! Each body is decoded into the Go type dockerd uses (see `schema.rs`) with Go's rules
//! (`go.rs`); then the handful of fields a policy needs are copied into the public model.
//! The container create and old-API start bodies also get `getHostConfig()` of
//! runconfig/config_unix.go (v20.10.24): the `HostConfig` key wins, top-level HostConfig fields
//! apply only when there is no `HostConfig` object, and `NetworkMode` defaults to `default`.

use std::collections::BTreeMap;

use super::go::{decode, GoValue, StructTy, Ty};
use super::json::Trailing;
use super::model::*;
use super::schema::{self, wrapper};
use super::{BodyError, Canonical};
use crate::wire::{ActivateManifest, AuthzReply};

static WRAPPER_TY: Ty = Ty::Struct(&schema::CONTAINER_CONFIG_WRAPPER);
static EXEC_TY: Ty = Ty::Struct(&schema::EXEC_CONFIG);
static VOLUME_TY: Ty = Ty::Struct(&schema::VOLUME_CREATE);
static NETWORK_TY: Ty = Ty::Struct(&schema::NETWORK_CREATE_REQUEST);
static UPDATE_TY: Ty = Ty::Struct(&schema::UPDATE_CONFIG);
static SERVICE_TY: Ty = Ty::Struct(&schema::SERVICE_SPEC);
static PRIVILEGES_TY: Ty = Ty::Slice(&Ty::Struct(&schema::PLUGIN_PRIVILEGE));
static SETTINGS_TY: Ty = Ty::Slice(&Ty::Str);
static REPLY_TY: Ty = Ty::Struct(&schema::AUTHZ_RESPONSE);
static MANIFEST_TY: Ty = Ty::Struct(&schema::PLUGIN_MANIFEST);
static PLUGIN_ERROR_TY: Ty = Ty::Struct(&schema::PLUGIN_ERROR);

/// A struct value (or nothing, for a nil pointer) seen through its Go type.
#[derive(Clone, Copy)]
struct View<'a> {
    value: Option<&'a GoValue<'a>>,
    st: &'static StructTy,
}

impl<'a> View<'a> {
    fn new(value: Option<&'a GoValue<'a>>, st: &'static StructTy) -> View<'a> {
        View {
            value: value.and_then(GoValue::deref),
            st,
        }
    }

    /// A field by JSON name, promoted fields included; `None` through a nil pointer.
    ///
    /// Panics when the schema does not declare the field as read: its value was never
    /// stored, and answering with a zero value would let a policy check nothing.
    fn get(&self, name: &str) -> Option<&'a GoValue<'a>> {
        let field = self.st.field_named(name)?;
        assert!(
            field.read,
            "{name} is read by the model but not Field::read in schema.rs"
        );
        let mut current = self.value?;
        for &slot in &field.slots {
            let GoValue::Struct(fields) = current.deref()? else {
                return None;
            };
            current = fields.get(slot)?;
        }
        Some(current)
    }

    fn str(&self, name: &str) -> String {
        self.get(name).map(GoValue::as_str).unwrap_or_default()
    }

    fn bool(&self, name: &str) -> bool {
        self.get(name).is_some_and(GoValue::as_bool)
    }

    fn strings(&self, name: &str) -> Vec<String> {
        self.get(name).map(GoValue::as_strings).unwrap_or_default()
    }

    fn opt_strings(&self, name: &str) -> Option<Vec<String>> {
        self.get(name).and_then(GoValue::as_opt_strings)
    }

    fn map(&self, name: &str) -> BTreeMap<String, String> {
        self.get(name)
            .map(GoValue::as_string_map)
            .unwrap_or_default()
    }

    fn elements(&self, name: &str) -> &'a [GoValue<'a>] {
        self.get(name).map(GoValue::elements).unwrap_or_default()
    }

    fn child(&self, name: &str, st: &'static StructTy) -> View<'a> {
        View::new(self.get(name), st)
    }

    fn is_present(&self) -> bool {
        self.value.is_some()
    }
}

/// The wrapper's declared field `index` (embedded ones have no name to look up).
fn wrapper_field<'a>(fields: &'a [GoValue<'a>], index: usize) -> Option<&'a GoValue<'a>> {
    fields.get(schema::CONTAINER_CONFIG_WRAPPER.slot_of(index)?)
}

/// Decodes a `ContainerConfigWrapper` body and applies `getHostConfig()`.
fn decode_wrapper(body: &[u8]) -> Result<(GoValue<'_>, Option<HostConfig>), BodyError> {
    let w = decode(body, &WRAPPER_TY, Trailing::Refuse)?;
    let GoValue::Struct(fields) = &w else {
        return Ok((w.clone(), None));
    };
    let embedded = View::new(
        wrapper_field(fields, wrapper::EMBEDDED_HOST_CONFIG),
        &schema::HOST_CONFIG,
    );
    let inner = View::new(
        wrapper_field(fields, wrapper::INNER_HOST_CONFIG),
        &schema::HOST_CONFIG,
    );
    let effective = match (embedded.is_present(), inner.is_present()) {
        (_, true) => {
            let mut hc = host_config(inner);
            // getHostConfig copies a few deprecated top-level values into an unset inner
            // HostConfig; of the fields in our model only VolumeDriver is among them
            // (the others are Memory, MemorySwap, CpuShares and CpusetCpus).
            if embedded.is_present() && hc.volume_driver.is_empty() {
                hc.volume_driver = embedded.str("VolumeDriver");
            }
            Some(hc)
        }
        (true, false) => Some(host_config(embedded)),
        (false, false) => None,
    };
    let effective = effective.map(|mut hc| {
        if hc.network_mode.is_empty() {
            hc.network_mode = "default".to_owned();
        }
        hc
    });
    Ok((w, effective))
}

fn host_config(hc: View<'_>) -> HostConfig {
    HostConfig {
        binds: hc.strings("Binds"),
        mounts: hc
            .elements("Mounts")
            .iter()
            .map(|m| mount(View::new(Some(m), &schema::MOUNT)))
            .collect(),
        volumes_from: hc.strings("VolumesFrom"),
        volume_driver: hc.str("VolumeDriver"),
        privileged: hc.bool("Privileged"),
        cap_add: hc.strings("CapAdd"),
        cap_drop: hc.strings("CapDrop"),
        security_opt: hc.strings("SecurityOpt"),
        network_mode: hc.str("NetworkMode"),
        pid_mode: hc.str("PidMode"),
        ipc_mode: hc.str("IpcMode"),
        uts_mode: hc.str("UTSMode"),
        userns_mode: hc.str("UsernsMode"),
        cgroupns_mode: hc.str("CgroupnsMode"),
        devices: devices(hc),
        device_cgroup_rules: hc.strings("DeviceCgroupRules"),
        device_requests: device_requests(hc),
        sysctls: hc.map("Sysctls"),
        cgroup_parent: hc.str("CgroupParent"),
        runtime: hc.str("Runtime"),
        masked_paths: hc.opt_strings("MaskedPaths"),
        readonly_paths: hc.opt_strings("ReadonlyPaths"),
        links: hc.strings("Links"),
    }
}

fn devices(resources: View<'_>) -> Vec<DeviceMapping> {
    resources
        .elements("Devices")
        .iter()
        .map(|d| {
            let d = View::new(Some(d), &schema::DEVICE_MAPPING);
            DeviceMapping {
                path_on_host: d.str("PathOnHost"),
                path_in_container: d.str("PathInContainer"),
                cgroup_permissions: d.str("CgroupPermissions"),
            }
        })
        .collect()
}

fn device_requests(resources: View<'_>) -> Vec<DeviceRequest> {
    resources
        .elements("DeviceRequests")
        .iter()
        .map(|r| {
            let r = View::new(Some(r), &schema::DEVICE_REQUEST);
            DeviceRequest {
                driver: r.str("Driver"),
                count: r.get("Count").map(GoValue::as_i64).unwrap_or_default(),
                device_ids: r.strings("DeviceIDs"),
                capabilities: r
                    .elements("Capabilities")
                    .iter()
                    .map(GoValue::as_strings)
                    .collect(),
                options: r.map("Options"),
            }
        })
        .collect()
}

fn mount(m: View<'_>) -> Mount {
    let bind = m.child("BindOptions", &schema::BIND_OPTIONS);
    let volume = m.child("VolumeOptions", &schema::VOLUME_OPTIONS);
    let driver = volume.child("DriverConfig", &schema::DRIVER);
    Mount {
        kind: m.str("Type"),
        source: m.str("Source"),
        target: m.str("Target"),
        read_only: m.bool("ReadOnly"),
        bind_options: bind.is_present().then(|| BindOptions {
            propagation: bind.str("Propagation"),
            non_recursive: bind.bool("NonRecursive"),
        }),
        volume_options: volume.is_present().then(|| VolumeOptions {
            no_copy: volume.bool("NoCopy"),
            labels: volume.map("Labels"),
            driver_config: driver.is_present().then(|| Driver {
                name: driver.str("Name"),
                options: driver.map("Options"),
            }),
        }),
    }
}

impl Canonical for ContainerCreate {
    /// `POST /containers/create`: `decodeContainerConfig` of 20.10 (wrapper, `getHostConfig`).
    fn from_body(body: &[u8]) -> Result<Self, BodyError> {
        let (w, host_config) = decode_wrapper(body)?;
        let top = View::new(Some(&w), &schema::CONTAINER_CONFIG_WRAPPER);
        let config = View::new(
            match &w {
                GoValue::Struct(fields) => wrapper_field(fields, wrapper::CONFIG),
                _ => None,
            },
            &schema::CONFIG,
        );
        let networking = top.child("NetworkingConfig", &schema::NETWORKING_CONFIG);
        Ok(ContainerCreate {
            image: config.str("Image"),
            user: config.str("User"),
            labels: config.map("Labels"),
            volumes: config
                .get("Volumes")
                .map(|v| v.entries().map(|(k, _)| k.to_owned()).collect())
                .unwrap_or_default(),
            host_config: host_config.unwrap_or_default(),
            endpoints: networking
                .get("EndpointsConfig")
                .map(|v| v.entries().map(|(k, _)| k.to_owned()).collect())
                .unwrap_or_default(),
        })
    }
}

impl Canonical for HostConfig {
    /// An old-API (< 1.24) `POST /containers/{id}/start` body: `DecodeHostConfig` of 20.10,
    /// which decodes the same wrapper as create and applies `getHostConfig`. No HostConfig at
    /// all reads as the zero HostConfig.
    fn from_body(body: &[u8]) -> Result<Self, BodyError> {
        Ok(decode_wrapper(body)?.1.unwrap_or_default())
    }
}

impl Canonical for ExecCreate {
    /// `POST /containers/{id}/exec` (`types.ExecConfig`; `Cmd` is a plain `[]string`).
    fn from_body(body: &[u8]) -> Result<Self, BodyError> {
        let v = decode(body, &EXEC_TY, Trailing::Refuse)?;
        let e = View::new(Some(&v), &schema::EXEC_CONFIG);
        Ok(ExecCreate {
            user: e.str("User"),
            privileged: e.bool("Privileged"),
            cmd: e.strings("Cmd"),
            env: e.strings("Env"),
            working_dir: e.str("WorkingDir"),
        })
    }
}

impl Canonical for VolumeCreate {
    /// `POST /volumes/create` (`volume.VolumeCreateBody`).
    fn from_body(body: &[u8]) -> Result<Self, BodyError> {
        let v = decode(body, &VOLUME_TY, Trailing::Refuse)?;
        let c = View::new(Some(&v), &schema::VOLUME_CREATE);
        Ok(VolumeCreate {
            name: c.str("Name"),
            driver: c.str("Driver"),
            driver_opts: c.map("DriverOpts"),
            labels: c.map("Labels"),
        })
    }
}

impl Canonical for NetworkCreate {
    /// `POST /networks/create` (`types.NetworkCreateRequest`).
    fn from_body(body: &[u8]) -> Result<Self, BodyError> {
        let v = decode(body, &NETWORK_TY, Trailing::Refuse)?;
        let c = View::new(Some(&v), &schema::NETWORK_CREATE_REQUEST);
        Ok(NetworkCreate {
            name: c.str("Name"),
            driver: c.str("Driver"),
            labels: c.map("Labels"),
        })
    }
}

impl Canonical for ContainerUpdate {
    /// `POST /containers/{id}/update` (`container.UpdateConfig`, `Resources` embedded).
    fn from_body(body: &[u8]) -> Result<Self, BodyError> {
        let v = decode(body, &UPDATE_TY, Trailing::Refuse)?;
        let u = View::new(Some(&v), &schema::UPDATE_CONFIG);
        Ok(ContainerUpdate {
            devices: devices(u),
            device_cgroup_rules: u.strings("DeviceCgroupRules"),
            device_requests: device_requests(u),
            cgroup_parent: u.str("CgroupParent"),
        })
    }
}

impl Canonical for ServiceSpec {
    /// `POST /services/create` and `/services/{id}/update` (`swarm.ServiceSpec`).
    fn from_body(body: &[u8]) -> Result<Self, BodyError> {
        let v = decode(body, &SERVICE_TY, Trailing::Refuse)?;
        let s = View::new(Some(&v), &schema::SERVICE_SPEC);
        let task = s.child("TaskTemplate", &schema::TASK_SPEC);
        let spec = task.child("ContainerSpec", &schema::CONTAINER_SPEC);
        let privileges = spec.child("Privileges", &schema::PRIVILEGES);
        let targets = |view: View<'_>| -> Vec<String> {
            view.elements("Networks")
                .iter()
                .map(|n| View::new(Some(n), &schema::NETWORK_ATTACHMENT).str("Target"))
                .collect()
        };
        let mut networks = targets(task);
        networks.extend(targets(s));
        Ok(ServiceSpec {
            name: s.str("Name"),
            labels: s.map("Labels"),
            container_spec: ContainerSpec {
                image: spec.str("Image"),
                mounts: spec
                    .elements("Mounts")
                    .iter()
                    .map(|m| mount(View::new(Some(m), &schema::MOUNT)))
                    .collect(),
                capability_add: spec.strings("CapabilityAdd"),
                sysctls: spec.map("Sysctls"),
                seccomp_mode: privileges
                    .child("Seccomp", &schema::SECCOMP_OPTS)
                    .str("Mode"),
                app_armor_mode: privileges
                    .child("AppArmor", &schema::APPARMOR_OPTS)
                    .str("Mode"),
                selinux_disable: privileges
                    .child("SELinuxContext", &schema::SELINUX_CONTEXT)
                    .bool("Disable"),
            },
            networks,
        })
    }
}

impl Canonical for Vec<PluginPrivilege> {
    /// `POST /plugins/pull` and `/plugins/{name}/upgrade` (`types.PluginPrivileges`).
    fn from_body(body: &[u8]) -> Result<Self, BodyError> {
        let v = decode(body, &PRIVILEGES_TY, Trailing::Refuse)?;
        Ok(v.elements()
            .iter()
            .map(|p| {
                let p = View::new(Some(p), &schema::PLUGIN_PRIVILEGE);
                PluginPrivilege {
                    name: p.str("Name"),
                    description: p.str("Description"),
                    value: p.strings("Value"),
                }
            })
            .collect())
    }
}

impl Canonical for PluginSettings {
    /// `POST /plugins/{name}/set` (`[]string`).
    fn from_body(body: &[u8]) -> Result<Self, BodyError> {
        let v = decode(body, &SETTINGS_TY, Trailing::Refuse)?;
        Ok(PluginSettings(v.as_strings()))
    }
}

impl Canonical for AuthzReply {
    /// A plugin's reply as dockerd's plugin client reads it: `Decoder.Decode` into
    /// `authorization.Response` (Go key rules, a missing `Allow` is false, whatever follows
    /// the value is never read).
    fn from_body(body: &[u8]) -> Result<Self, BodyError> {
        let v = decode(body, &REPLY_TY, Trailing::Ignore)?;
        let r = View::new(Some(&v), &schema::AUTHZ_RESPONSE);
        Ok(AuthzReply {
            allow: r.bool("Allow"),
            msg: r.str("Msg"),
            err: r.str("Err"),
        })
    }
}

impl Canonical for ActivateManifest {
    /// A plugin's answer to `Plugin.Activate` as dockerd's plugin client reads it:
    /// `Decoder.Decode` into `plugins.Manifest` (Go key rules, so `implementſ` counts; `null`
    /// is an empty manifest; whatever follows the value is never read).
    fn from_body(body: &[u8]) -> Result<Self, BodyError> {
        let v = decode(body, &MANIFEST_TY, Trailing::Ignore)?;
        let m = View::new(Some(&v), &schema::PLUGIN_MANIFEST);
        Ok(ActivateManifest {
            implements: m.strings("Implements"),
        })
    }
}

impl Canonical for PluginErrorBody {
    /// A plugin's non-200 answer as `callWithRetry` reads it: `json.Unmarshal` into
    /// `struct{ Err string }`, so the body must be one JSON value and nothing more.
    fn from_body(body: &[u8]) -> Result<Self, BodyError> {
        let v = decode(body, &PLUGIN_ERROR_TY, Trailing::Refuse)?;
        let e = View::new(Some(&v), &schema::PLUGIN_ERROR);
        Ok(PluginErrorBody { err: e.str("Err") })
    }
}
