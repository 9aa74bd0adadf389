# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: demo test lint typecheck pytest services chromium prometheus bench constraints clean

$(VENV)/.base: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PIP) -e '.[dev]'
	touch $@

demo: $(VENV)/.base
	$(BIN)/pilothouse sample
	$(BIN)/pilothouse report
	$(BIN)/pilothouse flaky
	$(BIN)/pilothouse cost
	$(BIN)/pilothouse score

test: $(VENV)/.dev services lint typecheck pytest

services:
	scripts/ensure-postgres

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(VENV)/.dev
	$(BIN)/mypy

pytest: $(VENV)/.dev services chromium prometheus
	$(BIN)/pytest -n 2

# The dashboard's browser tests drive Debian's Chromium (Playwright cannot download its own).
CHROMIUM := /usr/bin/chromium
chromium: $(CHROMIUM)

$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium

# The rollout tests judge canaries over a real Prometheus, backfilled with promtool.
PROMETHEUS := /usr/bin/prometheus
prometheus: $(PROMETHEUS)

$(PROMETHEUS):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus

bench: $(VENV)/.dev
	$(BIN)/python benchmarks/junit_ingest.py

constraints: $(VENV)/.dev
	head -n 2 constraints.txt > constraints.txt.new
	$(BIN)/pip freeze --exclude-editable | sort -f >> constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) .pilothouse .mypy_cache .pytest_cache .ruff_cache
