#!/bin/sh
# Differential check of the route parser against Go itself: Go 1.19's request-line reader and
# the gorilla mux that moby v20.10.24 vendors, loaded with the same route table, over the
# route test table and the kept route_parser corpus. Exits 1 on any target the Rust parser
# routes while dockerd would not, or routes elsewhere.
#
# Needs: go, python3, and moby's git repository (for gorilla mux's source, not copied here):
#   MOBY_REPO=/path/to/moby.git fuzz/check-routes.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
moby=${MOBY_REPO:-/work/.mirror/moby+moby/repo}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v go >/dev/null || { echo "check-routes: go is not installed" >&2; exit 2; }
git -C "$moby" rev-parse -q --verify v20.10.24 >/dev/null ||
	{ echo "check-routes: no moby repository with tag v20.10.24 at $moby (set MOBY_REPO)" >&2; exit 2; }

mkdir -p "$work/src/github.com/gorilla"
git -C "$moby" archive v20.10.24 vendor/github.com/gorilla/mux | tar -x -C "$work"
mv "$work/vendor/github.com/gorilla/mux" "$work/src/github.com/gorilla/mux"
(cd "$work" && GOPATH="$work" GO111MODULE=off go build -o "$work/oracle" "$here/route-oracle/main.go")
sed -n '/^const ROUTE_TABLE: &str = "/,/^";/p' "$root/protocol/src/route.rs" | sed '1d;$d' >"$work/table.txt"

python3 - "$root/protocol/tests/data/routes.jsonl" "$here/corpus/route_parser" "${ROUTE_SAMPLES:-20000}" >"$work/cases.txt" <<'PY'
import base64, json, os, random, sys
table, corpus, samples = sys.argv[1], sys.argv[2], int(sys.argv[3])
def emit(method, target):
    if "\t" in method or "\n" in method:
        return
    print(method + "\t" + base64.b64encode(target).decode())
for line in open(table, encoding="utf-8"):
    case = json.loads(line)
    if "expect" in case:
        emit(case["method"], case["target"].encode())
if os.path.isdir(corpus):
    for name in sorted(os.listdir(corpus)):
        data = open(os.path.join(corpus, name), "rb").read()
        method, sep, target = data.partition(b"\n")
        if not sep:
            method, target = b"GET", data
        try:
            emit(method.decode(), target)
        except UnicodeDecodeError:
            pass
# Random targets built from the pieces routing cares about, so most of them reach the table.
rng = random.Random(20241110)
methods = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "CONNECT", "PATCH", "get"]
prefixes = ["", "/v1.41", "/v1.24", "/v1", "/v.", "/v1..2", "/v", "/V1.41", "/%76%31.41",
            "http://docker", "HTTP://d:1", "unix:", "http://u@h", "//x"]
segments = ["containers", "create", "json", "web", "a%2Fb", "%2F", "%2E%2E", "..", ".", "",
            "exec", "start", "images", "push", "tag", "networks", "plugins", "set", "debug",
            "pprof", "vars", "_ping", "auth", "build", "volumes", "services", "update",
            "checkpoints", "cp", "%63ontainers", "a%0Ab", "n#x", "x+y", "%E2%82%AC", "%zz",
            "%FF", "distribution", "swarm", "init", "secrets", "tasks", "logs", "archive"]
queries = ["", "?", "?x=/auth", "?a=1&a=2", "?a=1;b=2", "?a+b=c%20d", "?%zz", "?&&", "?a=%FF",
           "?networkmode=host#f"]
for _ in range(samples):
    path = "/".join(rng.choice(segments) for _ in range(rng.randint(1, 5)))
    target = rng.choice(prefixes) + "/" + path + rng.choice(["", "", "/"]) + rng.choice(queries)
    if rng.random() < 0.02:
        target = rng.choice(["*", "", " ", target.replace("/", "//", 1)])
    emit(rng.choice(methods), target.encode())
PY

(cd "$here" && cargo run -q --bin route_verdicts) <"$work/cases.txt" >"$work/rust.jsonl"
"$work/oracle" "$work/table.txt" <"$work/cases.txt" >"$work/go.jsonl"

python3 - "$work/cases.txt" "$work/rust.jsonl" "$work/go.jsonl" <<'PY'
import base64, json, sys
cases = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
rust = [json.loads(l) for l in open(sys.argv[2])]
go = [json.loads(l) for l in open(sys.argv[3])]
assert len(cases) == len(rust) == len(go)
agree = routed = stricter = bad = 0
def allows(v):
    return v["outcome"] == "route" and not v.get("query_err")
for (method, enc), r, g in zip(cases, rust, go):
    target = base64.b64decode(enc)
    if allows(r):
        same = allows(g) and r["template"] == g["template"] \
            and (r.get("vars") or {}) == (g.get("vars") or {}) \
            and (r.get("query") or {}) == (g.get("query") or {})
        if same:
            agree += 1
            routed += 1
        else:
            bad += 1
            print(f"DISAGREE {method} {target!r}\n  rust {r}\n  go   {g}")
    elif allows(g):
        stricter += 1
        print(f"stricter {method} {target!r}: rust {r.get('outcome')} {r.get('detail') or r.get('query_err')}")
    else:
        agree += 1
print(f"check-routes: {len(cases)} targets, {agree} agree ({routed} routed alike, the rest refused by both), "
      f"{stricter} denied by Rust only, {bad} disagreements")
sys.exit(1 if bad else 0)
PY
