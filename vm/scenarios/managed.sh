# shellcheck shell=bash
#: The managed (v2) plugin: installed with docker plugin create/set/enable, the daemon started
#: with --authorization-plugin=authobot routes every call through it: the article's test, a
#: policy reload by SIGHUP to the plugin's process, and the main escapes are refused.

scenario_managed() {
  expect_output managed-daemon-lists-plugin 'authobot' dk info --format '{{json .Plugins.Authorization}}'
  expect_output managed-plugin-enabled '^true$' dk plugin inspect -f '{{.Enabled}}' authobot
  expect_output managed-run-echo '^hello$' dk run --rm "$E2E_IMAGE" echo hello
  expect_denied managed-escape-bind-root dk run --rm -v /:/host "$E2E_IMAGE" true
  expect_denied managed-escape-privileged dk run --rm --privileged "$E2E_IMAGE" true
  expect_denied managed-escape-cap-add dk run --rm --cap-add SYS_ADMIN "$E2E_IMAGE" true
  article_checks managed-article
}
