# shellcheck shell=bash
#: The gate (issue 19): two local users run the real docker CLI against /run/docker.sock with
#: no TLS settings of their own; the gate relays each to dockerd's TLS port as themselves.
#: Ownership holds between them, their interactive and streamed calls work, the daemon's own
#: socket is out of their reach, the audit log names every caller, `--check` sees what would
#: open a way around, and the gate's cost is measured against going straight to dockerd.
#
# The users exist only in a mount namespace of ours: the gate runs there with private copies
# of /etc/passwd and /etc/group (alice and bob on free ids, both in group docker) and a tmpfs
# /run, where it listens on /run/docker.sock; each user command enters that namespace
# (nsenter) and drops to the user (setpriv --init-groups) with a clean environment. The daemon
# is vm/lib/tls.sh's (its own mount namespace, --tlsverify on 127.0.0.1:<free port>, its unix
# socket in a root-only directory) with the gate's CA and certificate, behind authobot.

# shellcheck source=vm/lib/tls.sh
. "$E2E_VM/lib/tls.sh"

GATE_WORK=""
GATE_PID=""
GATE_DOCKER_GID=""
GATE_ADMIN=gate-admin
export GATE_ADMIN

# gate_free_id FROM: the first id from FROM that no host user or group has.
gate_free_id() {
  local id=$1
  while getent passwd "$id" >/dev/null || getent group "$id" >/dev/null; do id=$((id + 1)); done
  printf '%s\n' "$id"
}

# The namespace's user database: the host's, with alice and bob (on free ids, host entries of
# those names dropped) and a docker group (the host's gid when it has one) holding both.
gate_make_users() {
  local etc="$GATE_WORK/etc" alice bob user
  mkdir -p "$etc"
  alice=$(gate_free_id 61000)
  bob=$(gate_free_id $((alice + 1)))
  GATE_DOCKER_GID=$(getent group docker | cut -d: -f3)
  [ -n "$GATE_DOCKER_GID" ] || GATE_DOCKER_GID=$(gate_free_id $((bob + 1)))
  grep -Ev '^(alice|bob):' /etc/passwd >"$etc/passwd"
  printf 'alice:x:%s:%s::%s:/bin/sh\nbob:x:%s:%s::%s:/bin/sh\n' \
    "$alice" "$alice" "$GATE_WORK/home/alice" "$bob" "$bob" "$GATE_WORK/home/bob" >>"$etc/passwd"
  grep -Ev '^(alice|bob|docker):' /etc/group >"$etc/group"
  printf 'alice:x:%s:\nbob:x:%s:\ndocker:x:%s:alice,bob\n' "$alice" "$bob" "$GATE_DOCKER_GID" >>"$etc/group"
  for user in alice bob; do
    mkdir -p "$GATE_WORK/home/$user"
    chown "$(grep "^$user:" "$etc/passwd" | cut -d: -f3):$(grep "^$user:" "$etc/passwd" | cut -d: -f4)" \
      "$GATE_WORK/home/$user"
  done
  mkdir -p "$GATE_WORK/home/root"
  export GATE_DOCKER_GID
}

# The gate in its namespace, on /run/docker.sock there (group docker of the namespace).
gate_start() {
  # shellcheck disable=SC2016 # expanded by the inner shell
  unshare --mount --propagation private -- sh -c '
      mount --bind "$1/etc/passwd" /etc/passwd && mount --bind "$1/etc/group" /etc/group &&
        mount -t tmpfs -o mode=0755 authobot-e2e-gate-run /run || exit 1
      shift
      exec "$@"' sh "$GATE_WORK" \
    "$E2E_PLUGIN_BIN" gate --state-dir "$GATE_WORK/state" --daemon "127.0.0.1:$TLS_PORT" \
    --root-identity "$GATE_ADMIN" >>"$E2E_WORK/log/gate.log" 2>&1 &
  GATE_PID=$!
  export GATE_PID
  retry_until 30 nsenter --target "$GATE_PID" --mount -- test -S /run/docker.sock
}

gate_stop() {
  [ -n "$GATE_PID" ] || return 0
  kill -TERM "$GATE_PID" 2>/dev/null || true
  wait "$GATE_PID" 2>/dev/null || true
  GATE_PID=""
}

gate_teardown() {
  gate_stop
  tls_teardown
  if [ -n "$GATE_WORK" ] && [ "${E2E_KEEP:-0}" != 1 ]; then rm -rf "$GATE_WORK"; fi
  GATE_WORK=""
}

# Owner and mode of the state directory and the two keys, on one line.
gate_key_modes() {
  local state="$GATE_WORK/state"
  stat -c '%U:%a' "$state" "$state/ca-key.pem" "$state/daemon-key.pem" | paste -sd ' '
}

# gate_as WHO CMD...: CMD in the gate's namespace as WHO (a user name, `root`, or uid:N for a
# uid without a name, in group docker), with a clean environment: no DOCKER_HOST, no TLS
# settings, so the CLI dials /var/run/docker.sock, the gate.
gate_as() {
  local who=$1 home
  shift
  local -a become=()
  case $who in
    root) home=root ;;
    uid:*)
      home=root
      become=(setpriv --reuid "${who#uid:}" --regid "${who#uid:}" --groups "$GATE_DOCKER_GID")
      ;;
    *)
      home=$who
      become=(setpriv --reuid "$who" --regid "$who" --init-groups)
      ;;
  esac
  nsenter --target "$GATE_PID" --mount -- "${become[@]}" env -i PATH=/usr/local/bin:/usr/bin:/bin \
    HOME="$GATE_WORK/home/$home" TERM=xterm "$@"
}

# gate_sh WHO SCRIPT: a shell script as WHO (for pipes, background jobs and ptys).
gate_sh() { gate_as "$1" sh -c "$2"; }

# The daemon's own unix socket, as root.
gate_root_socket() { DOCKER_HOST="unix://$TLS_WORK/docker.sock" "$E2E_DOCKER_CLI" "$@"; }

# expect_fails_with NAME REGEX CMD...: passes when CMD fails and its output matches REGEX.
expect_fails_with() {
  local name=$1 re=$2
  shift 2
  if run_capture "$name" "$@"; then
    fail "$name" "the command succeeded: $(last_lines "$name")"
  elif grep -Eq -- "$re" "$(out_file "$name")"; then
    pass "$name"
  else
    fail "$name" "failed, but not with /$re/: $(last_lines "$name")"
  fi
}

# Bob's attempts on alice's container, by full id, id prefix and name.
gate_bob_is_refused() {
  local id=$1 prefix=${1:0:12}
  tls_expect_not_yours gate-bob-exec-by-id-refused alice gate_as bob docker exec "$id" true
  tls_expect_not_yours gate-bob-exec-by-prefix-refused alice gate_as bob docker exec "$prefix" true
  tls_expect_not_yours gate-bob-exec-by-name-refused alice gate_as bob docker exec web true
  tls_expect_not_yours gate-bob-logs-by-name-refused alice gate_as bob docker logs web
  tls_expect_not_yours gate-bob-inspect-by-prefix-refused alice gate_as bob docker inspect "$prefix"
  tls_expect_not_yours gate-bob-stop-by-id-refused alice gate_as bob docker stop "$id"
  tls_expect_not_yours gate-bob-rm-by-prefix-refused alice gate_as bob docker rm -f "$prefix"
  E2E_TIMEOUT=30 tls_expect_not_yours gate-bob-attach-by-name-refused alice gate_as bob docker attach web
}

# What alice does with her own containers, interactive and streamed calls included.
gate_alice_works() {
  local image=$E2E_IMAGE
  expect_output gate-alice-exec '^ok$' gate_as alice docker exec web echo ok
  expect_output gate-alice-exec-stdin-closes '^piped$' \
    gate_sh alice "echo piped | docker exec -i web cat"
  # The size is read after the CLI's first resize (it follows the start of the process).
  expect_output gate-alice-exec-it-tty-size '21 61' \
    gate_sh alice "script -qc \"stty rows 21 cols 61; docker exec -it web sh -c 'sleep 1; stty size'\" /dev/null"
  # The container reads its size after the CLI's first resize, and again after the
  # terminal was resized under it (SIGWINCH: the CLI sends a second resize).
  expect_output gate-alice-run-it-resized '33 77.*44 88' \
    gate_sh alice "script -qc \"stty rows 33 cols 77; docker run -it --rm $image sh -c 'sleep 1; stty size; sleep 3; stty size' </dev/tty & sleep 2.5; stty rows 44 cols 88; wait\" /dev/null | tr -d '\\r' | tr '\\n' ' '"
  expect_output gate-alice-run-stdin '^hello$' gate_sh alice "echo hello | docker run -i --rm $image cat"
  expect_ok gate-alice-run-talker gate_as alice docker run -d -i --name talker "$image" \
    sh -c 'read line; echo "got:$line"'
  # stdin stays open until the container answered: dockerd ends a non-StdinOnce attach's
  # output as soon as the client's input ends.
  expect_output gate-alice-attach-both-ways '^got:hello$' \
    gate_sh alice "(echo hello; sleep 5) | docker attach talker"
  expect_ok gate-alice-run-chatty gate_as alice docker run -d --name chatty "$image" \
    sh -c 'echo one; sleep 2; echo two'
  expect_output gate-alice-logs-follow 'one.*two' \
    gate_sh alice "docker logs -f chatty | tr '\\n' ' '"
  expect_output gate-alice-events 'start.*die' gate_sh alice "
    docker events --filter container=evt --format '{{.Action}}' >\"\$HOME/events\" & pid=\$!
    sleep 1; docker run --rm --name evt $image true; sleep 1; kill \$pid
    tr '\\n' ' ' <\"\$HOME/events\""
  expect_output gate-alice-cp-both-ways '^payload$' gate_sh alice "
    echo payload >\"\$HOME/in\" && docker cp \"\$HOME/in\" web:/tmp/in &&
    docker cp web:/tmp/in \"\$HOME/out\" && cat \"\$HOME/out\""
  expect_output gate-alice-build '^built$' gate_sh alice "
    mkdir -p \"\$HOME/ctx\" && printf 'FROM $image\nRUN echo built > /built\n' >\"\$HOME/ctx/Dockerfile\" &&
    DOCKER_BUILDKIT=0 docker build -q -t alice-built \"\$HOME/ctx\" >/dev/null &&
    docker run --rm alice-built cat /built"
}

# Every audit line written since line FROM names a user of the gate, and both users appear.
gate_audit_names_everyone() {
  local from=$1 audit="$TLS_WORK/audit.jsonl" lines users
  lines=$(tail -n "+$((from + 1))" "$audit")
  [ -n "$lines" ] || {
    echo "no audit line was written"
    return 1
  }
  users=$(printf '%s\n' "$lines" | sed -n 's/.*"user":"\([^"]*\)".*/\1/p' | sort | uniq -c)
  printf '%s lines; per user:\n%s\n' "$(printf '%s\n' "$lines" | wc -l)" "$users"
  # Every line has a user, and only ours.
  [ "$(printf '%s\n' "$lines" | grep -vc '"user":"\(alice\|bob\|'"$GATE_ADMIN"'\)"')" = 0 ] &&
    grep -q ' alice$' <<<"$users" && grep -q ' bob$' <<<"$users" &&
    printf '%s\n' "$lines" | grep -q '"user":"bob".*"decision":"deny"'
}

# The `--check` of the gate, from the users' namespace (so it counts alice and bob).
gate_check() {
  gate_as root "$E2E_PLUGIN_BIN" gate --check --daemon-pidfile "$TLS_WORK/dockerd.pid" \
    --state-dir "$GATE_WORK/state"
}

# What --check reports when the setup is opened up, one way at a time, and put back.
gate_check_finds_ways_around() {
  local state="$GATE_WORK/state"
  chgrp "$GATE_DOCKER_GID" "$TLS_WORK/docker.sock" && chmod 0660 "$TLS_WORK/docker.sock"
  chmod 0755 "$TLS_WORK"
  expect_fails_with gate-check-finds-the-daemon-socket \
    "FOUND daemon-socket: users alice, bob can connect to dockerd's API socket $TLS_WORK/docker.sock" gate_check
  expect_output gate-alice-reaches-an-open-daemon-socket '^[0-9a-f]{12}' \
    gate_as alice env DOCKER_HOST="unix://$TLS_WORK/docker.sock" docker ps -q --no-trunc=false
  chmod 0700 "$TLS_WORK"
  chgrp "$GATE_DOCKER_GID" "$state" "$state/ca-key.pem" && chmod 0750 "$state" && chmod 0640 "$state/ca-key.pem"
  expect_fails_with gate-check-finds-a-readable-ca-key \
    "FOUND key-readable: users alice, bob can read $state/ca-key.pem" gate_check
  chgrp 0 "$state" "$state/ca-key.pem" && chmod 0700 "$state" && chmod 0600 "$state/ca-key.pem"
  expect_output gate-check-clean-again '^no way around the gate found$' gate_check
}

# The gate's units and drop-ins as shipped, checked by systemd itself (the built binary in
# place of /usr/local/bin/authobot; each drop-in as a unit of its own).
gate_verify_units() {
  if ! command -v systemd-analyze >/dev/null; then
    log "SKIP gate-units-verify: systemd-analyze is not installed"
    return 0
  fi
  local dir="$GATE_WORK/units" shipped="$E2E_ROOT/packaging/gate"
  mkdir -p "$dir"
  local bin="s|/usr/local/bin/authobot|$E2E_PLUGIN_BIN|g"
  sed "$bin" "$shipped/authobot-gate.socket" >"$dir/authobot-gate.socket"
  sed "$bin" "$shipped/authobot-gate.service" >"$dir/authobot-gate.service"
  sed "$bin" "$shipped/docker.service.d/authobot-gate.conf" >"$dir/gate-docker-dropin.service"
  cp "$shipped/docker.socket.d/authobot-gate.conf" "$dir/gate-docker-dropin.socket"
  expect_ok gate-units-verify verify_units_silently "$dir"/*
}

# ---- the gate's cost -----------------------------------------------------------------------

# The api_bench example, built like the plugin (same flags and target, so the dependencies
# are shared), unless E2E_GATE_BENCH names a binary.
gate_bench_binary() {
  if [ -n "${E2E_GATE_BENCH:-}" ]; then
    printf '%s\n' "$E2E_GATE_BENCH"
    return
  fi
  local host
  host=$(rustc -vV | sed -n 's/^host: //p')
  if [ "${E2E_SKIP_BUILD:-0}" != 1 ]; then
    (cd "$E2E_ROOT" && RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
      cargo build --locked --release -p authobot-gate --example api_bench --target "$host") >&2 ||
      return 1
  fi
  printf '%s\n' "$E2E_ROOT/target/$host/release/examples/api_bench"
}

# The root identity's certificate for the direct TLS path (the gate never hands one out:
# root makes this one, for the measurement only).
gate_direct_cert() {
  local dir="$GATE_WORK/direct/$GATE_ADMIN"
  tls_openssl_config >"$TLS_WORK/openssl.cnf"
  tls_issue "$dir" "$GATE_ADMIN" client || return 1
  printf '%s\n' "$dir"
}

# gate_ms CMD...: milliseconds CMD takes as root in the gate's namespace (output discarded);
# fails when CMD fails.
gate_ms() {
  local started ended
  started=$(date +%s%N)
  gate_as root "$@" >/dev/null 2>&1 || return 1
  ended=$(date +%s%N)
  echo $(((ended - started) / 1000000))
}

# gate_latency LABEL RUNS CERT_DIR CMD...: the CLI command CMD, RUNS times on each path, the
# order reversed every other round: through the gate, straight to dockerd's TLS port with
# the same identity's certificate, and on dockerd's own unix socket (anonymous: what users
# called before the gate). Prints median and p90 of each and the ratios.
gate_latency() {
  local label=$1 runs=$2 certs=$3 i path ms
  shift 3
  local -A taken=([gate]="" [tls]="" [unix]="")
  local -a order=(gate tls unix)
  for ((i = 0; i < runs; i++)); do
    for path in "${order[@]}"; do
      case $path in
        gate) ms=$(gate_ms "$@") ;;
        tls) ms=$(gate_ms env DOCKER_HOST="tcp://127.0.0.1:$TLS_PORT" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$certs" "$@") ;;
        unix) ms=$(gate_ms env DOCKER_HOST="unix://$TLS_WORK/docker.sock" "$@") ;;
      esac || return 1
      taken[$path]+=" $ms"
    done
    order=("${order[2]}" "${order[1]}" "${order[0]}")
  done
  awk -v label="$label" -v gate="${taken[gate]}" -v tls="${taken[tls]}" -v unix="${taken[unix]}" '
    function rank(list, q,    n, a, i, j, t) {
      n = split(list, a, " ")
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      i = int(q * n + 0.999999); if (i < 1) i = 1
      return a[i] + 0
    }
    BEGIN {
      g50 = rank(gate, 0.5); g90 = rank(gate, 0.9)
      t50 = rank(tls, 0.5); t90 = rank(tls, 0.9)
      u50 = rank(unix, 0.5); u90 = rank(unix, 0.9)
      printf "%-16s median ms: gate %5d tls %5d unix %5d | p90 ms: gate %5d tls %5d unix %5d | gate/tls %.2fx %.2fx, gate/unix %.2fx %.2fx\n",
        label, g50, t50, u50, g90, t90, u90, g50 / t50, g90 / t90, g50 / u50, g90 / u90
    }'
}

# The measurements, in one run: CLI latencies, then API throughput (api_bench), as root: the
# gate relays root as the root identity, the TLS path uses that identity's certificate, the
# daemon's own socket is root only.
gate_measure() {
  local certs=$1 bench=$2
  echo "CLI latency, $GATE_BENCH_RUNS runs per path (wall time of the whole CLI process, ms; ratios median and p90):"
  gate_latency 'docker ps' "$GATE_BENCH_RUNS" "$certs" docker ps || return 1
  gate_latency 'docker run --rm' "$GATE_BENCH_RUNS" "$certs" docker run --rm "$E2E_IMAGE" true || return 1
  echo
  gate_as root "$bench" --gate /run/docker.sock --tls "127.0.0.1:$TLS_PORT" --cert-dir "$certs" \
    --daemon-socket "$TLS_WORK/docker.sock" --connections "$GATE_BENCH_CONNECTIONS" \
    --duration "$GATE_BENCH_DURATION" --warmup 1
}

gate_cost() {
  local certs bench
  export GATE_BENCH_RUNS=${GATE_BENCH_RUNS:-10} GATE_BENCH_DURATION=${GATE_BENCH_DURATION:-5} \
    GATE_BENCH_CONNECTIONS=${GATE_BENCH_CONNECTIONS:-8}
  if ! certs=$(gate_direct_cert); then
    fail gate-bench-measured "openssl could not make the certificate: $(tail -n 3 "$TLS_WORK/openssl.log")"
    return 0
  fi
  if ! bench=$(gate_bench_binary) || [ ! -x "$bench" ]; then
    fail gate-bench-measured "the api_bench example could not be built"
    return 0
  fi
  log "gate: measuring the gate against dockerd's TLS port and its unix socket (about 2 minutes)"
  if run_capture gate-bench-measured gate_measure "$certs" "$bench"; then
    pass gate-bench-measured
    sed 's/^/    /' "$(out_file gate-bench-measured)" >&2
  else
    fail gate-bench-measured "$(last_lines gate-bench-measured)"
  fi
}

# ---- the scenario ---------------------------------------------------------------------------

scenario_gate() {
  local tool
  for tool in openssl nsenter setpriv; do
    if ! command -v "$tool" >/dev/null; then
      if [ -n "${CI:-}" ]; then
        fail gate-setup "$tool is not installed"
      else
        log "SKIP gate: $tool is not installed"
      fi
      return 0
    fi
  done
  # Our teardown runs on any exit, before the driver's own.
  local outer=""
  eval "set -- $(trap -p EXIT)"
  [ $# -ge 3 ] && outer=$3
  # shellcheck disable=SC2064 # the outer command is fixed now
  trap "gate_teardown; $outer" EXIT

  local started=$SECONDS
  GATE_WORK="$E2E_WORK/gate"
  TLS_WORK="$GATE_WORK/daemon"
  TLS_PLUGIN="authobot-gate-$$"
  TLS_LOG_PREFIX=gate
  mkdir -p "$TLS_WORK" "$E2E_WORK/log"
  chmod 0755 "$GATE_WORK"
  # The daemon's unix socket lives here: root only, as the packaging's /run/docker-root.
  chmod 0700 "$TLS_WORK"
  export GATE_WORK TLS_WORK TLS_PLUGIN TLS_LOG_PREFIX E2E_PLUGIN_BIN
  if ! TLS_PORT=$(tls_free_port); then
    fail gate-setup "no free TCP port found on 127.0.0.1"
    gate_teardown
    return 0
  fi
  export TLS_PORT

  # The gate makes its CA on first start; --init does only that and says how to run dockerd.
  expect_output gate-init-prints-dockerd-flags \
    "^-H tcp://127.0.0.1:$TLS_PORT --tlsverify --tlscacert $GATE_WORK/state/ca.pem " \
    "$E2E_PLUGIN_BIN" gate --init --state-dir "$GATE_WORK/state" --daemon "127.0.0.1:$TLS_PORT"
  expect_output gate-keys-are-root-only '^root:700 root:600 root:600$' gate_key_modes
  # Where tls_daemon_start reads the daemon's TLS files, and tls_issue the CA's.
  mkdir -p "$TLS_WORK/ca" "$TLS_WORK/server"
  ln -sf "$GATE_WORK/state/ca.pem" "$TLS_WORK/ca/cert.pem"
  ln -sf "$GATE_WORK/state/ca-key.pem" "$TLS_WORK/ca/key.pem"
  ln -sf "$GATE_WORK/state/daemon.pem" "$TLS_WORK/server/cert.pem"
  ln -sf "$GATE_WORK/state/daemon-key.pem" "$TLS_WORK/server/key.pem"
  gate_make_users
  gate_verify_units

  # The default policy; root comes through the gate as the admin.
  cp "$E2E_POLICY_DEFAULT" "$GATE_WORK/policy.toml"
  printf '\n[groups.admins]\nmembers = ["%s"]\nadmin = true\n' "$GATE_ADMIN" >>"$GATE_WORK/policy.toml"
  log "gate: dockerd --tlsverify on 127.0.0.1:$TLS_PORT behind plugin $TLS_PLUGIN, the gate in front"
  if ! tls_plugin_start "$GATE_WORK/policy.toml" --audit-log "$TLS_WORK/audit.jsonl"; then
    fail gate-setup "the plugin did not answer on its socket"
    gate_teardown
    return 0
  fi
  if ! tls_daemon_start; then
    fail gate-setup "the daemon did not start (log: gate-dockerd.log)"
    gate_teardown
    return 0
  fi
  if ! gate_start; then
    fail gate-setup "the gate did not open /run/docker.sock (log: gate.log)"
    gate_teardown
    return 0
  fi
  expect_output gate-check-finds-nothing '^no way around the gate found$' gate_check

  # Straight on the daemon's own socket, as root: the image, and a container nobody owns.
  DOCKER_HOST="unix://$TLS_WORK/docker.sock" make_busybox_image
  expect_ok gate-root-socket-makes-rootbox gate_root_socket run -d --name rootbox "$E2E_IMAGE" sleep 1000
  local audit_from
  audit_from=$(wc -l <"$TLS_WORK/audit.jsonl")

  expect_output gate-alice-ps-with-no-tls-settings '^CONTAINER ID' gate_as alice docker ps
  expect_output gate-alice-run '^alice-ok$' gate_as alice docker run --rm "$E2E_IMAGE" echo alice-ok
  expect_ok gate-alice-runs-web gate_as alice docker run -d --name web "$E2E_IMAGE" sleep 1000
  local id
  id=$(gate_as alice docker inspect -f '{{.Id}}' web 2>/dev/null)
  gate_bob_is_refused "$id"
  gate_alice_works
  expect_output gate-admin-root-execs-in-alices-container '^admin-ok$' \
    gate_as root docker exec web echo admin-ok

  # Made by an anonymous caller, so owned by the anonymous callers, not by any gate user.
  local anonymous="authorization denied by plugin $TLS_PLUGIN: .*belongs to the anonymous callers"
  expect_fails_with gate-alice-refused-rootbox-by-name "$anonymous" gate_as alice docker exec rootbox true
  expect_fails_with gate-bob-refused-rootbox-logs "$anonymous" gate_as bob docker logs rootbox
  expect_fails_with gate-alice-cannot-reach-the-daemon-socket 'permission denied' \
    gate_as alice env DOCKER_HOST="unix://$TLS_WORK/docker.sock" docker ps
  expect_fails_with gate-bob-cannot-skip-the-gate-over-plain-tcp 'HTTP request to an HTTPS server' \
    gate_as bob env DOCKER_HOST="tcp://127.0.0.1:$TLS_PORT" docker ps
  expect_fails_with gate-bob-cannot-skip-the-gate-over-tls-without-a-certificate \
    'alert (bad certificate|certificate required)' gate_as bob curl -sS -k "https://127.0.0.1:$TLS_PORT/v1.41/containers/json"
  expect_fails_with gate-unknown-uid-refused \
    'authobot gate: uid [0-9]+ has no user name on this host' \
    gate_as "uid:$(gate_free_id 62000)" docker ps
  expect_ok gate-audit-names-every-caller gate_audit_names_everyone "$audit_from"

  gate_check_finds_ways_around
  gate_cost

  gate_teardown
  trap -- "$outer" EXIT
  log "gate took $((SECONDS - started)) s"
}
