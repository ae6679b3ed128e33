# shellcheck shell=bash
#: fake-dockerd's fidelity check (issue 4 item 7): the crafted requests of
#: captures/make-captures.sh recorded fresh through a real, throwaway dockerd 20.10 (its own,
#: with fake-dockerd's recording plugin), then sent again through `fake-dockerd serve --profile
#: moby-20.10` by `fake-dockerd fidelity`: identical plugin messages (ids and times aside) and
#: client results, one check per crafted request (`fidelity-<request>`).

scenario_fidelity() {
  local name=fidelity tool
  # What make-captures.sh needs beyond the local driver's tools, checked before any build.
  for tool in busybox base64 od; do
    if ! command -v "$tool" >/dev/null; then
      if [ -n "${CI:-}" ]; then
        fail "$name" "$tool not found (apt-get install busybox-static coreutils)"
      else
        log "SKIP $name: $tool not found (apt-get install busybox-static coreutils)"
      fi
      return 0
    fi
  done
  local bin=${E2E_FAKE_DOCKERD:-$E2E_ROOT/target/debug/fake-dockerd}
  if [ -z "${E2E_FAKE_DOCKERD:-}" ]; then
    log "building fake-dockerd"
    if ! (cd "$E2E_ROOT" && cargo build --locked -q -p fake-dockerd) >&2; then
      fail "$name" "building fake-dockerd failed"
      return 0
    fi
  fi
  local real=$E2E_WORK/captures
  rm -rf "$real"
  log "recording the crafted requests through a throwaway dockerd (captures/make-captures.sh)"
  if ! CAPTURE_ONLY=fidelity E2E_TIMEOUT=600 FAKE_DOCKERD=$bin DOCKER=$E2E_DOCKER_CLI \
    run_capture "$name-recording" "$E2E_ROOT/captures/make-captures.sh" "$real"; then
    fail "$name-recording" "recording from the real dockerd failed: $(last_lines "$name-recording")"
    return 0
  fi
  run_capture "$name" "$bin" fidelity --profile moby-20.10 "$real/fidelity"
  local rc=$? out word request found=0
  out=$(out_file "$name")
  # fake-dockerd prints `PASS request (...)` or `FAIL request (...)`, differences indented.
  while read -r word request; do
    found=1
    if [ "$word" = PASS ]; then
      pass "$name-$request"
    else
      fail "$name-$request" "$(sed -n "/^FAIL $request /,/^[A-Z]/p" "$out" | sed -n 's/^    //p' | tr '\n' ';' | head -c 600)"
    fi
  done < <(sed -n 's/^\(PASS\|FAIL\) \([A-Za-z0-9._-]*\) (.*$/\1 \2/p' "$out")
  if [ "$found" = 0 ] || { [ "$rc" != 0 ] && [ "$rc" != 1 ]; }; then
    fail "$name" "fake-dockerd fidelity exited $rc: $(last_lines "$name")"
  fi
}
