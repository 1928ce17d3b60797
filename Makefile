# The two commands of the README (`make demo`, `make test`) bootstrap .venv themselves.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
DEMO_ARGS ?=

.PHONY: demo test lint unit integration e2e browser local build bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cme demo $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/python tests/run_layers.py

lint: $(STAMP)
	$(BIN)/ruff check shared functions infra tests
	$(BIN)/ruff format --check shared functions infra tests
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

integration: $(STAMP)
	$(BIN)/pytest tests/integration -q

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e -q

browser: $(STAMP)
	$(BIN)/pytest tests/browser -q

# reportlab, the certificate benchmark's comparison, comes with the `bench` extra.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/cme bench

local: $(STAMP)
	$(BIN)/cme local

build:
	bash infra/sam_build.sh

clean:
	rm -rf $(VENV) .venv-tools .aws-sam .cme out test-artifacts .pytest_cache .mypy_cache .ruff_cache .hypothesis
