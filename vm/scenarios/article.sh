# shellcheck shell=bash
#: The article's own test: under the strict whitelist `docker run -it ... echo` works and
#: `docker ps` is refused by the plugin.

# `-it` needs a terminal: script(1) gives the CLI a pty even when e2e runs without one.
run_it_echo() {
  script -qec "$E2E_DOCKER_CLI run -it --rm $E2E_IMAGE echo 'hello world!'" /dev/null
}

scenario_article() {
  plugin_use_policy "$E2E_POLICY_STRICT"
  retry_until 10 ps_is_denied || log "the strict policy did not take effect within 10 s"
  expect_output article-run-it-echo-hello-world 'hello world!' run_it_echo
  expect_denied article-docker-ps-denied dk ps
  plugin_use_policy "$E2E_POLICY_DEFAULT"
  retry_until 10 ps_is_allowed || log "the default policy did not come back within 10 s"
}
