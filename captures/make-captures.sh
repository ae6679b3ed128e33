#!/usr/bin/env bash
# Records what a real dockerd sends its authz plugin during the ordinary docker CLI workflow
# and during host-escape attempts: one JSON Lines file per CLI command, written by
# `fake-dockerd record-plugin` (an allow-all plugin). Re-runnable; needs root, dockerd,
# the docker CLI and busybox-static. Everything it starts is stopped and removed on exit.
#
# Usage: captures/make-captures.sh [OUT_DIR]     (default: the directory of this script)
# Env:   FAKE_DOCKERD  path to a built fake-dockerd (default: cargo build -p fake-dockerd)
#        DOCKER        docker CLI (default: docker on PATH)
#        RECORD_EXCHANGES=1  run every CLI command through `fake-dockerd record` instead and
#                      write both sides, NAME.jsonl (plugin) and NAME.exchange.jsonl (client,
#                      capture format v1), under OUT_DIR/client/{workflow,escapes}/
#        CAPTURE_ONLY="fidelity"  record only these sets (workflow, escapes, fidelity; default all)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out_dir=${1:-$here}
docker_cli=${DOCKER:-docker}

if [[ $(id -u) -ne 0 ]]; then echo "make-captures: needs root (runs a throwaway dockerd)" >&2; exit 2; fi
for tool in dockerd "$docker_cli" busybox script curl base64; do
    command -v "$tool" >/dev/null || { echo "make-captures: $tool not found" >&2; exit 2; }
done

if [[ -z ${FAKE_DOCKERD:-} ]]; then
    (cd "$here/.." && cargo build -q -p fake-dockerd)
    FAKE_DOCKERD=$(cd "$here/.." && cargo metadata --format-version 1 --no-deps \
        | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/debug/fake-dockerd
fi

tmp=$(mktemp -d /tmp/fakedockerd-captures.XXXXXX)
plugin=fdrec$$
plugin_sock=/run/docker/plugins/$plugin.sock
recording=$tmp/recording.jsonl
pids=()

cleanup() {
    set +e
    if [[ -S $tmp/docker.sock ]]; then
        ids=$(dk ps -aq 2>/dev/null)
        [[ -n $ids ]] && dk rm -f $ids >/dev/null 2>&1
    fi
    if [[ -f $tmp/docker.pid ]]; then
        local dpid
        dpid=$(cat "$tmp/docker.pid")
        kill "$dpid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.2; done
    fi
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    # containerd-shim and container mounts live under the exec root and data root.
    grep -o " $tmp/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
    rm -f "$plugin_sock"
    rmdir --ignore-fail-on-non-empty /run/docker/plugins 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# The socket the CLI talks to: the daemon, or a `fake-dockerd record` proxy in front of it.
api_sock=$tmp/docker.sock
dk() { DOCKER_CONFIG=$tmp/cli "$docker_cli" -H "unix://$api_sock" "$@"; }
dk_build() { DOCKER_BUILDKIT=0 DOCKER_CONFIG=$tmp/cli "$docker_cli" -H "unix://$api_sock" build "$@"; }
with_tty() { script -qec "DOCKER_CONFIG=$tmp/cli $docker_cli -H unix://$api_sock $1" /dev/null </dev/null; }

# The recorder, where dockerd discovers plugins by name.
mkdir -p /run/docker/plugins "$tmp/cli"
"$FAKE_DOCKERD" record-plugin --socket "$plugin_sock" --out "$recording" 2>"$tmp/recorder.log" &
pids+=($!)
for _ in $(seq 50); do [[ -S $plugin_sock ]] && break; sleep 0.1; done

echo '{}' >"$tmp/daemon.json"
dockerd -H "unix://$tmp/docker.sock" --config-file "$tmp/daemon.json" \
    --data-root "$tmp/data" --exec-root "$tmp/exec" --pidfile "$tmp/docker.pid" \
    --iptables=false --ip-masq=false --ip-forward=false --bridge=none \
    --storage-driver=vfs --authorization-plugin="$plugin" >"$tmp/dockerd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do dk version >/dev/null 2>&1 && break; sleep 0.2; done
dk version >/dev/null || { cat "$tmp/dockerd.log" >&2; exit 1; }

# A fake registry for `docker login`: /v2/ answers 200 with no auth challenge.
mkdir -p "$tmp/registry/v2"
echo '{}' >"$tmp/registry/v2/index.html"
registry_port=$((20000 + $$ % 20000))
busybox httpd -f -p "127.0.0.1:$registry_port" -h "$tmp/registry" &
pids+=($!)

# A busybox image, made locally (no registry is reachable).
mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/tmp" "$tmp/rootfs/etc"
cp /bin/busybox "$tmp/rootfs/bin/busybox"
for applet in sh ls cat echo sleep top true id ps; do ln -s busybox "$tmp/rootfs/bin/$applet"; done
tar -C "$tmp/rootfs" -c . | dk import -c 'CMD ["sh"]' - fdbox:latest >/dev/null

mkdir -p "$tmp/build"
printf 'FROM fdbox:latest\nRUN echo built >/built\n' >"$tmp/build/Dockerfile"
echo "from the host" >"$tmp/host-file.txt"

# wanted_set SET: true unless CAPTURE_ONLY names other sets.
wanted_set() { [[ -z ${CAPTURE_ONLY:-} || " $CAPTURE_ONLY " == *" $1 "* ]]; }

# capture DIR NAME CMD...: runs one CLI command and keeps what the plugin saw during it.
capture() {
    local dir=$1 name=$2
    shift 2
    wanted_set "$dir" || return 0
    local target=$out_dir/$dir proxy=""
    [[ ${RECORD_EXCHANGES:-} == 1 ]] && target=$out_dir/client/$dir
    mkdir -p "$target"
    if [[ ${RECORD_EXCHANGES:-} == 1 ]]; then
        "$FAKE_DOCKERD" record --upstream "unix://$tmp/docker.sock" --listen "$tmp/proxy.sock" \
            --out "$target/$name.exchange.jsonl" 2>>"$tmp/record.log" &
        proxy=$!
        for _ in $(seq 50); do [[ -S $tmp/proxy.sock ]] && break; sleep 0.1; done
        api_sock=$tmp/proxy.sock
    fi
    : >"$recording"
    if "$@" >"$tmp/cmd.out" 2>&1; then status=ok; else status="exit $?"; fi
    # AuthZRes of hijacked and streamed calls can land just after the CLI returns.
    sleep 0.5
    if [[ -n $proxy ]]; then
        kill -TERM "$proxy"
        wait "$proxy" || true
        rm -f "$tmp/proxy.sock"
        api_sock=$tmp/docker.sock
    fi
    cp "$recording" "$target/$name.jsonl"
    printf '%-10s %-28s %3d calls  (%s)\n' "$dir" "$name" "$(wc -l <"$recording")" "$status"
}

w=workflow
capture $w version dk version
capture $w run dk run --name fd-run fdbox:latest echo hello
capture $w run-it with_tty "run -it --rm fdbox:latest sh -c 'echo hi'"
capture $w run-d dk run -d --name fd-web fdbox:latest sleep 300
capture $w exec dk exec fd-web echo from-exec
capture $w exec-it with_tty "exec -it fd-web sh -c 'echo hi'"
capture $w logs dk logs fd-run
capture $w ps dk ps -a
capture $w inspect dk inspect fd-web
capture $w top dk top fd-web
capture $w stats dk stats --no-stream fd-web
capture $w cp-to-container dk cp "$tmp/host-file.txt" fd-web:/tmp/host-file.txt
capture $w cp-from-container dk cp fd-web:/tmp/host-file.txt "$tmp/back.txt"
capture $w commit dk commit fd-web fdbox:committed
capture $w build dk_build --network none -t fdbox:built "$tmp/build"
capture $w volume-create dk volume create fd-vol
capture $w volume-ls dk volume ls
capture $w volume-inspect dk volume inspect fd-vol
capture $w run-with-volume dk run --rm -v fd-vol:/data fdbox:latest ls /data
capture $w volume-rm dk volume rm fd-vol
capture $w network-create dk network create fd-net
capture $w network-ls dk network ls
capture $w network-inspect dk network inspect fd-net
capture $w network-connect dk network connect fd-net fd-web
capture $w network-disconnect dk network disconnect fd-net fd-web
capture $w network-rm dk network rm fd-net
capture $w stop dk stop -t 1 fd-web
capture $w start dk start fd-web
capture $w kill dk kill fd-web
capture $w rm dk rm fd-web fd-run
capture $w save dk save -o "$tmp/fdbox.tar" fdbox:latest
capture $w rmi dk rmi fdbox:committed fdbox:built
capture $w load dk load -i "$tmp/fdbox.tar"
capture $w login dk login -u fd-user --password-stdin "127.0.0.1:$registry_port" <<<"fd-secret-password"

e=escapes
dk run -d --name fd-target fdbox:latest sleep 300 >/dev/null
capture $e bind-host-root dk create -v /:/host fdbox:latest
capture $e bind-docker-socket dk create -v /var/run/docker.sock:/var/run/docker.sock fdbox:latest
capture $e mount-type-bind dk create --mount type=bind,source=/etc,target=/host-etc fdbox:latest
capture $e volume-local-bind dk volume create -d local -o type=none -o o=bind -o device=/etc fd-etc
capture $e mount-volume-local-bind dk create --mount 'type=volume,target=/x,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/etc' fdbox:latest
capture $e privileged dk create --privileged fdbox:latest
capture $e cap-add-sys-admin dk create --cap-add SYS_ADMIN fdbox:latest
capture $e cap-add-all dk create --cap-add ALL fdbox:latest
capture $e pid-host dk create --pid host fdbox:latest
capture $e ipc-host dk create --ipc host fdbox:latest
capture $e network-host dk create --network host fdbox:latest
capture $e uts-host dk create --uts host fdbox:latest
capture $e userns-host dk create --userns host fdbox:latest
capture $e seccomp-unconfined dk create --security-opt seccomp=unconfined fdbox:latest
capture $e apparmor-unconfined dk create --security-opt apparmor=unconfined fdbox:latest
capture $e device dk create --device /dev/null:/dev/host-null fdbox:latest
capture $e device-cgroup-rule dk create --device-cgroup-rule 'b 8:* rmw' fdbox:latest
capture $e sysctl dk create --sysctl kernel.shm_rmid_forced=1 fdbox:latest
capture $e cgroup-parent dk create --cgroup-parent /host.slice fdbox:latest
capture $e volumes-from dk create --volumes-from fd-target fdbox:latest
capture $e exec-privileged dk exec --privileged fd-target true
capture $e build-network-host dk_build --network host -t fdbox:hostnet "$tmp/build"

# Crafted requests for the fidelity comparison (fake-dockerd serve --profile moby-20.10 must
# give the same plugin messages and client results): the plugin-side recording in NAME.jsonl,
# the exchange as the client saw it in NAME.exchange.jsonl (capture format v1, see README).
json_string() { # a JSON string literal for arbitrary text (escapes \ " and control chars)
    printf '%s' "$1" | od -An -v -tx1 | tr -s ' \n' '  ' | {
        IFS=' ' read -ra bytes
        out='"'
        for b in "${bytes[@]}"; do
            case $b in
                22) out+='\"' ;; 5c) out+='\\' ;;
                [01]?|7f) out+=$(printf '\\u00%s' "$b") ;;
                *) out+=$(printf "\\x$b") ;;
            esac
        done
        printf '%s"' "$out"
    }
}
# crafted NAME METHOD TARGET BODY_FILE|- [curl args...]
crafted() {
    local name=$1 method=$2 target=$3 body=$4
    shift 4
    wanted_set fidelity || return 0
    local args=(-s -v -X "$method" --path-as-is -D "$tmp/resp.headers" -o "$tmp/resp.body"
        --unix-socket "$tmp/docker.sock" -H 'User-Agent: fake-dockerd-fidelity' -H 'Expect:')
    [[ $body != - ]] && args+=(--data-binary "@$body")
    : >"$recording"
    curl "${args[@]}" "$@" "http://localhost$target" 2>"$tmp/curl.trace" || true
    sleep 0.3
    mkdir -p "$out_dir/fidelity"
    cp "$recording" "$out_dir/fidelity/$name.jsonl"
    local chunked=false headers=() line status
    while IFS= read -r line; do
        line=${line%$'\r'}
        [[ $line == '> '*': '* ]] || continue
        line=${line#> }
        headers+=("[$(json_string "${line%%: *}"),$(json_string "${line#*: }")]")
        [[ ${line,,} == 'transfer-encoding: chunked' ]] && chunked=true
    done <"$tmp/curl.trace"
    local resp_headers=()
    status=$(head -n1 "$tmp/resp.headers" | cut -d' ' -f2)
    while IFS= read -r line; do
        line=${line%$'\r'}
        [[ $line == *': '* ]] || continue
        resp_headers+=("[$(json_string "${line%%: *}"),$(json_string "${line#*: }")]")
    done < <(tail -n +2 "$tmp/resp.headers")
    local req_body=""
    [[ $body != - ]] && req_body=$(base64 -w0 <"$body")
    # dockerd's handlers return errors rather than write them: 4xx/5xx is a handler error.
    local kind=buffered
    [[ ${status:-0} -ge 400 ]] && kind=handler_error
    local IFS=,
    printf '{"version":1,"request":{"method":%s,"target":%s,"headers":[%s],"body":"%s","chunked":%s},"response":{"status":%s,"headers":[%s],"body":"%s","kind":"%s"}}\n' \
        "$(json_string "$method")" "$(json_string "$target")" "${headers[*]}" "$req_body" "$chunked" \
        "${status:-0}" "${resp_headers[*]}" "$(base64 -w0 <"$tmp/resp.body")" "$kind" \
        >"$out_dir/fidelity/$name.exchange.jsonl"
    printf '%-10s %-28s %3d calls  (HTTP %s)\n' fidelity "$name" "$(wc -l <"$recording")" "$status"
}
b=$tmp/bodies
mkdir -p "$b"
printf '{"Image":"fdbox:latest","Cmd":["true"]}' >"$b/create.json"
printf '{"image":"fdbox:latest","hostconfig":{"privileged":true}}' >"$b/lower.json"
printf '{"username":"fd-user","password":"fd-secret-password","serveraddress":"127.0.0.1:%s"}' "$registry_port" >"$b/auth.json"
{ printf '{"Image":"fdbox:latest","Labels":{"pad":"'; head -c 1100000 /dev/zero | tr '\0' a; printf '"}}'; } >"$b/big.json"
json=(-H 'Content-Type: application/json')
crafted ping GET /_ping -
crafted ping-head HEAD /_ping -
crafted unknown-route GET /v1.41/no/such/route -
crafted unclean-double-slash GET /v1.41//containers/json -
crafted unclean-dot-dot GET /v1.41/containers/../info -
crafted options OPTIONS /v1.41/containers/json -
crafted unsupported-version GET /v1.99/version -
crafted create-plain POST /v1.41/containers/create "$b/create.json" "${json[@]}"
crafted create-encoded-slash POST /v1.41/containers%2Fcreate "$b/create.json" "${json[@]}"
crafted create-encoded-letters POST /%63ontainers/%63reate "$b/create.json" "${json[@]}"
crafted create-json-charset POST /v1.41/containers/create "$b/create.json" -H 'Content-Type: application/json; charset=utf-8'
crafted create-content-type-upper POST /v1.41/containers/create "$b/create.json" -H 'Content-Type: Application/JSON'
crafted create-text-plain POST /v1.41/containers/create "$b/create.json" -H 'Content-Type: text/plain'
crafted create-chunked POST /v1.41/containers/create "$b/create.json" "${json[@]}" -H 'Transfer-Encoding: chunked'
crafted create-over-1mib POST /v1.41/containers/create "$b/big.json" "${json[@]}"
crafted create-lower-case-keys POST /v1.41/containers/create "$b/lower.json" "${json[@]}"
crafted create-query-auth-suffix POST '/v1.41/containers/create?x=/auth' "$b/create.json" "${json[@]}"
crafted headers-flattened GET /v1.41/version - -H 'X-Dup: first' -H 'X-Dup: second' -H 'authorization: Bearer secret' -H 'X-Registry-Auth: secret' -H 'x-lower-case: v'
crafted auth-versioned POST /v1.41/auth "$b/auth.json" "${json[@]}"
crafted auth-unversioned POST /auth "$b/auth.json" "${json[@]}"
crafted auth-with-query POST '/v1.41/auth?x=1' "$b/auth.json" "${json[@]}"
