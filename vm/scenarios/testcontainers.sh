# shellcheck shell=bash
#: The allow and deny scenarios through a second real client: the testcontainers-rs test in
#: vm/bollard-e2e, with DOCKER_HOST at the throwaway daemon. Each Rust test is one check.

scenario_testcontainers() {
  local name=testcontainers out
  out=$(out_file "$name")
  mkdir -p "$E2E_WORK/out"
  if ! command -v cargo >/dev/null; then
    fail "$name" "cargo is not installed"
    return
  fi
  (cd "$E2E_ROOT" && AUTHOBOT_E2E_DOCKER_HOST="$DOCKER_HOST" AUTHOBOT_E2E_IMAGE="$E2E_IMAGE" \
    timeout 600 cargo test --locked -p authobot-bollard-e2e --test it -- --test-threads 2) \
    >"$out" 2>&1
  local rc=$? test_name result found=0 failed_before=$E2E_FAILED
  # libtest prints `test NAME ... ok|FAILED`; turn each into a check line.
  while read -r test_name result; do
    found=1
    if [ "$result" = ok ]; then pass "testcontainers-$test_name"; else fail "testcontainers-$test_name" "see $out"; fi
  done < <(sed -n 's/^test \([a-z0-9_]*\) \.\.\. \([A-Za-z]*\)$/\1 \2/p' "$out")
  # A build error or a crash names no test: that is a failure of its own.
  if [ "$found" = 0 ] || { [ "$rc" != 0 ] && [ "$E2E_FAILED" = "$failed_before" ]; }; then
    fail "$name" "cargo test exited $rc: $(tail -n 5 "$out" | tr '\n' ' ')"
  fi
}
