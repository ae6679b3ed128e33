# Entry points: `make test` (what CI runs), `make e2e`, `make bench`.
CARGO ?= cargo

.PHONY: test lint fmt plugin e2e
test:
	$(CARGO) test --workspace --locked

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

# The managed plugin (static binary + policies + config.json) in target/plugin/authobot.
plugin:
	packaging/build-plugin.sh

# Real-daemon end-to-end (root + dockerd; E2E_DRIVER=vagrant|docker-machine for a VM).
e2e:
	vm/e2e.sh
