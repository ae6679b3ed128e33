# shellcheck shell=bash
#: Hook for the fake-dockerd fidelity check (issue 4): the same crafted requests through this
#: real dockerd and through `fake-dockerd serve --profile moby-20.10` must give identical plugin
#: messages. Runs when fake-dockerd provides the `fidelity` subcommand; says so when it does not.

scenario_fidelity() {
  local name=fidelity-real-dockerd-vs-fake-dockerd
  local bin=${E2E_FAKE_DOCKERD:-$E2E_ROOT/target/debug/fake-dockerd}
  if [ ! -x "$bin" ] && [ -f "$E2E_ROOT/fake-dockerd/Cargo.toml" ]; then
    (cd "$E2E_ROOT" && cargo build --locked -q -p fake-dockerd) >&2 2>&1 || true
  fi
  if [ ! -x "$bin" ] || ! "$bin" fidelity --help >/dev/null 2>&1; then
    log "SKIP $name: fake-dockerd has no \`fidelity\` subcommand yet"
    return 0
  fi
  expect_ok "$name" "$bin" fidelity --real-docker-host "$DOCKER_HOST" \
    --plugin-socket "$LOCAL_PLUGIN_SOCK" --profile moby-20.10 --work-dir "$E2E_WORK/fidelity"
}
