#!/bin/sh
# Replays the canonicaliser seeds and kept corpus (fuzz/seeds/canonicaliser and, when present,
# fuzz/corpus/canonicaliser; or the directories given as arguments) through the Go oracle (protocol/oracle: Go's encoding/json into dockerd's
# structs) and through the Rust canonicaliser, and compares what each says the daemon will
# act on, input by input. Exits 1 on any disagreement, printing the body and both readings.
# Both refusing counts as agreement (dockerd answers 400 either way); refusals named
# differently (Go checks types before trailing bytes, for one) are counted, and listed with
# VERBOSE=1.
#
# Needs: go, python3.  Usage: fuzz/check-oracle.sh [CORPUS_DIR...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v go >/dev/null || { echo "check-oracle: go is not installed" >&2; exit 2; }
(cd "$root/protocol/oracle" && go build -o "$work/oracle" .)
if [ $# -eq 0 ]; then
	set -- "$here/seeds/canonicaliser"
	[ -d "$here/corpus/canonicaliser" ] && set -- "$@" "$here/corpus/canonicaliser"
fi

python3 - "$@" >"$work/cases.jsonl" <<'PY'
import base64, json, os, sys
KINDS = ["container_create", "host_config", "exec_create", "volume_create", "network_create",
         "container_update", "service_spec", "plugin_privileges", "plugin_settings", "authz_reply"]
for corpus in sys.argv[1:]:
    for name in sorted(os.listdir(corpus)):
        data = open(os.path.join(corpus, name), "rb").read()
        if not data:
            continue
        kind = KINDS[data[0] % len(KINDS)]
        print(json.dumps({"kind": kind, "body": base64.b64encode(data[1:]).decode()}))
PY

(cd "$here" && cargo run -q --bin canon_verdicts) <"$work/cases.jsonl" >"$work/rust.jsonl"
"$work/oracle" <"$work/cases.jsonl" >"$work/go.jsonl"

python3 - "$work/cases.jsonl" "$work/rust.jsonl" "$work/go.jsonl" <<'PY'
import base64, json, os, sys
cases = [json.loads(l) for l in open(sys.argv[1])]
rust = [json.loads(l) for l in open(sys.argv[2])]
go = [json.loads(l) for l in open(sys.argv[3])]
assert len(cases) == len(rust) == len(go), (len(cases), len(rust), len(go))
verbose = os.environ.get("VERBOSE") == "1"
agree, differ, renamed, per_kind = 0, 0, 0, {}
def refusal(v):
    return isinstance(v, dict) and set(v) == {"error"}
for case, r, g in zip(cases, rust, go):
    kind = case["kind"]
    stats = per_kind.setdefault(kind, [0, 0])
    if r == g or (refusal(r) and refusal(g)):
        agree += 1
        stats[0] += 1
        if r != g:
            renamed += 1
            if verbose:
                body = base64.b64decode(case["body"])
                print(f"refused as {r['error']} (Go: {g['error']}) {kind} {body[:200]!r}")
        continue
    differ += 1
    stats[1] += 1
    body = base64.b64decode(case["body"])
    print(f"DIFFER {kind} {body[:300]!r}\n  rust {json.dumps(r)[:400]}\n  go   {json.dumps(g)[:400]}")
for kind, (a, d) in sorted(per_kind.items()):
    print(f"  {kind}: {a} agree, {d} differ")
print(f"check-oracle: {len(cases)} bodies, {agree} agree ({renamed} refused by both under "
      f"another error name), {differ} differ")
sys.exit(1 if differ else 0)
PY
