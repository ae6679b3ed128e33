# shellcheck shell=bash
#: Every host-escape attempt through the real docker CLI is refused by the plugin (default
#: policy). exec and --volumes-from aim at a plain container of its own, `esc-target`, left
#: running for the host-access inspection.

scenario_escapes_cli() {
  local img=$E2E_IMAGE ctx="$E2E_WORK/escape-context"
  mkdir -p "$ctx"
  printf 'FROM %s\nRUN true\n' "$img" >"$ctx/Dockerfile"
  expect_ok escape-cli-target-container dk run -d --name esc-target "$img" sleep 600
  expect_denied escape-cli-bind-root dk run --rm -v /:/host "$img" true
  expect_denied escape-cli-bind-docker-sock dk run --rm -v /var/run/docker.sock:/s "$img" true
  expect_denied escape-cli-mount-type-bind dk run --rm --mount type=bind,source=/,target=/host "$img" true
  expect_denied escape-cli-mount-bind-unclean-path dk run --rm --mount type=bind,source=/tmp/../,target=/host "$img" true
  expect_denied escape-cli-mount-volume-local-bind dk run --rm \
    --mount 'type=volume,source=escvol,target=/host,volume-driver=local,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/' \
    "$img" true
  expect_denied escape-cli-volume-create-local-bind dk volume create --driver local \
    --opt type=none --opt o=bind --opt device=/ hostvol
  expect_denied escape-cli-privileged dk run --rm --privileged "$img" true
  expect_denied escape-cli-cap-add-sys-admin dk run --rm --cap-add SYS_ADMIN "$img" true
  expect_denied escape-cli-cap-add-lower-case dk run --rm --cap-add sys_ptrace "$img" true
  expect_denied escape-cli-cap-add-all dk run --rm --cap-add ALL "$img" true
  expect_denied escape-cli-pid-host dk run --rm --pid host "$img" true
  expect_denied escape-cli-network-host dk run --rm --network host "$img" true
  expect_denied escape-cli-ipc-host dk run --rm --ipc host "$img" true
  expect_denied escape-cli-uts-host dk run --rm --uts host "$img" true
  expect_denied escape-cli-userns-host dk run --rm --userns host "$img" true
  expect_denied escape-cli-device dk run --rm --device /dev/kmsg "$img" true
  expect_denied escape-cli-device-cgroup-rule dk run --rm --device-cgroup-rule 'c 1:1 rwm' "$img" true
  expect_denied escape-cli-gpus dk run --rm --gpus all "$img" true
  expect_denied escape-cli-seccomp-unconfined dk run --rm --security-opt seccomp=unconfined "$img" true
  expect_denied escape-cli-apparmor-unconfined dk run --rm --security-opt apparmor=unconfined "$img" true
  expect_denied escape-cli-label-disable dk run --rm --security-opt label=disable "$img" true
  expect_denied escape-cli-sysctl dk run --rm --sysctl kernel.shm_rmid_forced=1 "$img" true
  expect_denied escape-cli-cgroup-parent dk run --rm --cgroup-parent / "$img" true
  expect_denied escape-cli-volumes-from dk run --rm --volumes-from esc-target "$img" true
  expect_denied escape-cli-exec-privileged dk exec --privileged esc-target true
  expect_denied escape-cli-build-network-host \
    env DOCKER_BUILDKIT=0 "$E2E_DOCKER_CLI" build --network host -t authobot-e2e/escape "$ctx"
}
