# shellcheck shell=bash
#: A test CA and a throwaway dockerd with --tlsverify, for the multi-user ownership scenario:
#: users are the CommonNames of client certificates, so each needs a certificate of its own.
#
# Everything lives under $TLS_WORK: the CA and server files in ca/ and server/, one
# DOCKER_CERT_PATH directory per user (ca.pem, cert.pem, key.pem), the daemon's data and exec
# roots, the plugin's socket directory and state. The daemon runs in a private mount namespace
# whose /run is a tmpfs with $TLS_WORK/plugins bind-mounted on /run/docker/plugins, so the
# plugin it discovers is ours; it keeps the host's network namespace, where its TLS port
# listens on 127.0.0.1 for the docker CLI (`--bridge=none`: no bridge is created).

TLS_WORK=""
TLS_PORT=""
TLS_PLUGIN=""
TLS_DAEMON_PID=""
TLS_PLUGIN_PID=""
TLS_LOG_PREFIX=ownership-tls  # the daemon's and plugin's logs: log/<prefix>-{dockerd,plugin}.log

# The openssl extension sections the certificates are signed with.
tls_openssl_config() {
  cat <<'EOF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
EOF
}

# tls_issue DIR CN SECTION: a P-256 key and a certificate for CN signed by the test CA,
# as DIR/key.pem and DIR/cert.pem, with the CA's certificate as DIR/ca.pem.
tls_issue() {
  local dir=$1 cn=$2 section=$3
  mkdir -p "$dir"
  openssl req -new -config "$TLS_WORK/openssl.cnf" -subj "/CN=$cn" \
    -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/key.pem" -out "$dir/req.csr" 2>>"$TLS_WORK/openssl.log" &&
    openssl x509 -req -in "$dir/req.csr" -CA "$TLS_WORK/ca/cert.pem" -CAkey "$TLS_WORK/ca/key.pem" \
      -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" -days 1 \
      -extfile "$TLS_WORK/openssl.cnf" -extensions "$section" \
      -out "$dir/cert.pem" 2>>"$TLS_WORK/openssl.log" &&
    cp "$TLS_WORK/ca/cert.pem" "$dir/ca.pem" &&
    rm -f "$dir/req.csr"
}

# tls_make_certs USER...: the throwaway CA, the daemon's certificate (CN=localhost) and one
# client certificate per user in $TLS_WORK/<user>/.
tls_make_certs() {
  local user
  tls_openssl_config >"$TLS_WORK/openssl.cnf"
  mkdir -p "$TLS_WORK/ca"
  openssl req -x509 -config "$TLS_WORK/openssl.cnf" -extensions ca \
    -subj "/CN=authobot e2e throwaway CA" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TLS_WORK/ca/key.pem" -out "$TLS_WORK/ca/cert.pem" -days 1 \
    2>>"$TLS_WORK/openssl.log" || return 1
  tls_issue "$TLS_WORK/server" localhost server || return 1
  for user in "$@"; do
    tls_issue "$TLS_WORK/$user" "$user" client || return 1
  done
}

# A TCP port on 127.0.0.1 nothing listens on (connect refused).
tls_free_port() {
  local port
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    # shellcheck disable=SC2188 # opening the socket is the probe
    if ! (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  return 1
}

# tls_plugin_start POLICY [SERVE_ARGS...]: authobot on $TLS_WORK/plugins/$TLS_PLUGIN.sock (seen
# by the daemon as /run/docker/plugins/$TLS_PLUGIN.sock) with its record in $TLS_WORK/state;
# waits until it answers Plugin.Activate.
tls_plugin_start() {
  local sock="$TLS_WORK/plugins/$TLS_PLUGIN.sock" policy=$1
  shift
  mkdir -p "$TLS_WORK/plugins" "$TLS_WORK/state"
  "$E2E_PLUGIN_BIN" serve --socket "$sock" --policy "$policy" --state-dir "$TLS_WORK/state" "$@" \
    >>"$E2E_WORK/log/$TLS_LOG_PREFIX-plugin.log" 2>&1 &
  TLS_PLUGIN_PID=$!
  retry_until 30 curl -sf --max-time 5 --unix-socket "$sock" -X POST http://plugin/Plugin.Activate
}

# tls_plugin_kill: SIGKILL, no chance to flush or clean up.
tls_plugin_kill() {
  [ -n "$TLS_PLUGIN_PID" ] || return 0
  kill -KILL "$TLS_PLUGIN_PID" 2>/dev/null || true
  wait "$TLS_PLUGIN_PID" 2>/dev/null || true
  TLS_PLUGIN_PID=""
}

# tls_daemon_start: dockerd on unix://$TLS_WORK/docker.sock and tcp://127.0.0.1:$TLS_PORT
# (--tlsverify with the test CA) behind the plugin; returns non-zero when it does not come up.
tls_daemon_start() {
  local log="$E2E_WORK/log/$TLS_LOG_PREFIX-dockerd.log"
  mkdir -p "$TLS_WORK/data" "$TLS_WORK/x" "$TLS_WORK/plugins"
  # shellcheck disable=SC2016 # expanded by the inner shell
  unshare --mount --propagation private -- sh -c '
      mount -t tmpfs -o mode=0755 authobot-e2e-tls-run /run || exit 1
      mkdir -p /run/docker/plugins && mount --bind "$1" /run/docker/plugins || exit 1
      shift
      exec "$@"' sh "$TLS_WORK/plugins" \
    dockerd -H "unix://$TLS_WORK/docker.sock" -H "tcp://127.0.0.1:$TLS_PORT" \
    --tlsverify --tlscacert "$TLS_WORK/ca/cert.pem" \
    --tlscert "$TLS_WORK/server/cert.pem" --tlskey "$TLS_WORK/server/key.pem" \
    --data-root "$TLS_WORK/data" --exec-root "$TLS_WORK/x" --pidfile "$TLS_WORK/dockerd.pid" \
    --iptables=false --ip-masq=false --bridge=none --storage-driver=vfs --shutdown-timeout=2 \
    --containerd-namespace "authobot-e2e-tls-$$" \
    --containerd-plugins-namespace "authobot-e2e-tls-$$-plugins" \
    --authorization-plugin="$TLS_PLUGIN" >>"$log" 2>&1 &
  TLS_DAEMON_PID=$!
  local deadline=$((SECONDS + 60))
  until curl -sf --max-time 2 --unix-socket "$TLS_WORK/docker.sock" http://docker/_ping >/dev/null 2>&1; do
    if ! kill -0 "$TLS_DAEMON_PID" 2>/dev/null; then
      tail -n 20 "$log" >&2
      return 1
    fi
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.5
  done
}

# The daemon by its PID, then whatever is left in its mount namespace (its containerd and
# shims, started by it) by PID.
tls_daemon_stop() {
  [ -n "$TLS_DAEMON_PID" ] || return 0
  local ns left deadline=$((SECONDS + 30))
  ns=$(readlink "/proc/$TLS_DAEMON_PID/ns/mnt" 2>/dev/null || true)
  kill -TERM "$TLS_DAEMON_PID" 2>/dev/null || true
  while kill -0 "$TLS_DAEMON_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  kill -KILL "$TLS_DAEMON_PID" 2>/dev/null || true
  wait "$TLS_DAEMON_PID" 2>/dev/null || true
  left=$(local_namespace_pids "$ns")
  # shellcheck disable=SC2086
  [ -n "$left" ] && kill -KILL $left 2>/dev/null
  TLS_DAEMON_PID=""
}

# Stops what tls_* started and removes $TLS_WORK (kept with E2E_KEEP=1). Safe to run twice.
tls_teardown() {
  tls_plugin_kill
  tls_daemon_stop
  if [ -n "$TLS_WORK" ] && [ "${E2E_KEEP:-0}" != 1 ]; then
    rm -rf "$TLS_WORK"
  fi
  TLS_WORK=""
}

# tls_as USER DOCKER_ARGS...: the docker CLI as USER, over TLS with USER's certificate.
tls_as() {
  local user=$1
  shift
  DOCKER_HOST="tcp://127.0.0.1:$TLS_PORT" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$TLS_WORK/$user" \
    "$E2E_DOCKER_CLI" "$@"
}

# tls_api USER METHOD TARGET [CURL_ARGS...]: one raw API call over TLS as USER; prints the HTTP
# status, then the body; fails unless the status is 2xx. A hijacked stream (attach) that is let
# through is cut after 15 s, and fails.
tls_api() {
  local user=$1 method=$2 target=$3 status
  shift 3
  status=$(curl --silent --show-error --max-time 15 --cacert "$TLS_WORK/$user/ca.pem" \
    --cert "$TLS_WORK/$user/cert.pem" --key "$TLS_WORK/$user/key.pem" -X "$method" \
    -o "$TLS_WORK/$user/api.body" -w '%{http_code}' "$@" "https://127.0.0.1:$TLS_PORT$target")
  printf '%s\n' "$status"
  cat "$TLS_WORK/$user/api.body" && echo
  [[ "$status" == 2?? ]]
}

# tls_anonymous DOCKER_ARGS...: the docker CLI on the daemon's unix socket (no user).
tls_anonymous() { DOCKER_HOST="unix://$TLS_WORK/docker.sock" "$E2E_DOCKER_CLI" "$@"; }
