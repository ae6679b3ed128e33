# shellcheck shell=bash
#: The `vagrant` driver: brings up vm/Vagrantfile (Debian, authobot as a legacy plugin), runs
#: vm/e2e.sh inside with the guest driver, destroys the VM (also on failure or ^C) unless
#: E2E_KEEP_VM=1. Untested on the machine this was written on (no virtualisation there).

run_vagrant() {
  command -v vagrant >/dev/null || die "the vagrant driver needs vagrant"
  [ -x "$E2E_PLUGIN_BIN" ] || die "no plugin binary at $E2E_PLUGIN_BIN (packaging/build-plugin.sh)"
  cd "$E2E_VM" || die "no $E2E_VM"
  trap '[ "${E2E_KEEP_VM:-0}" = 1 ] || vagrant destroy -f' EXIT
  trap 'log "interrupted"; exit 130' INT TERM HUP
  vagrant up --provision || die "vagrant up failed"
  vagrant ssh -c "sudo E2E_DRIVER=guest E2E_PLUGIN_DIR=/authobot-plugin/authobot \
    E2E_ONLY='${E2E_ONLY:-}' CI='${CI:-}' bash /authobot/vm/e2e.sh"
}
