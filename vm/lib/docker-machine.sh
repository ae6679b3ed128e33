# shellcheck shell=bash
#: The `docker-machine` driver, the article's own setup made one command: creates a machine
#: (E2E_MACHINE, default authobot-e2e; E2E_MACHINE_CREATE_ARGS, default `--driver virtualbox`)
#: or reuses an existing one, copies the built plugin and these scripts over, provisions it
#: with vm/guest-setup.sh and runs vm/e2e.sh there with the guest driver. A machine it created
#: is removed afterwards (also on failure or ^C) unless E2E_KEEP_VM=1. The machine must run a
#: systemd distribution with apt (Debian/Ubuntu: the generic driver, or an Ubuntu-based ISO);
#: boot2docker has no systemd to socket-activate the plugin. Untested on the machine this was
#: written on (no virtualisation there).

run_docker_machine() {
  command -v docker-machine >/dev/null || die "the docker-machine driver needs docker-machine"
  [ -x "$E2E_PLUGIN_BIN" ] || die "no plugin binary at $E2E_PLUGIN_BIN (packaging/build-plugin.sh)"
  local machine=${E2E_MACHINE:-authobot-e2e} created=0
  if ! docker-machine status "$machine" >/dev/null 2>&1; then
    # shellcheck disable=SC2086 # the create arguments are a list on purpose
    docker-machine create ${E2E_MACHINE_CREATE_ARGS:---driver virtualbox} "$machine" ||
      die "docker-machine create failed"
    created=1
  fi
  local stage
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"; [ "$created" = 1 ] && [ "${E2E_KEEP_VM:-0}" != 1 ] && docker-machine rm -f "$machine"' EXIT
  trap 'log "interrupted"; exit 130' INT TERM HUP

  mkdir -p "$stage/authobot-e2e/authobot"
  cp -r "$E2E_ROOT/vm" "$E2E_ROOT/packaging" "$stage/authobot-e2e/"
  rm -rf "$stage/authobot-e2e/vm/bollard-e2e"
  cp -r "$E2E_ROOT/authobot/policies" "$stage/authobot-e2e/authobot/"
  cp -r "$E2E_PLUGIN_DIR" "$stage/authobot-e2e/plugin"
  docker-machine ssh "$machine" 'rm -rf /tmp/authobot-e2e' || die "cannot reach $machine"
  docker-machine scp -r "$stage/authobot-e2e" "$machine:/tmp/" || die "copying to $machine failed"
  docker-machine ssh "$machine" "sudo E2E_PLUGIN_DIR=/tmp/authobot-e2e/plugin bash /tmp/authobot-e2e/vm/guest-setup.sh" ||
    die "provisioning $machine failed"
  docker-machine ssh "$machine" "sudo E2E_DRIVER=guest E2E_PLUGIN_DIR=/tmp/authobot-e2e/plugin \
    E2E_ONLY='${E2E_ONLY:-}' CI='${CI:-}' bash /tmp/authobot-e2e/vm/e2e.sh"
}
