# shellcheck shell=bash
#: The article's own test: under the strict whitelist `docker run -it ... echo` works and
#: `docker ps` is refused by the plugin.

# `-it` needs a terminal: script(1) gives the CLI a pty even when e2e runs without one.
run_it_echo() {
  script -qec "$E2E_DOCKER_CLI run -it --rm $E2E_IMAGE echo 'hello world!'" /dev/null
}

# article_checks PREFIX: the strict policy put in force by SIGHUP, the article's two checks,
# then the default policy back. Shared by the legacy and the managed install.
article_checks() {
  local prefix=$1
  plugin_use_policy "$E2E_POLICY_STRICT"
  expect_ok "$prefix-strict-policy-in-force" retry_until 10 ps_is_denied
  expect_output "$prefix-run-it-echo-hello-world" 'hello world!' run_it_echo
  expect_denied "$prefix-docker-ps-denied" dk ps
  plugin_use_policy "$E2E_POLICY_DEFAULT"
  expect_ok "$prefix-default-policy-back" retry_until 10 ps_is_allowed
}

scenario_article() { article_checks article; }

# expect_same_daemon NAME ID: passes when the daemon is still the process it was at ID.
expect_same_daemon() {
  if [ "$(daemon_id)" = "$2" ]; then
    pass "$1"
  else
    fail "$1" "the daemon changed from $2 to $(daemon_id): it was restarted"
  fi
}
