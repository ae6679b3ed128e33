# shellcheck shell=bash
#: Container ownership between TLS users with the real docker CLI (issue 7): a dockerd with
#: --tlsverify and a test CA, alice's container refused to bob, allowed to alice and to carol
#: (an admin), and still so after the plugin is killed with SIGKILL and restarted on its state.

# shellcheck source=vm/lib/tls.sh
. "$E2E_VM/lib/tls.sh"

# tls_expect_not_yours NAME OWNER CMD...: passes when CMD fails with the plugin's denial saying
# the object belongs to OWNER (in the CLI's text or the API's JSON, where quotes are escaped).
tls_expect_not_yours() {
  local name=$1 owner=$2
  shift 2
  if run_capture "$name" "$@"; then
    fail "$name" "the command succeeded: $(last_lines "$name")"
  elif grep -Eq -- "authorization denied by plugin $TLS_PLUGIN: .*belongs to user \\\\?\"$owner\\\\?\"" \
    "$(out_file "$name")"; then
    pass "$name"
  else
    fail "$name" "failed, but not with the plugin's ownership denial: $(last_lines "$name")"
  fi
}

# Bob's attempts on alice's container `web`, each refused with a message naming alice.
tls_bob_is_refused() {
  local prefix=$1
  tls_expect_not_yours "$prefix-bob-exec-refused" alice tls_as bob exec web true
  [ "$prefix" = ownership-tls ] || return 0
  tls_expect_not_yours "$prefix-bob-logs-refused" alice tls_as bob logs web
  tls_expect_not_yours "$prefix-bob-cp-refused" alice tls_as bob cp web:/bin/busybox "$TLS_WORK/bob/copied"
  tls_expect_not_yours "$prefix-bob-commit-refused" alice tls_as bob commit web bobs-copy
  tls_expect_not_yours "$prefix-bob-rm-refused" alice tls_as bob rm -f web
  E2E_TIMEOUT=30 tls_expect_not_yours "$prefix-bob-attach-refused" alice tls_as bob attach web
}

# The CLI inspects a container before exec, logs and attach, so the refusals above may come
# from that inspect; these raw calls go to the operations themselves. EXEC_ID is an exec
# session alice made on `web`.
tls_bob_api_is_refused() {
  local exec_id=$1 json=(-H 'Content-Type: application/json')
  tls_expect_not_yours ownership-tls-bob-api-exec-create-refused alice \
    tls_api bob POST /v1.41/containers/web/exec "${json[@]}" --data '{"Cmd":["true"]}'
  tls_expect_not_yours ownership-tls-bob-api-exec-start-refused alice \
    tls_api bob POST "/v1.41/exec/$exec_id/start" "${json[@]}" --data '{"Detach":true}'
  tls_expect_not_yours ownership-tls-bob-api-exec-inspect-refused alice \
    tls_api bob GET "/v1.41/exec/$exec_id/json"
  tls_expect_not_yours ownership-tls-bob-api-logs-refused alice \
    tls_api bob GET '/v1.41/containers/web/logs?stdout=1&stderr=1'
  tls_expect_not_yours ownership-tls-bob-api-attach-refused alice \
    tls_api bob POST '/v1.41/containers/web/attach?stream=1&stdout=1'
  tls_expect_not_yours ownership-tls-bob-api-archive-put-refused alice \
    tls_api bob PUT '/v1.41/containers/web/archive?path=/tmp' -H 'Content-Type: application/x-tar' \
    --data-binary @/dev/null
}

# tls_lacks 'LIST CMD' FORMAT NAME: the list (asked on the unix socket) works and has no NAME.
tls_lacks() {
  local listed
  # shellcheck disable=SC2086 # LIST CMD is words
  listed=$(tls_anonymous $1 --format "$2") || return 1
  printf '%s\n' "$listed"
  ! grep -qx -- "$3" <<<"$listed"
}

scenario_ownership_tls() {
  if ! command -v openssl >/dev/null; then
    if [ -n "${CI:-}" ]; then
      fail ownership-tls-setup "openssl is not installed (apt-get install openssl)"
    else
      log "SKIP ownership-tls: openssl is not installed (apt-get install openssl)"
    fi
    return 0
  fi
  # Our teardown runs on any exit, before the driver's own.
  local outer=""
  eval "set -- $(trap -p EXIT)"
  [ $# -ge 3 ] && outer=$3
  # shellcheck disable=SC2064 # the outer command is fixed now
  trap "tls_teardown; $outer" EXIT

  TLS_WORK="$E2E_WORK/tls"
  TLS_PLUGIN="authobot-tls-$$"
  mkdir -p "$TLS_WORK" "$E2E_WORK/log"
  export TLS_WORK TLS_PLUGIN
  local started=$SECONDS
  if ! tls_make_certs alice bob carol; then
    fail ownership-tls-setup "openssl could not make the certificates: $(tail -n 3 "$TLS_WORK/openssl.log")"
    tls_teardown
    return 0
  fi
  # The default policy, with carol in an admin group.
  cp "$E2E_POLICY_DEFAULT" "$TLS_WORK/policy.toml"
  printf '\n[groups.admins]\nmembers = ["carol"]\nadmin = true\n' >>"$TLS_WORK/policy.toml"
  if ! TLS_PORT=$(tls_free_port); then
    fail ownership-tls-setup "no free TCP port found on 127.0.0.1"
    tls_teardown
    return 0
  fi
  export TLS_PORT
  log "ownership-tls: dockerd --tlsverify on 127.0.0.1:$TLS_PORT behind plugin $TLS_PLUGIN"
  if ! tls_plugin_start "$TLS_WORK/policy.toml"; then
    fail ownership-tls-setup "the plugin did not answer on its socket"
    tls_teardown
    return 0
  fi
  if ! tls_daemon_start; then
    fail ownership-tls-setup "the TLS daemon did not start (log: ownership-tls-dockerd.log)"
    tls_teardown
    return 0
  fi
  # The image over the unix socket: anonymous callers are not ownership-checked.
  DOCKER_HOST="unix://$TLS_WORK/docker.sock" make_busybox_image

  expect_output ownership-tls-alice-runs-over-tls '^alice-ok$' \
    tls_as alice run --rm "$E2E_IMAGE" echo alice-ok
  expect_ok ownership-tls-alice-runs-web tls_as alice run -d --name web "$E2E_IMAGE" sleep 1000
  tls_bob_is_refused ownership-tls
  expect_output ownership-tls-alice-exec-allowed '^ok$' tls_as alice exec web echo ok
  expect_output ownership-tls-admin-carol-exec-allowed '^ok$' tls_as carol exec web echo ok
  local exec_id=""
  if run_capture ownership-tls-alice-api-exec-create tls_api alice POST /v1.41/containers/web/exec \
    -H 'Content-Type: application/json' --data '{"Cmd":["true"]}'; then
    exec_id=$(sed -n 's/.*"Id":"\([0-9a-f]\{64\}\)".*/\1/p' "$(out_file ownership-tls-alice-api-exec-create)")
  fi
  if [ -n "$exec_id" ]; then
    pass ownership-tls-alice-api-exec-create
    tls_bob_api_is_refused "$exec_id"
  else
    fail ownership-tls-alice-api-exec-create "$(last_lines ownership-tls-alice-api-exec-create)"
  fi
  expect_ok ownership-tls-bob-commit-made-no-image tls_lacks images '{{.Repository}}' bobs-copy

  # The plugin killed with no chance to flush, restarted on the same state directory.
  local pid_before=$TLS_PLUGIN_PID
  tls_plugin_kill
  if tls_plugin_start "$TLS_WORK/policy.toml" && [ "$TLS_PLUGIN_PID" != "$pid_before" ]; then
    pass ownership-tls-plugin-restarted-after-kill-9
  else
    fail ownership-tls-plugin-restarted-after-kill-9 "the plugin did not come back on its socket"
  fi
  tls_bob_is_refused ownership-tls-after-kill-9
  expect_output ownership-tls-after-kill-9-alice-exec-allowed '^ok$' tls_as alice exec web echo ok
  expect_ok ownership-tls-alice-rm-allowed tls_as alice rm -f web
  expect_ok ownership-tls-web-gone tls_lacks 'ps -a' '{{.Names}}' web

  tls_teardown
  trap -- "$outer" EXIT
  log "ownership-tls took $((SECONDS - started)) s"
}
