#!/usr/bin/env bash
#: Builds authobot as a managed Docker plugin: a static release binary in a rootfs, with the
#: shipped policies and config.json, ready for `docker plugin create authobot DIR`.
#
# Usage: packaging/build-plugin.sh [OUT_DIR]   (default target/plugin/authobot; `make plugin`)
#   AUTHOBOT_BIN=path  package this binary instead of building one (it must be static).
# The same binary serves the legacy install (packaging/install-legacy.sh).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/target/plugin/authobot}
cargo=${CARGO:-cargo}

if [ -z "${AUTHOBOT_BIN:-}" ]; then
  host=$("${RUSTC:-rustc}" -vV | sed -n 's/^host: //p')
  # crt-static on the gnu target gives a static-pie: the plugin's rootfs needs no libc. With
  # --target the flag reaches our code only, not build scripts and proc macros.
  echo "build-plugin: cargo build --release -p authobot --target $host (crt-static)" >&2
  (cd "$root" && RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    "$cargo" build --locked --release -p authobot --bin authobot --target "$host")
  AUTHOBOT_BIN="$root/target/$host/release/authobot"
fi

# A dynamically linked binary would fail inside the plugin's empty rootfs.
if command -v readelf >/dev/null && readelf -d "$AUTHOBOT_BIN" 2>/dev/null | grep -q '(NEEDED)'; then
  echo "build-plugin: $AUTHOBOT_BIN is dynamically linked: $(readelf -d "$AUTHOBOT_BIN" | grep '(NEEDED)' | tr -s ' ')" >&2
  exit 1
fi

rm -rf "$out"
mkdir -p "$out/rootfs/policies" "$out/rootfs/etc/authobot" "$out/rootfs/run/docker/plugins" \
  "$out/rootfs/tmp" "$out/rootfs/var/lib/authobot"
install -m 0755 "$AUTHOBOT_BIN" "$out/rootfs/authobot"
install -m 0644 "$root"/authobot/policies/*.toml "$out/rootfs/policies/"
install -m 0644 "$root/packaging/managed/config.json" "$out/config.json"
echo "build-plugin: $out ($(du -sh "$out" | cut -f1)); install with: docker plugin create authobot $out" >&2
