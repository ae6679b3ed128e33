# Entry points: `make test` (what CI runs), `make e2e`, `make bench`; `make help` lists all.
CARGO ?= cargo

.PHONY: help test lint fmt plugin e2e soak bench bench-decide body-soak conformance captures captures-client fuzz fuzz-check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

test: ## every test of the workspace (the Go oracle and real-dockerd tests skip without go/dockerd, fail under CI)
	$(CARGO) test --workspace --locked

lint: ## rustfmt and clippy, warnings are errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt: ## format the workspace
	$(CARGO) fmt --all

soak: ## kill -9 under load, a full disk, a disk gone read-only, every bit flip of a journal (root; SOAK_CYCLES=10)
	$(CARGO) test -p authobot --test soak --locked -- --ignored --test-threads=1 --nocapture

plugin: ## the managed plugin (static binary + policies + config.json) in target/plugin/authobot
	packaging/build-plugin.sh

e2e: ## authobot in front of a throwaway real dockerd (root; E2E_DRIVER=vagrant|docker-machine for a VM)
	vm/e2e.sh

bench: ## authobot against the do-nothing reference plugin, per request mix, as ratios; then bench-decide
	bench/run.sh
	$(MAKE) bench-decide

bench-decide: ## one in-process decision, and one body decode, on a realistic create body (criterion)
	$(CARGO) bench -p authobot --bench decide
	$(CARGO) bench -p authz-protocol --bench canonicalise

body-soak: ## the Go differential test of the canonicaliser at 10x its usual case count
	BODY_DIFFERENTIAL_SCALE=10 $(CARGO) test -p authz-protocol --test it differential

conformance: ## make conformance SOCKET=/run/docker/plugins/NAME.sock ARGS='--claims no-host-escape,ordinary-use'
	$(CARGO) run --release -p conformance -- run --plugin-socket $(SOCKET) $(ARGS)

captures: ## re-record captures/ from a throwaway real dockerd (root)
	captures/make-captures.sh

captures-client: ## both sides of every CLI command through fake-dockerd record (root)
	RECORD_EXCHANGES=1 captures/make-captures.sh

fuzz: ## run each cargo-fuzz target for 5 minutes (needs cargo-fuzz)
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none route_parser -- -dict=route_parser.dict -max_total_time=300
	mkdir -p fuzz/corpus/canonicaliser && cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none canonicaliser corpus/canonicaliser seeds/canonicaliser -- -max_len=8192 -max_total_time=300

fuzz-check: ## replay fuzz inputs against Go (go, python3; MOBY_REPO for routes)
	fuzz/check-oracle.sh
	fuzz/check-routes.sh
