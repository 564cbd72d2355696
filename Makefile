# greenlight — every target a newcomer needs. `make test` is what CI runs.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: test fmt-check lint unit docs help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

test: fmt-check lint unit ## formatting, lints and every test
	@echo "make test: all green"

fmt-check: ## cargo fmt --check
	$(CARGO) fmt --all --check

lint: ## clippy on every target, warnings are errors
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit: ## every unit, property and end-to-end test
	$(CARGO) test --workspace --locked

docs: ## regenerate the README's generated tables from the code
	@table=$$(mktemp) && $(CARGO) run --quiet --locked -p greenlight-cli -- codes --format markdown > "$$table" && \
	python3 -c 'import re,sys; readme=open("README.md").read(); table=open(sys.argv[1]).read(); \
	  new=re.sub(r"(<!-- codes:begin -->\n).*?(<!-- codes:end -->)", lambda m: m.group(1)+table+m.group(2), readme, flags=re.S); \
	  open("README.md","w").write(new)' "$$table" && rm -f "$$table"
