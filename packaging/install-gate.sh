#!/usr/bin/env bash
#: Puts the gate in front of dockerd on a systemd host: /run/docker.sock becomes the gate's
#: (group docker), dockerd's own socket moves to /run/docker-root/docker.sock (root only), and
#: dockerd gets a TLS port on 127.0.0.1:2376 that trusts the gate's CA alone.
#
# Usage (root): packaging/install-gate.sh BINARY
#   BINARY: a built authobot (packaging/build-plugin.sh leaves one in target/plugin/authobot/rootfs)
# Install authobot as the daemon's plugin first (packaging/install-legacy.sh): without a plugin
# reading `User`, the identities the gate gives change nothing. The docker.service drop-in
# replaces ExecStart with Debian's docker.io command line plus the TLS port; adapt it to other
# distributions' units.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=${1:?usage: install-gate.sh BINARY}
state=/var/lib/authobot-gate

[ -e /etc/systemd/system/authobot.socket ] || {
  echo "install-gate: install the plugin first (packaging/install-legacy.sh)" >&2
  exit 1
}
install -D -m 0755 "$bin" /usr/local/bin/authobot
install -m 0644 "$here/gate/authobot-gate.socket" "$here/gate/authobot-gate.service" /etc/systemd/system/
install -D -m 0644 "$here/gate/docker.socket.d/authobot-gate.conf" /etc/systemd/system/docker.socket.d/authobot-gate.conf
install -D -m 0644 "$here/gate/docker.service.d/authobot-gate.conf" /etc/systemd/system/docker.service.d/authobot-gate.conf
# The CA and dockerd's certificate, before dockerd is told to read them.
/usr/local/bin/authobot gate --init --state-dir "$state" --daemon 127.0.0.1:2376 >/dev/null

# daemon.json: the plugin and the TLS settings, keeping whatever else is configured. A
# "hosts" entry would clash with the drop-in's -H flags (dockerd refuses to start).
install -d -m 0755 /etc/docker
[ -s /etc/docker/daemon.json ] || echo '{}' >/etc/docker/daemon.json
python3 - /etc/docker/daemon.json "$here/gate/daemon.json" <<'PY'
import json, sys
path, ours = sys.argv[1], sys.argv[2]
with open(path) as f:
    config = json.load(f)
with open(ours) as f:
    gate = json.load(f)
if "hosts" in config:
    sys.exit("install-gate: remove \"hosts\" from %s: the gate's drop-in sets -H" % path)
plugins = config.setdefault("authorization-plugins", [])
for plugin in gate.pop("authorization-plugins"):
    if plugin not in plugins:
        plugins.append(plugin)
config.update(gate)
with open(path + ".new", "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
PY
mv /etc/docker/daemon.json.new /etc/docker/daemon.json

systemctl daemon-reload
# docker.socket holds /run/docker.sock until it is stopped and started on its new path.
systemctl stop docker.service docker.socket
systemctl enable --now authobot-gate.socket
systemctl start docker.socket docker.service
echo "install-gate: /run/docker.sock is the gate; dockerd's own socket is /run/docker-root/docker.sock" >&2
/usr/local/bin/authobot gate --check --state-dir "$state" || true
