# shellcheck shell=bash
#: Hook for fake-dockerd's fidelity check (issue 4): fresh recordings of the crafted requests
#: from a real dockerd (captures/make-captures.sh, which runs its own throwaway daemon with
#: fake-dockerd's recording plugin) compared with what `fake-dockerd` makes of the same
#: exchanges under the moby-20.10 profile. Runs once fake-dockerd has a `fidelity` subcommand
#: (`fake-dockerd fidelity --profile moby-20.10 DIR`); until then it logs a SKIP line.

scenario_fidelity() {
  local name=fidelity-real-dockerd-vs-fake-dockerd
  local bin=${E2E_FAKE_DOCKERD:-$E2E_ROOT/target/debug/fake-dockerd}
  if [ -z "${E2E_FAKE_DOCKERD:-}" ]; then
    (cd "$E2E_ROOT" && cargo build --locked -q -p fake-dockerd) >&2 || {
      fail "$name" "building fake-dockerd failed"
      return
    }
  fi
  if ! "$bin" fidelity --help >/dev/null 2>&1; then
    log "SKIP $name: fake-dockerd has no \`fidelity\` subcommand yet"
    return 0
  fi
  if ! E2E_TIMEOUT=900 FAKE_DOCKERD=$bin DOCKER=$E2E_DOCKER_CLI run_capture "$name-recording" \
    "$E2E_ROOT/captures/make-captures.sh" "$E2E_WORK/captures"; then
    fail "$name" "recording from the real dockerd failed: $(last_lines "$name-recording")"
    return
  fi
  expect_ok "$name" "$bin" fidelity --profile moby-20.10 "$E2E_WORK/captures/fidelity"
}
