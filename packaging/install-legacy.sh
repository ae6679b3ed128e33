#!/usr/bin/env bash
#: Installs authobot as a legacy (socket-activated) plugin on a systemd host and restarts
#: dockerd with it in front: binary, policy, units, docker.service drop-in, daemon.json.
#
# Usage (root): packaging/install-legacy.sh BINARY [POLICY]
#   BINARY: a built authobot (packaging/build-plugin.sh leaves one in target/plugin/authobot/rootfs)
#   POLICY: the policy to install as /etc/authobot/policy.toml (default: keep an existing one,
#           else authobot/policies/default.toml)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=${1:?usage: install-legacy.sh BINARY [POLICY]}
policy=${2:-}
[ -n "$policy" ] || [ -e /etc/authobot/policy.toml ] || policy=$here/../authobot/policies/default.toml

install -D -m 0755 "$bin" /usr/local/bin/authobot
install -d -m 0755 /etc/authobot
if [ -n "$policy" ]; then
  /usr/local/bin/authobot check --policy "$policy"
  install -m 0644 "$policy" /etc/authobot/policy.toml
fi
install -m 0644 "$here/systemd/authobot.socket" "$here/systemd/authobot.service" /etc/systemd/system/
install -D -m 0644 "$here/systemd/docker.service.d/authobot.conf" /etc/systemd/system/docker.service.d/authobot.conf

# daemon.json: add the plugin, keeping whatever else is configured.
install -d -m 0755 /etc/docker
if [ ! -s /etc/docker/daemon.json ]; then
  install -m 0644 "$here/daemon.json" /etc/docker/daemon.json
elif ! grep -q '"authobot"' /etc/docker/daemon.json; then
  command -v python3 >/dev/null || {
    echo "install-legacy: add \"authorization-plugins\": [\"authobot\"] to /etc/docker/daemon.json yourself" >&2
    exit 1
  }
  python3 - /etc/docker/daemon.json <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    config = json.load(f)
plugins = config.setdefault("authorization-plugins", [])
if "authobot" not in plugins:
    plugins.append("authobot")
with open(path + ".new", "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
PY
  mv /etc/docker/daemon.json.new /etc/docker/daemon.json
fi

systemctl daemon-reload
systemctl enable --now authobot.socket
systemctl restart docker.service
echo "install-legacy: dockerd now runs with --authorization-plugin=authobot (policy /etc/authobot/policy.toml)" >&2
