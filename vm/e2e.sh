#!/usr/bin/env bash
#: Real-daemon end-to-end test of authobot: build, start a throwaway daemon, install the plugin,
#: run the scenarios with the real docker CLI, tear everything down (also on failure or ^C).
#
# Usage: vm/e2e.sh            (or `make e2e`)
#   E2E_DRIVER=local           throwaway dockerd on this host (the default; root needed; without
#                              dockerd the run is skipped with a message, or fails when CI is set)
#   E2E_DRIVER=vagrant         vm/Vagrantfile: Debian VM, authobot as a legacy plugin
#   E2E_DRIVER=docker-machine  a docker-machine host, same as vagrant
#   E2E_DRIVER=guest           inside such a VM: the system dockerd with authobot.socket/.service
# Other knobs: E2E_DOCKER_CLI (default /usr/local/bin/docker, else docker on PATH),
#   E2E_PLUGIN_DIR (a built managed plugin, default target/plugin/authobot, made by
#   packaging/build-plugin.sh), E2E_SKIP_BUILD=1, E2E_KEEP=1 (keep the work directory),
#   E2E_ONLY="article reload ..." (run only these scenarios).
# Output: one `PASS name` / `FAIL name` line per check, then `e2e: N passed, N failed`.
# Exit status: 0 all passed, 1 some check failed, 2 the harness itself could not run.
set -uo pipefail

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
E2E_VM="$E2E_ROOT/vm"
E2E_DRIVER=${E2E_DRIVER:-}
if [ -z "$E2E_DRIVER" ]; then
  if ! command -v dockerd >/dev/null; then
    # Like every test that needs a real dockerd: skipped where there is none, except in CI.
    echo "e2e: SKIP: no dockerd here (apt-get install docker.io busybox-static), or use" \
      "E2E_DRIVER=vagrant or E2E_DRIVER=docker-machine" >&2
    [ -n "${CI:-}" ] && exit 2
    exit 0
  fi
  [ "$(id -u)" = 0 ] || {
    echo "e2e: the local driver starts dockerd: run it as root (sudo make e2e)" >&2
    exit 2
  }
  E2E_DRIVER=local
fi
if [ -z "${E2E_DOCKER_CLI:-}" ]; then
  if [ -x /usr/local/bin/docker ]; then E2E_DOCKER_CLI=/usr/local/bin/docker; else E2E_DOCKER_CLI=$(command -v docker || echo docker); fi
fi
E2E_PLUGIN_DIR=${E2E_PLUGIN_DIR:-$E2E_ROOT/target/plugin/authobot}
E2E_PLUGIN_BIN=${E2E_PLUGIN_BIN:-$E2E_PLUGIN_DIR/rootfs/authobot}
E2E_POLICY_STRICT=${E2E_POLICY_STRICT:-$E2E_PLUGIN_DIR/rootfs/policies/strict-whitelist.toml}
E2E_POLICY_DEFAULT=${E2E_POLICY_DEFAULT:-$E2E_PLUGIN_DIR/rootfs/policies/default.toml}
E2E_IMAGE=${E2E_IMAGE:-authobot-e2e/busybox:latest}
E2E_BUSYBOX=${E2E_BUSYBOX:-/bin/busybox}
E2E_PLUGIN_RE='authobot(:latest)?'
export E2E_DOCKER_CLI

# shellcheck source=vm/lib/common.sh
. "$E2E_VM/lib/common.sh"
for f in "$E2E_VM"/scenarios/*.sh; do
  # shellcheck disable=SC1090
  . "$f"
done

# Checks may run our functions under timeout(1), in a child bash: export them and their state.
# shellcheck disable=SC2046
export -f $(declare -F | awk '{ print $3 }')
export E2E_IMAGE E2E_PLUGIN_RE E2E_ROOT

# wanted NAME: true unless E2E_ONLY names other scenarios.
wanted() { [ -z "${E2E_ONLY:-}" ] || [[ " $E2E_ONLY " == *" $1 "* ]]; }

run_scenario() {
  local name=$1
  wanted "$name" || return 0
  log "scenario $name"
  "scenario_${name//-/_}"
}

build() {
  [ "${E2E_SKIP_BUILD:-0}" = 1 ] && return 0
  log "building the managed plugin (packaging/build-plugin.sh)"
  "$E2E_ROOT/packaging/build-plugin.sh" "$E2E_PLUGIN_DIR" || die "building the plugin failed"
  if wanted testcontainers; then
    log "building the testcontainers-rs test"
    (cd "$E2E_ROOT" && cargo test --locked -p authobot-bollard-e2e --no-run) >&2 ||
      die "building the testcontainers-rs test failed"
  fi
}

# ---- local driver -----------------------------------------------------------------------------

run_local() {
  E2E_WORK=$(mktemp -d /tmp/abe.XXXXXX) # short: the daemon dials <exec-root>/plugins/<64 hex>/authobot.sock
  chmod 0755 "$E2E_WORK"
  export E2E_WORK
  # shellcheck source=vm/lib/local.sh
  . "$E2E_VM/lib/local.sh"
  # shellcheck disable=SC2046
  export -f $(declare -F | awk '{ print $3 }')
  export E2E_DOCKER_SOCK
  trap 'local_teardown; cleanup_work' EXIT
  trap 'log "interrupted"; exit 130' INT TERM HUP

  local_require
  [ -x "$E2E_PLUGIN_BIN" ] || die "no plugin binary at $E2E_PLUGIN_BIN"
  [ -f "$E2E_POLICY_STRICT" ] || die "no strict policy at $E2E_POLICY_STRICT"
  [ -f "$E2E_POLICY_DEFAULT" ] || die "no default policy at $E2E_POLICY_DEFAULT"
  export DOCKER_HOST="unix://$E2E_DOCKER_SOCK"
  scenario_host_access_detector

  # 1. A plain daemon makes the image, then the legacy install takes over: socket activation as
  #    authobot.socket does it, the daemon configured by packaging/daemon.json.
  local_daemon_start
  make_busybox_image
  local_daemon_stop
  local_install_policy "$E2E_POLICY_DEFAULT"
  E2E_PLUGIN_MODE=legacy
  local_legacy_start
  local_verify_units
  # Socket activation: nothing runs behind the socket until the daemon's first call.
  local idle_before_daemon=0
  local_plugin_is_running || idle_before_daemon=1
  # The daemon.json snippet as shipped names the plugin.
  local_daemon_start --config-file="$E2E_ROOT/packaging/daemon.json"
  if [ "$LOCAL_SOCKET_ACTIVATION" = 1 ]; then
    if [ "$idle_before_daemon" = 1 ] && local_plugin_is_running; then
      pass legacy-socket-activation-plugin-starts-on-first-call
    else
      fail legacy-socket-activation-plugin-starts-on-first-call \
        "plugin running before the daemon: $((1 - idle_before_daemon)), after: $(local_plugin_is_running && echo 1 || echo 0)"
    fi
  fi
  expect_output legacy-install-daemon-lists-plugin '"authobot"' dk info --format '{{json .Plugins.Authorization}}'
  run_scenario article
  run_scenario reload
  run_scenario workflow
  run_scenario escapes-cli
  run_scenario escapes-api
  run_scenario host-access
  run_scenario testcontainers
  run_scenario resilience
  local_daemon_stop
  local_plugin_stop

  # 2. The managed plugin: docker plugin create/enable, then the daemon restarted with it.
  if wanted managed; then
    E2E_PLUGIN_MODE=managed
    local_install_policy "$E2E_POLICY_DEFAULT"
    local_daemon_start
    local_managed_install "$E2E_PLUGIN_DIR"
    local_daemon_stop
    local_daemon_start --authorization-plugin=authobot
    run_scenario managed
    local_daemon_stop
  fi

  # 3. fake-dockerd against a real dockerd (records with a daemon of its own).
  run_scenario fidelity

  # 4. Ownership between TLS users: a daemon of its own with --tlsverify and a test CA.
  run_scenario ownership-tls

  # 5. Local users through the gate, each the daemon's TLS user: a daemon of its own again.
  run_scenario gate
}

# The check outputs and daemon/plugin logs outlive the run in target/e2e-logs; the rest goes.
cleanup_work() {
  local logs="$E2E_ROOT/target/e2e-logs"
  rm -rf "$logs" && mkdir -p "$logs"
  cp -r "$E2E_WORK/out" "$E2E_WORK/log" "$logs/" 2>/dev/null || true
  if [ "${E2E_KEEP:-0}" = 1 ]; then
    log "keeping $E2E_WORK (remove it yourself)"
  else
    rm -rf "$E2E_WORK"
  fi
}

# ---- guest driver (inside a VM provisioned by vm/guest-setup.sh) ------------------------------

run_guest() {
  E2E_WORK=$(mktemp -d /tmp/abe.XXXXXX)
  # shellcheck source=vm/lib/guest.sh
  . "$E2E_VM/lib/guest.sh"
  trap 'guest_teardown; rm -rf "$E2E_WORK"' EXIT
  trap 'log "interrupted"; exit 130' INT TERM HUP
  guest_require
  scenario_host_access_detector
  run_scenario article
  run_scenario reload
  run_scenario workflow
  run_scenario escapes-cli
  run_scenario escapes-api
  run_scenario host-access
  run_scenario resilience
}

main() {
  local started=$SECONDS
  case "$E2E_DRIVER" in
    local) build && run_local ;;
    guest) run_guest ;;
    vagrant)
      build
      # shellcheck source=vm/lib/vagrant.sh
      . "$E2E_VM/lib/vagrant.sh"
      run_vagrant
      return
      ;;
    docker-machine)
      build
      # shellcheck source=vm/lib/docker-machine.sh
      . "$E2E_VM/lib/docker-machine.sh"
      run_docker_machine
      return
      ;;
    *) die "unknown E2E_DRIVER=$E2E_DRIVER (local, vagrant, docker-machine, guest)" ;;
  esac
  log "driver $E2E_DRIVER took $((SECONDS - started)) s"
  summary
}

main "$@"
