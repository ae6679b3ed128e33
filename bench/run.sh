#!/usr/bin/env bash
# `make bench`: authobot against the do-nothing reference plugin (protocol's allow_all
# example, same server stack), every mix measured in one run each. Starts fresh plugins per
# mix (so peak memory is that mix's own) and stops them by PID on exit. `make bench` then runs
# the in-process benchmarks (`make bench-decide`).
#
# Knobs (environment): BENCH_MIXES ("workflow create ownership"), BENCH_DURATION (10 s),
# BENCH_WARMUP (2 s), BENCH_CONNECTIONS (8), BENCH_OWNED (100000), BENCH_SETUP_LIMIT (900 s,
# the longest teaching the owned containers may take), BENCH_FORMAT (text|json).
set -euo pipefail
cd "$(dirname "$0")/.."

mixes=${BENCH_MIXES:-workflow create ownership}
duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-2}
connections=${BENCH_CONNECTIONS:-8}
owned=${BENCH_OWNED:-100000}
setup_limit=${BENCH_SETUP_LIMIT:-900}
format=${BENCH_FORMAT:-text}
target_dir=${CARGO_TARGET_DIR:-target}

# One invocation, so cargo unifies features once and does not rebuild the shared
# dependencies for each package set.
cargo build --release -p authz-protocol -p authobot -p conformance --bins --examples
release="$target_dir/release"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/authobot-bench.XXXXXX")
pids=()
stop_plugins() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}
cleanup() {
    stop_plugins
    rm -rf "$tmp"
}
trap cleanup EXIT

wait_for_socket() {
    local socket=$1 pid=$2 tries=0
    until [ -S "$socket" ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "bench: the plugin for $socket exited early" >&2
            return 1
        fi
        tries=$((tries + 1))
        if [ "$tries" -gt 200 ]; then
            echo "bench: $socket did not appear within 20 s" >&2
            return 1
        fi
        sleep 0.1
    done
}

start_plugins() {
    local run=$1
    mkdir -p "$run/state"
    "$release/examples/allow_all" --socket "$run/reference.sock" 2>"$run/reference.log" &
    pids+=($!)
    wait_for_socket "$run/reference.sock" $!
    "$release/authobot" serve --socket "$run/authobot.sock" --state-dir "$run/state" \
        --audit-log "$run/audit.jsonl" 2>"$run/authobot.log" &
    pids+=($!)
    wait_for_socket "$run/authobot.sock" $!
}

echo "load before the run: $(uptime)"
status=0
for mix in $mixes; do
    run="$tmp/$mix"
    mkdir -p "$run"
    start_plugins "$run"
    echo
    echo "== $mix: authobot vs allow_all"
    "$release/conformance" bench --mix "$mix" \
        --plugin-socket "$run/authobot.sock" --reference-socket "$run/reference.sock" \
        --connections "$connections" --duration "$duration" --warmup "$warmup" \
        --owned "$owned" --setup-limit "$setup_limit" --format "$format" || status=$?
    stop_plugins
done
echo "load after the run: $(uptime)"

exit "$status"
