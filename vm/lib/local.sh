# shellcheck shell=bash
#: The `local` driver: a throwaway dockerd on this host, the plugin started by us, all undone.
#
# Isolation: the daemon runs in its own mount and network namespaces (unshare), with a private
# /run, so the plugin socket it discovers at /run/docker/plugins/authobot.sock is OUR directory
# bind-mounted there (no clash with another daemon or plugin on the host), and its docker0/br-*
# bridges live in a private network namespace. It has its own socket, --data-root,
# --exec-root, --pidfile and containerd namespaces, --iptables=false, --storage-driver=vfs, and
# is stopped by its own PID.

E2E_DOCKER_SOCK="$E2E_WORK/docker.sock"
E2E_DAEMON_PID=""
E2E_PLUGIN_PID=""
E2E_PLUGIN_MODE=""            # legacy | managed
E2E_CONTAINERD_NS="authobot-e2e-$$"
LOCAL_PLUGIN_SOCK="$E2E_WORK/plugins/authobot.sock"
LOCAL_POLICY_DIR="$E2E_WORK/policy"

local_require() {
  [ "$(id -u)" = 0 ] || die "the local driver needs root (it starts dockerd)"
  local tool
  # ctr (from containerd, which docker.io depends on) finds the managed plugin's process.
  for tool in dockerd ctr unshare curl script timeout "$E2E_DOCKER_CLI"; do
    command -v "$tool" >/dev/null || die "the local driver needs $tool"
  done
  [ -x "$E2E_BUSYBOX" ] || die "the local driver needs a static busybox at $E2E_BUSYBOX (apt-get install busybox-static)"
}

# local_daemon_start [--authorization-plugin=NAME | --config-file=FILE]: starts dockerd with
# that flag, if any, and waits until it answers.
local_daemon_start() {
  local authz=${1:-}
  mkdir -p "$E2E_WORK/data" "$E2E_WORK/x" "$E2E_WORK/plugins" "$E2E_WORK/log"
  log "starting dockerd${authz:+ with $authz}"
  # /run in the daemon's namespace is a fresh tmpfs: nothing on the host's /run to create,
  # race for or have removed under us, and no containerd of the host to share. Only
  # resolv.conf is carried over when it lives there (systemd-resolved).
  local resolv
  resolv=$(readlink -f /etc/resolv.conf)
  case "$resolv" in /run/*) cp "$resolv" "$E2E_WORK/resolv.conf" ;; *) resolv="" ;; esac
  # shellcheck disable=SC2016 # expanded by the inner shell
  unshare --mount --net --propagation private -- sh -c '
      mount -t tmpfs -o mode=0755 authobot-e2e-run /run || exit 1
      mkdir -p /run/docker/plugins && mount --bind "$1/plugins" /run/docker/plugins || exit 1
      if [ -n "$2" ]; then mkdir -p "${2%/*}" && cp "$1/resolv.conf" "$2" || exit 1; fi
      ip link set lo up 2>/dev/null
      shift 2
      exec "$@"' sh "$E2E_WORK" "$resolv" \
    dockerd --host "unix://$E2E_DOCKER_SOCK" --data-root "$E2E_WORK/data" \
    --exec-root "$E2E_WORK/x" --pidfile "$E2E_WORK/dockerd.pid" \
    --iptables=false --ip-masq=false --storage-driver=vfs --shutdown-timeout=2 \
    --containerd-namespace "$E2E_CONTAINERD_NS" \
    --containerd-plugins-namespace "$E2E_CONTAINERD_NS-plugins" \
    ${authz:+"$authz"} \
    >>"$E2E_WORK/log/dockerd.log" 2>&1 &
  E2E_DAEMON_PID=$!
  local deadline=$((SECONDS + 60))
  until curl -sf --max-time 2 --unix-socket "$E2E_DOCKER_SOCK" http://docker/_ping >/dev/null 2>&1; do
    if ! kill -0 "$E2E_DAEMON_PID" 2>/dev/null; then
      tail -n 20 "$E2E_WORK/log/dockerd.log" >&2
      die "dockerd exited during start-up"
    fi
    [ "$SECONDS" -ge "$deadline" ] && die "dockerd did not answer within 60 s"
    sleep 0.5
  done
  # With a plugin in the chain /_ping passes through it; wait for a plain API call as well.
  retry_until 30 dk version || log "warning: docker version still fails after start-up"
}

# Processes left in the daemon's mount namespace (containerd, shims) were started by us; they
# are found by namespace, not by name, and stopped by PID.
local_namespace_pids() {
  local ns=$1 p
  [ -n "$ns" ] || return 0
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$ns" ] && printf '%s\n' "${p#/proc/}"
  done
  return 0
}

local_daemon_stop() {
  [ -n "$E2E_DAEMON_PID" ] || return 0
  local ns
  ns=$(readlink "/proc/$E2E_DAEMON_PID/ns/mnt" 2>/dev/null || true)
  log "stopping dockerd (pid $E2E_DAEMON_PID)"
  kill -TERM "$E2E_DAEMON_PID" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$E2E_DAEMON_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  kill -KILL "$E2E_DAEMON_PID" 2>/dev/null || true
  wait "$E2E_DAEMON_PID" 2>/dev/null || true
  local left
  left=$(local_namespace_pids "$ns")
  if [ -n "$left" ]; then
    log "stopping leftovers of that daemon: $(echo "$left" | tr '\n' ' ')"
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
  fi
  E2E_DAEMON_PID=""
}

# Makes FILE the active policy (renamed into place, so the plugin never reads half a file).
local_install_policy() {
  mkdir -p "$LOCAL_POLICY_DIR"
  cp "$1" "$LOCAL_POLICY_DIR/.policy.toml.new"
  mv -f "$LOCAL_POLICY_DIR/.policy.toml.new" "$LOCAL_POLICY_DIR/policy.toml"
}

# The legacy install, as authobot.socket + authobot.service run it: the socket is created
# first and the plugin started by the first call, with the socket as LISTEN_FDS
# (systemd-socket-activate). Without that tool the plugin binds the socket itself.
LOCAL_SOCKET_ACTIVATION=0
local_legacy_start() {
  rm -f "$LOCAL_PLUGIN_SOCK"
  # shellcheck disable=SC2153 # set by e2e.sh
  local -a cmd=("$E2E_PLUGIN_BIN" serve --policy "$LOCAL_POLICY_DIR/policy.toml")
  if [ "${E2E_SOCKET_ACTIVATION:-1}" = 1 ] && command -v systemd-socket-activate >/dev/null; then
    # shellcheck disable=SC2034 # read by e2e.sh
    LOCAL_SOCKET_ACTIVATION=1
    systemd-socket-activate -l "$LOCAL_PLUGIN_SOCK" -- "${cmd[@]}" \
      >>"$E2E_WORK/log/plugin.log" 2>&1 &
    E2E_PLUGIN_PID=$!
    retry_until 30 test -S "$LOCAL_PLUGIN_SOCK" || die "no socket at $LOCAL_PLUGIN_SOCK"
  else
    log "systemd-socket-activate not used: the plugin binds its socket itself"
    "${cmd[@]}" --socket "$LOCAL_PLUGIN_SOCK" >>"$E2E_WORK/log/plugin.log" 2>&1 &
    E2E_PLUGIN_PID=$!
    local_plugin_answers || die "the plugin did not answer Plugin.Activate on $LOCAL_PLUGIN_SOCK"
  fi
}

local_plugin_answers() {
  retry_until 30 curl -sf --max-time 5 --unix-socket "$LOCAL_PLUGIN_SOCK" -X POST \
    http://plugin/Plugin.Activate
}

# True once the plugin process itself runs (socket activation execs it on the first call).
local_plugin_is_running() { [ "$(readlink "/proc/$E2E_PLUGIN_PID/exe")" = "$(readlink -f "$E2E_PLUGIN_BIN")" ]; }

local_plugin_stop() {
  [ -n "$E2E_PLUGIN_PID" ] || return 0
  kill -KILL "$E2E_PLUGIN_PID" 2>/dev/null || true
  wait "$E2E_PLUGIN_PID" 2>/dev/null || true
  E2E_PLUGIN_PID=""
}

# The managed plugin's process, found through the daemon's own containerd.
local_managed_pid() {
  ctr --address "$E2E_WORK/x/containerd/containerd.sock" -n "$E2E_CONTAINERD_NS-plugins" \
    task ls 2>/dev/null | awk 'NR > 1 && $3 == "RUNNING" { print $2; exit }'
}

# docker plugin create + set + enable on a daemon without authorization; the policy comes from
# a host directory through the plugin's settable `policy` mount.
local_managed_install() {
  local dir=$1
  dk plugin create authobot "$dir" >/dev/null || die "docker plugin create failed"
  dk plugin set authobot policy.source="$LOCAL_POLICY_DIR" \
    args="--policy /etc/authobot/policy.toml" || die "docker plugin set failed"
  dk plugin enable authobot >/dev/null || die "docker plugin enable failed"
}

# The units as shipped, checked by systemd itself (with the built binary in place of
# /usr/local/bin/authobot, which is not installed here).
local_verify_units() {
  local dir="$E2E_WORK/units" unit
  if ! command -v systemd-analyze >/dev/null; then
    log "SKIP legacy-units-verify: systemd-analyze is not installed"
    return 0
  fi
  mkdir -p "$dir"
  for unit in authobot.socket authobot.service; do
    sed "s|/usr/local/bin/authobot|$E2E_PLUGIN_BIN|g" "$E2E_ROOT/packaging/systemd/$unit" >"$dir/$unit"
  done
  # The drop-in, checked as a unit of its own.
  cp "$E2E_ROOT/packaging/systemd/docker.service.d/authobot.conf" "$dir/docker-dropin.service"
  printf '[Service]\nExecStart=/bin/true\n' >>"$dir/docker-dropin.service"
  expect_ok legacy-units-verify verify_units_silently "$dir/authobot.socket" "$dir/authobot.service" \
    "$dir/docker-dropin.service"
}

# systemd-analyze verify exits 0 on unknown keys; any message at all counts as a failure.
verify_units_silently() {
  local said
  said=$(systemd-analyze verify --man=no "$@" 2>&1)
  printf '%s' "$said"
  [ -z "$said" ]
}

# ---- the driver interface the scenarios call --------------------------------------------------

# plugin_use_policy FILE: make FILE the policy and tell the running plugin (SIGHUP).
plugin_use_policy() {
  local_install_policy "$1"
  local pid=$E2E_PLUGIN_PID
  # Before its first call a socket-activated plugin is not running yet: SIGHUP would stop the
  # activator. A call makes it run (and it reads the new file at start anyway).
  [ "$E2E_PLUGIN_MODE" = legacy ] && ! local_plugin_is_running && local_plugin_answers
  [ "$E2E_PLUGIN_MODE" = managed ] && pid=$(local_managed_pid)
  [ -n "$pid" ] || die "no plugin process to send SIGHUP to"
  kill -HUP "$pid"
}

plugin_kill() { local_plugin_stop; }
plugin_restart() { local_legacy_start; }
# The daemon's PID and start time, read from its pidfile: changes if it was restarted.
daemon_id() {
  local pid
  pid=$(cat "$E2E_WORK/dockerd.pid" 2>/dev/null) || return 0
  printf '%s-%s' "$pid" "$(cut -d ' ' -f 22 "/proc/$pid/stat" 2>/dev/null)"
}

local_teardown() {
  local_plugin_stop
  local_daemon_stop
}
