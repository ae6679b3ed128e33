# shellcheck shell=bash
#: The `guest` driver: runs inside a VM that vm/guest-setup.sh provisioned (vagrant,
#: docker-machine): the system dockerd with authobot installed as a legacy plugin by
#: packaging/install-legacy.sh (authobot.socket + authobot.service, daemon.json).

E2E_DOCKER_SOCK=/var/run/docker.sock
GUEST_POLICY=/etc/authobot/policy.toml
GUEST_SAVED_POLICY=""

guest_require() {
  [ "$(id -u)" = 0 ] || die "the guest driver needs root (it drives systemd units)"
  systemctl is-active --quiet authobot.socket || die "authobot.socket is not active: run vm/guest-setup.sh first"
  systemctl is-active --quiet docker.service || die "docker.service is not active"
  export DOCKER_HOST="unix://$E2E_DOCKER_SOCK" E2E_WORK E2E_DOCKER_SOCK
  # shellcheck disable=SC2046
  export -f $(declare -F | awk '{ print $3 }')
  dk image inspect "$E2E_IMAGE" >/dev/null 2>&1 || die "image $E2E_IMAGE is missing: run vm/guest-setup.sh first"
  GUEST_SAVED_POLICY="$E2E_WORK/saved-policy.toml"
  cp "$GUEST_POLICY" "$GUEST_SAVED_POLICY"
}

# plugin_use_policy FILE: install FILE and `systemctl reload` (SIGHUP to authobot).
plugin_use_policy() {
  cp "$1" "$GUEST_POLICY.new" && mv -f "$GUEST_POLICY.new" "$GUEST_POLICY"
  if systemctl is-active --quiet authobot.service; then
    systemctl reload authobot.service
  fi
}

# Down means the socket too: with only the service stopped, socket activation would start it
# again on the next call (which is what it is for).
plugin_kill() {
  systemctl kill --signal=SIGKILL authobot.service 2>/dev/null || true
  systemctl stop authobot.socket authobot.service
}
plugin_restart() { systemctl start authobot.socket; }

daemon_id() { systemctl show -p MainPID -p ExecMainStartTimestampMonotonic --value docker.service | tr '\n' '-'; }

guest_teardown() {
  [ -n "$GUEST_SAVED_POLICY" ] && [ -f "$GUEST_SAVED_POLICY" ] && plugin_use_policy "$GUEST_SAVED_POLICY"
  systemctl start authobot.socket 2>/dev/null || true
  # Leave the VM as provisioned: remove what the scenarios made.
  local ids
  # shellcheck disable=SC2086 # one argument per container id
  ids=$(dk ps -aq 2>/dev/null) && [ -n "$ids" ] && dk rm -f $ids >/dev/null 2>&1
  dk volume rm wfvol >/dev/null 2>&1
  dk network rm wfnet >/dev/null 2>&1
  return 0
}
