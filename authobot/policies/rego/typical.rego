# A typical opa-docker-authz policy, written the way OPA's Docker authorization tutorial and
# opa-docker-authz's README teach: read the request body and the bind mounts, refuse
# privileged containers and exec sessions, host bind mounts, added capabilities, unconfined
# security profiles, host namespaces, devices and plugin changes; allow everything else.
#
# It is the policy the measured comparison (authobot/README.md, "Rego policies") and the
# conformance runs use, unchanged, with opa-docker-authz and with authobot.
package docker.authz

default allow := false

allow if not deny

deny if input.Body.HostConfig.Privileged == true

# Exec create: `docker exec --privileged`.
deny if input.Body.Privileged == true

deny if count(input.BindMounts) > 0

deny if count(input.Body.HostConfig.CapAdd) > 0

deny if count(input.Body.HostConfig.Devices) > 0

deny if count(input.Body.HostConfig.VolumesFrom) > 0

deny if {
	some opt in input.Body.HostConfig.SecurityOpt
	contains(opt, "unconfined")
}

deny if {
	some opt in input.Body.HostConfig.SecurityOpt
	contains(opt, "disable")
}

deny if {
	some mode in ["NetworkMode", "PidMode", "IpcMode", "UTSMode", "UsernsMode", "CgroupnsMode"]
	input.Body.HostConfig[mode] == "host"
}

deny if contains(input.Path, "/plugins/")
