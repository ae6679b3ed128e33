#!/usr/bin/env python3
"""Writes hostile.jsonl: AuthZReq messages the default policy must deny, with the rule.

Each case is a full message as dockerd sends it (RequestBody base64). Bodies are written
here as raw JSON text so that spellings Go accepts (case folding, duplicate keys, \\u
escapes) survive exactly. Run from this directory: python3 make_hostile.py > hostile.jsonl
"""
import base64
import json

CASES = []


def case(name, rule, method, uri, body=None, headers=None, length=None):
    """body: JSON text (str) or None; length: a Content-Length to claim when body is None."""
    hdrs = {"User-Agent": "Docker-Client/28.0.0 (linux)"}
    msg = {"RequestMethod": method, "RequestUri": uri}
    if body is not None:
        raw = body.encode("utf-8")
        hdrs["Content-Type"] = "application/json"
        hdrs["Content-Length"] = str(len(raw))
        msg["RequestBody"] = base64.b64encode(raw).decode()
    elif length is not None:
        hdrs["Content-Type"] = "application/json"
        hdrs["Content-Length"] = str(length)
    hdrs.update(headers or {})
    msg["RequestHeaders"] = hdrs
    CASES.append({"case": name, "rule": rule, "message": msg})


CREATE = "/v1.41/containers/create"


def create(name, rule, hostconfig_text, uri=CREATE, prefix='"Image":"busybox","Cmd":["sh"],'):
    case(name, rule, "POST", uri, "{" + prefix + hostconfig_text + "}")


# Privileged, in every spelling encoding/json accepts.
create("privileged", "no-privileged", '"HostConfig":{"Privileged":true}')
create("privileged lower case", "no-privileged", '"hostconfig":{"privileged":true}')
create("privileged upper case", "no-privileged", '"HOSTCONFIG":{"PRIVILEGED":true}')
create("privileged escaped key", "no-privileged", '"HostConfig":{"\\u0050rivileged":true}')
create("privileged last duplicate wins", "no-privileged", '"HostConfig":{"Privileged":false,"privileged":true}')
create("privileged null keeps true", "no-privileged", '"HostConfig":{"Privileged":true,"Privileged":null}')
create("privileged duplicate hostconfig merges", "no-privileged", '"HostConfig":{"Privileged":true},"hostconfig":{"Memory":1}')
create("privileged top-level hostconfig field", "no-privileged", '"Privileged":true')
# Host binds.
create("bind root", "no-host-binds", '"HostConfig":{"Binds":["/:/host"]}')
create("bind read-only still a host path", "no-host-binds", '"HostConfig":{"Binds":["/etc:/etc:ro"]}')
create("bind long s key", "no-host-binds", '"HostConfig":{"Bind\u017f":["/:/host"]}')
create("bind escaped key", "no-host-binds", '"HostConfig":{"B\\u0069nds":["/var/run/docker.sock:/s"]}')
create("bind unclean source", "no-host-binds", '"HostConfig":{"Binds":["//etc/../:/host"]}')
create("bind top-level hostconfig field", "no-host-binds", '"Binds":["/:/host"]')
create("bind lower case duplicate wins", "no-host-binds", '"HostConfig":{"Binds":[],"binds":["/root:/r"]}')
# Mounts.
create("mount bind", "no-bind-mounts", '"HostConfig":{"Mounts":[{"Type":"bind","Source":"/","Target":"/host"}]}')
create("mount bind lower case keys", "no-bind-mounts", '"hostconfig":{"mounts":[{"type":"bind","source":"/var/run/docker.sock","target":"/s"}]}')
create("mount bind read-only", "no-bind-mounts", '"HostConfig":{"Mounts":[{"Type":"bind","Source":"/etc","Target":"/e","ReadOnly":true}]}')
create("mount volume local bind options", "no-volume-host-binds",
       '"HostConfig":{"Mounts":[{"Type":"volume","Source":"v","Target":"/h","VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"type":"none","o":"bind","device":"/"}}}}]}')
create("mount volume bind options lower case", "no-volume-host-binds",
       '"HostConfig":{"Mounts":[{"type":"volume","source":"v2","target":"/h","volumeoptions":{"driverconfig":{"name":"local","options":{"type":"none","o":"bind","device":"/etc"}}}}]}')
# Volume drivers that can mount whatever their options say.
create("volume driver", "no-volume-drivers", '"HostConfig":{"VolumeDriver":"local-persist","Binds":["data:/data"]}')
create("mount with a third-party volume driver", "no-volume-drivers",
       '"HostConfig":{"Mounts":[{"Type":"volume","Source":"v","Target":"/h","VolumeOptions":{"DriverConfig":{"Name":"sshfs","Options":{"sshcmd":"root@localhost:/"}}}}]}')
case("volume create with a third-party driver", "no-volume-drivers", "POST", "/v1.41/volumes/create",
     '{"Name":"all","Driver":"local-persist","DriverOpts":{"mountpoint":"/"}}')
# VolumesFrom.
create("volumes from", "no-volumes-from", '"HostConfig":{"VolumesFrom":["admin-box"]}')
create("volumes from lower case", "no-volumes-from", '"hostconfig":{"volumesfrom":["admin-box:ro"]}')
# Capabilities, as the daemon normalises them.
create("cap add sys admin", "no-cap-add", '"HostConfig":{"CapAdd":["SYS_ADMIN"]}')
create("cap add lower case value", "no-cap-add", '"HostConfig":{"CapAdd":["sys_admin"]}')
create("cap add unicode folding value", "no-cap-add", '"HostConfig":{"CapAdd":["\u017fys_adm\u0131n"]}')
create("cap add single string", "no-cap-add", '"HostConfig":{"CapAdd":"SYS_MODULE"}')
create("cap add with prefix", "no-cap-add", '"HostConfig":{"CapAdd":["CAP_SYS_PTRACE"]}')
create("cap add all", "no-cap-add", '"HostConfig":{"CapAdd":["all"]}')
create("cap add net admin", "no-cap-add", '"HostConfig":{"capadd":["NET_ADMIN"]}')
create("cap add dac read search", "no-cap-add", '"HostConfig":{"CapAdd":["DAC_READ_SEARCH"]}')
create("cap add top-level", "no-cap-add", '"CapAdd":["SYS_ADMIN"]')
# Security options.
create("seccomp unconfined", "no-unconfined", '"HostConfig":{"SecurityOpt":["seccomp=unconfined"]}')
create("seccomp unconfined colon syntax", "no-unconfined", '"HostConfig":{"SecurityOpt":["seccomp:unconfined"]}')
create("seccomp custom allow-all profile", "no-unconfined", '"HostConfig":{"SecurityOpt":["seccomp={\\"defaultAction\\":\\"SCMP_ACT_ALLOW\\"}"]}')
create("apparmor unconfined", "no-unconfined", '"HostConfig":{"securityopt":["apparmor=unconfined"]}')
create("label disable", "no-unconfined", '"HostConfig":{"SecurityOpt":["label=disable"]}')
create("label disable colon syntax", "no-unconfined", '"HostConfig":{"SecurityOpt":["label:disable"]}')
# Namespaces.
create("network host", "no-host-namespaces", '"HostConfig":{"NetworkMode":"host"}')
create("network host kelvin key", "no-host-namespaces", '"HostConfig":{"Networ\u212aMode":"host"}')
create("network host endpoint", "no-host-namespaces", '"HostConfig":{},"NetworkingConfig":{"EndpointsConfig":{"host":{}}}')
create("pid host", "no-host-namespaces", '"HostConfig":{"PidMode":"host"}')
create("pid host top-level", "no-host-namespaces", '"pidmode":"host"')
create("pid container", "no-host-namespaces", '"HostConfig":{"PidMode":"container:admin-box"}')
create("network of another container", "no-host-namespaces", '"HostConfig":{"NetworkMode":"container:admin-box"}')
create("ipc of another container", "no-host-namespaces", '"HostConfig":{"IpcMode":"container:admin-box"}')
create("ipc host", "no-host-namespaces", '"HostConfig":{"IpcMode":"host"}')
create("uts host", "no-host-namespaces", '"HostConfig":{"UTSMode":"host"}')
create("userns host", "no-host-namespaces", '"HostConfig":{"usernsmode":"host"}')
create("cgroupns host", "no-host-namespaces", '"HostConfig":{"CgroupnsMode":"host"}')
# Devices.
create("device", "no-devices", '"HostConfig":{"Devices":[{"PathOnHost":"/dev/sda","PathInContainer":"/dev/sda","CgroupPermissions":"rwm"}]}')
create("device lower case keys", "no-devices", '"hostconfig":{"devices":[{"pathonhost":"/dev/mem","pathincontainer":"/dev/mem","cgrouppermissions":"rwm"}]}')
create("device cgroup rule", "no-device-cgroup-rules", '"HostConfig":{"DeviceCgroupRules":["b *:* rwm"]}')
create("device request gpus", "no-device-requests", '"HostConfig":{"DeviceRequests":[{"Driver":"nvidia","Count":-1,"Capabilities":[["gpu"]]}]}')
# Kernel and cgroup settings, runtime, kernel paths.
create("sysctl", "no-sysctls", '"HostConfig":{"Sysctls":{"kernel.core_pattern":"|/tmp/x"}}')
create("sysctl lower case", "no-sysctls", '"hostconfig":{"sysctls":{"net.ipv4.ip_forward":"1"}}')
create("cgroup parent", "no-cgroup-parent", '"HostConfig":{"CgroupParent":"/"}')
create("cgroup parent lower case", "no-cgroup-parent", '"HostConfig":{"cgroupparent":"system.slice"}')
create("runtime", "no-runtime", '"HostConfig":{"Runtime":"nvidia"}')
create("masked paths emptied", "no-path-overrides", '"HostConfig":{"MaskedPaths":[]}')
create("masked paths kelvin key", "no-path-overrides", '"HostConfig":{"Mas\u212aedPaths":["/nothing"]}')
create("readonly paths emptied", "no-path-overrides", '"HostConfig":{"ReadonlyPaths":[]}')
# Encoded paths and queries that look like paths: dockerd routes the decoded path.
create("encoded slash in create path", "no-privileged", '"HostConfig":{"Privileged":true}', uri="/v1.41/containers%2Fcreate")
create("percent-encoded letters in create path", "no-privileged", '"HostConfig":{"Privileged":true}', uri="/%63ontainers/%63reate")
create("query that looks like auth", "no-host-binds", '"HostConfig":{"Binds":["/:/h"]}', uri="/containers/create?x=/auth")
create("unversioned create", "no-privileged", '"HostConfig":{"Privileged":true}', uri="/containers/create?name=p")
# Exec create.
case("exec privileged", "no-privileged", "POST", "/v1.41/containers/web/exec", '{"Cmd":["sh"],"Privileged":true}')
case("exec privileged lower case", "no-privileged", "POST", "/v1.41/containers/web/exec", '{"cmd":["sh"],"privileged":true}')
case("exec privileged duplicate", "no-privileged", "POST", "/v1.41/containers/web/exec", '{"Privileged":false,"PRIVILEGED":true}')
# Volume create with local bind options.
case("volume create bind", "no-volume-host-binds", "POST", "/v1.41/volumes/create",
     '{"Name":"root","Driver":"local","DriverOpts":{"type":"none","o":"bind","device":"/"}}')
case("volume create bind lower case default driver", "no-volume-host-binds", "POST", "/v1.41/volumes/create",
     '{"name":"etc","driveropts":{"type":"none","o":"bind","device":"/etc"}}')
# Container update.
case("update devices", "no-devices", "POST", "/v1.41/containers/web/update",
     '{"Devices":[{"PathOnHost":"/dev/sda","PathInContainer":"/dev/sda","CgroupPermissions":"rwm"}]}')
case("update cgroup parent", "no-cgroup-parent", "POST", "/v1.41/containers/web/update", '{"CgroupParent":"/"}')
case("update device cgroup rules", "no-device-cgroup-rules", "POST", "/v1.41/containers/web/update", '{"DeviceCgroupRules":["a *:* rwm"]}')
# Start with a HostConfig body on API < 1.24.
case("old api start binds", "no-host-binds", "POST", "/v1.23/containers/web/start", '{"Binds":["/:/host"]}')
case("old api start privileged lower case", "no-privileged", "POST", "/v1.23/containers/web/start", '{"privileged":true}')
case("old api start body not forwarded", "body-not-forwarded", "POST", "/v1.23/containers/web/start", length=2_000_000)
case("start from host checkpoint dir", "no-checkpoint-dir", "POST", "/v1.41/containers/web/start?checkpoint=c1&checkpoint-dir=/var/lib")
# Bodies the daemon did not forward.
case("create body of 1 MiB or more", "body-not-forwarded", "POST", CREATE, length=1_048_576)
case("create chunked body", "body-not-forwarded", "POST", CREATE, headers={"Content-Type": "application/json"})
case("exec chunked body", "body-not-forwarded", "POST", "/v1.41/containers/web/exec", headers={"Content-Type": "application/json"})
case("volume create body missing", "body-not-forwarded", "POST", "/v1.41/volumes/create", length=4_000_000)
case("update body missing", "body-not-forwarded", "POST", "/v1.41/containers/web/update", length=1_500_000)
case("network create body missing", "body-not-forwarded", "POST", "/v1.41/networks/create", length=1_200_000)
case("service create body missing", "body-not-forwarded", "POST", "/v1.41/services/create", length=1_100_000)
case("create body unreadable", "body-unreadable", "POST", CREATE, '{"Image":"busybox","HostConfig":{"Privileged":"yes"}}')
# Plugins.
case("plugin pull", "no-plugin-changes", "POST", "/v1.41/plugins/pull?remote=evil/plugin",
     '[{"Name":"mount","Value":["/"]}]')
case("plugin enable", "no-plugin-changes", "POST", "/v1.41/plugins/evil/enable?timeout=0")
case("plugin set", "no-plugin-changes", "POST", "/v1.41/plugins/evil/set", '["data.source=/"]')
case("plugin upgrade", "no-plugin-changes", "POST", "/v1.41/plugins/evil/upgrade?remote=evil/plugin:2", '[]')
case("plugin create", "no-plugin-changes", "POST", "/v1.41/plugins/create?name=evil", headers={"Content-Type": "application/x-tar"})
# Swarm services.
SERVICE = "/v1.41/services/create"
case("service bind mount", "no-bind-mounts", "POST", SERVICE,
     '{"Name":"s","TaskTemplate":{"ContainerSpec":{"Image":"busybox","Mounts":[{"Type":"bind","Source":"/","Target":"/host"}]}}}')
case("service bind mount lower case", "no-bind-mounts", "POST", "/v1.41/services/s/update?version=3",
     '{"name":"s","tasktemplate":{"containerspec":{"image":"busybox","mounts":[{"type":"bind","source":"/etc","target":"/e"}]}}}')
case("service volume bind options", "no-volume-host-binds", "POST", SERVICE,
     '{"TaskTemplate":{"ContainerSpec":{"Image":"busybox","Mounts":[{"Type":"volume","Source":"v","Target":"/h","VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"type":"none","o":"bind","device":"/"}}}}]}}}')
case("service capability add", "no-cap-add", "POST", SERVICE,
     '{"TaskTemplate":{"ContainerSpec":{"Image":"busybox","CapabilityAdd":["CAP_SYS_ADMIN"]}}}')
case("service seccomp unconfined", "no-unconfined", "POST", SERVICE,
     '{"TaskTemplate":{"ContainerSpec":{"Image":"busybox","Privileges":{"Seccomp":{"Mode":"unconfined"}}}}}')
case("service apparmor disabled", "no-unconfined", "POST", SERVICE,
     '{"TaskTemplate":{"ContainerSpec":{"Image":"busybox","Privileges":{"AppArmor":{"Mode":"disabled"}}}}}')
case("service host network", "no-host-namespaces", "POST", SERVICE,
     '{"TaskTemplate":{"ContainerSpec":{"Image":"busybox"},"Networks":[{"Target":"host"}]}}')
case("service sysctl", "no-sysctls", "POST", SERVICE,
     '{"TaskTemplate":{"ContainerSpec":{"Image":"busybox","Sysctls":{"kernel.shm_rmid_forced":"0"}}}}')
# Build.
case("build host network", "no-host-namespaces", "POST", "/v1.41/build?t=x&networkmode=host", headers={"Content-Type": "application/x-tar"})
case("build cgroup parent", "no-cgroup-parent", "POST", "/v1.41/build?cgroupparent=%2F", headers={"Content-Type": "application/x-tar"})
case("build security opt", "no-unconfined", "POST", "/v1.41/build?securityopt=seccomp%3Dunconfined", headers={"Content-Type": "application/x-tar"})
case("build options in a form body", "no-form-body", "POST", "/v1.41/build?t=x",
     headers={"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "16"})
case("buildkit grpc control stream", "no-buildkit-grpc", "POST", "/grpc", headers={"Upgrade": "h2c", "Connection": "Upgrade"})
# Swarm membership, routes the daemon would not route as parsed.
case("swarm join", "no-swarm-membership", "POST", "/v1.41/swarm/join",
     '{"RemoteAddrs":["10.0.0.1:2377"],"JoinToken":"SWMTKN-1-x"}')
case("unknown route", "route-unparseable", "POST", "/v1.41/containers/web/frobnicate")
case("unclean path", "route-unparseable", "POST", "/v1.41/containers/../containers/create", '{"Image":"busybox"}')

for c in CASES:
    print(json.dumps(c, ensure_ascii=False))
