# shellcheck shell=bash
#: A policy change applied with SIGHUP takes effect without restarting the daemon, and a
#: broken policy file is refused while the old policy keeps working.

scenario_reload() {
  local daemon_before
  daemon_before=$(daemon_id)
  plugin_use_policy "$E2E_POLICY_DEFAULT"
  expect_ok reload-default-allows-ps retry_until 10 ps_is_allowed
  plugin_use_policy "$E2E_POLICY_STRICT"
  expect_ok reload-sighup-strict-denies-ps retry_until 10 ps_is_denied
  plugin_use_policy "$E2E_POLICY_DEFAULT"
  expect_ok reload-sighup-default-allows-ps-again retry_until 10 ps_is_allowed

  printf 'this is [not a policy\n' >"$E2E_WORK/broken-policy.toml"
  plugin_use_policy "$E2E_WORK/broken-policy.toml"
  sleep 1
  expect_ok reload-broken-policy-keeps-the-old-one ps_is_allowed
  plugin_use_policy "$E2E_POLICY_DEFAULT"

  if [ "$(daemon_id)" = "$daemon_before" ]; then
    pass reload-daemon-not-restarted
  else
    fail reload-daemon-not-restarted "daemon id changed from $daemon_before to $(daemon_id)"
  fi
}
