# shellcheck shell=bash
#: The plugin killed mid-run: the daemon refuses requests while it is down (fail closed) and
#: serves them again once it is back, without a daemon restart.

# POST /containers/create straight to the daemon, with a harmless body.
create_while_down() {
  printf '{"Image":"%s","Cmd":["true"]}' "$E2E_IMAGE" |
    api POST "/v1.41/containers/create?name=$1" -H 'Content-Type: application/json' --data-binary @-
}

scenario_resilience() {
  local daemon_before name status
  daemon_before=$(daemon_id)
  expect_ok resilience-ps-before-kill dk ps
  plugin_kill

  # dockerd retries an unreachable plugin for about 15 s (backoff 1+2+4+8 s), then answers
  # 500 naming it. The CLI (which only says its /_ping got a 500) and a raw create both run
  # in that window, side by side.
  name=resilience-plugin-down-cli-refused
  run_capture "$name" dk run --name while-down-cli "$E2E_IMAGE" true &
  local cli=$!
  name=resilience-plugin-down-api-refused-naming-plugin
  run_capture "$name" create_while_down while-down-api
  status=$(head -n 1 "$(out_file "$name")")
  if [ "$status" = 500 ] && grep -Eq "plugin $E2E_PLUGIN_RE" "$(out_file "$name")"; then
    pass "$name"
  else
    fail "$name" "HTTP ${status:-none}: $(tail -n +2 "$(out_file "$name")" | head -c 300)"
  fi
  if wait "$cli"; then
    fail resilience-plugin-down-cli-refused "docker run succeeded while the plugin was down"
  else
    pass resilience-plugin-down-cli-refused
  fi

  plugin_restart
  expect_ok resilience-plugin-back-serves retry_until 30 ps_is_allowed
  expect_output resilience-plugin-back-runs-containers '^back' dk run --rm "$E2E_IMAGE" echo back
  name=resilience-nothing-created-while-down
  if run_capture "$name" dk ps -a --format '{{.Names}}' && ! grep -q while-down "$(out_file "$name")"; then
    pass "$name"
  else
    fail "$name" "$(last_lines "$name")"
  fi
  expect_same_daemon resilience-daemon-not-restarted "$daemon_before"
}
