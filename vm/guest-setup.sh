#!/usr/bin/env bash
#: Provisions a Debian/Ubuntu VM (systemd) for the guest driver: docker.io, busybox-static and
#: curl from the distribution, the e2e busybox image, then authobot installed as a legacy
#: socket-activated plugin by packaging/install-legacy.sh. Run as root inside the VM.
#
# Usage: E2E_PLUGIN_DIR=/path/to/built/plugin bash vm/guest-setup.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
plugin_dir=${E2E_PLUGIN_DIR:-$root/target/plugin/authobot}
[ -x "$plugin_dir/rootfs/authobot" ] || { echo "guest-setup: no built plugin in $plugin_dir" >&2; exit 2; }

need=()
command -v dockerd >/dev/null || need+=(docker.io)
[ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 || need+=(busybox-static)
command -v curl >/dev/null || need+=(curl)
command -v script >/dev/null || need+=(bsdutils)
command -v python3 >/dev/null || need+=(python3)
if [ "${#need[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
systemctl start docker.service

E2E_WORK=$(mktemp -d)
trap 'rm -rf "$E2E_WORK"' EXIT
E2E_DOCKER_CLI=$(command -v docker)
E2E_IMAGE=${E2E_IMAGE:-authobot-e2e/busybox:latest}
E2E_BUSYBOX=/bin/busybox
DOCKER_HOST=unix:///var/run/docker.sock
export DOCKER_HOST
# shellcheck source=vm/lib/common.sh
. "$here/lib/common.sh"
# The image first: afterwards the plugin decides what the daemon may do.
dk image inspect "$E2E_IMAGE" >/dev/null 2>&1 || make_busybox_image

bash "$root/packaging/install-legacy.sh" "$plugin_dir/rootfs/authobot" "$plugin_dir/rootfs/policies/default.toml"
