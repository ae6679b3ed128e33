# shellcheck shell=bash
#: Pass/fail bookkeeping and the check helpers every scenario uses, whatever the driver.
#
# A check runs one command, keeps its output under $E2E_WORK/out/<name>.out for the post-mortem
# and prints exactly one line: `PASS <name>` or `FAIL <name>` (the reason goes to stderr).

E2E_PASSED=0
E2E_FAILED=0
E2E_FAILED_NAMES=()

log() { printf '%s e2e: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
  log "error: $*"
  exit 2
}

pass() {
  printf 'PASS %s\n' "$1"
  E2E_PASSED=$((E2E_PASSED + 1))
}

fail() {
  printf 'FAIL %s\n' "$1"
  [ -n "${2:-}" ] && printf '    why: %s\n' "$2" >&2
  E2E_FAILED=$((E2E_FAILED + 1))
  E2E_FAILED_NAMES+=("$1")
}

# Prints the closing line and returns non-zero when anything failed.
summary() {
  printf 'e2e: %d passed, %d failed\n' "$E2E_PASSED" "$E2E_FAILED"
  [ "$E2E_FAILED" -eq 0 ]
}

# The docker CLI under test, pointed at the daemon under test through DOCKER_HOST.
dk() { "$E2E_DOCKER_CLI" "$@"; }

out_file() { printf '%s/out/%s.out' "$E2E_WORK" "$1"; }

# run_capture NAME CMD...: runs CMD under a guard of E2E_TIMEOUT (120) seconds (a hung plugin
# hangs the CLI), output to the check's file; returns rc. CMD may be one of our functions
# (e2e.sh exports them).
run_capture() {
  local name=$1
  shift
  mkdir -p "$E2E_WORK/out"
  if declare -F "$1" >/dev/null; then
    timeout "${E2E_TIMEOUT:-120}" bash -c '"$@"' bash "$@" >"$(out_file "$name")" 2>&1 </dev/null
  else
    timeout "${E2E_TIMEOUT:-120}" "$@" >"$(out_file "$name")" 2>&1 </dev/null
  fi
}

last_lines() { tail -n 3 "$(out_file "$1")" | tr '\n' ' '; }

# expect_ok NAME CMD...: passes when CMD exits 0.
expect_ok() {
  local name=$1
  shift
  if run_capture "$name" "$@"; then pass "$name"; else fail "$name" "exit $?: $(last_lines "$name")"; fi
}

# expect_output NAME REGEX CMD...: passes when CMD exits 0 and its output matches REGEX.
expect_output() {
  local name=$1 re=$2
  shift 2
  if ! run_capture "$name" "$@"; then
    fail "$name" "exit $?: $(last_lines "$name")"
  elif grep -Eq -- "$re" "$(out_file "$name")"; then
    pass "$name"
  else
    fail "$name" "output does not match /$re/: $(last_lines "$name")"
  fi
}

# The text dockerd puts in front of a plugin's deny message.
denied_re() { printf 'authorization denied by plugin %s: ' "$E2E_PLUGIN_RE"; }

# expect_denied NAME CMD...: passes when CMD fails with the daemon's authorization-denied text
# naming our plugin. Any other failure (a typo, a missing image) is a FAIL, not a refusal.
expect_denied() {
  local name=$1
  shift
  if run_capture "$name" "$@"; then
    fail "$name" "the command succeeded: $(last_lines "$name")"
  elif grep -Eq -- "$(denied_re)" "$(out_file "$name")"; then
    pass "$name"
  else
    fail "$name" "failed, but not with an authorization denial: $(last_lines "$name")"
  fi
}

# api METHOD TARGET [CURL_ARGS...]: one raw API call over the daemon's unix socket; prints the
# HTTP status on the first line, then the response body. The target is sent byte for byte
# (--path-as-is), so encoded and unclean paths reach the daemon as written.
api() {
  local method=$1 target=$2
  shift 2
  curl --silent --show-error --path-as-is --max-time 60 --unix-socket "$E2E_DOCKER_SOCK" \
    -X "$method" -o "$E2E_WORK/api.body" -w '%{http_code}\n' "$@" "http://docker$target" &&
    cat "$E2E_WORK/api.body" && echo
}

# expect_api_denied NAME METHOD TARGET [CURL_ARGS...]: passes on HTTP 403 with the plugin's
# denial text.
expect_api_denied() {
  local name=$1
  shift
  run_capture "$name" api "$@"
  local file status
  file=$(out_file "$name")
  status=$(head -n 1 "$file")
  if [ "$status" = 403 ] && grep -Eq -- "$(denied_re)" "$file"; then
    pass "$name"
  else
    fail "$name" "HTTP ${status:-none}, expected 403 from the plugin: $(tail -n +2 "$file" | head -c 300)"
  fi
}

# retry_until SECONDS CMD...: reruns CMD every half second until it succeeds or time runs out.
retry_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.5
  done
}

# The denial probe used to watch a policy change land: succeeds once `docker ps` is refused.
ps_is_denied() { ! dk ps >"$E2E_WORK/ps.out" 2>&1 && grep -Eq -- "$(denied_re)" "$E2E_WORK/ps.out"; }
ps_is_allowed() { dk ps >/dev/null 2>&1; }

# make_busybox_image: imports $E2E_IMAGE, a rootfs of busybox-static with every applet linked:
# no registry needed. Runs before the plugin is in front of the daemon.
make_busybox_image() {
  local root="$E2E_WORK/image-rootfs" applet
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/data"
  cp "$E2E_BUSYBOX" "$root/bin/busybox"
  for applet in $("$E2E_BUSYBOX" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  tar -C "$root" -c . | dk import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' - "$E2E_IMAGE" >/dev/null ||
    die "docker import of the busybox image failed"
  rm -rf "$root"
}
