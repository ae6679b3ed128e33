# shellcheck shell=bash
#: A policy change applied with SIGHUP takes effect without restarting the daemon, and a
#: broken policy file is refused while the policy in force stays.

scenario_reload() {
  local daemon_before
  daemon_before=$(daemon_id)
  expect_ok reload-default-allows-ps ps_is_allowed
  plugin_use_policy "$E2E_POLICY_STRICT"
  expect_ok reload-sighup-strict-denies-ps retry_until 10 ps_is_denied

  printf 'this is [not a policy\n' >"$E2E_WORK/broken-policy.toml"
  plugin_use_policy "$E2E_WORK/broken-policy.toml"
  sleep 1
  expect_ok reload-broken-policy-keeps-the-strict-one ps_is_denied

  plugin_use_policy "$E2E_POLICY_DEFAULT"
  expect_ok reload-sighup-default-allows-ps-again retry_until 10 ps_is_allowed
  expect_same_daemon reload-daemon-not-restarted "$daemon_before"
}
