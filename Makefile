# Entry points: `make test` (what CI runs), `make e2e`, `make bench`.
CARGO ?= cargo

.PHONY: test lint fmt
test:
	$(CARGO) test --workspace --locked

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all
