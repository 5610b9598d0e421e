# The README's two commands: `make run` (the stack on this machine) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup provision run stop status test lint bench clean

setup: $(STAMP) provision

# Reinstall only when the dependency list changes; the package itself is installed editable.
$(STAMP): pyproject.toml
	@echo "==> dependencies: Python virtualenv in $(VENV)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

provision:
	@echo "==> database server: PostgreSQL + TimescaleDB on this machine (scripts/provision-db)"
	@scripts/provision-db

# The demo workload (injected anomalies) is on for `make run`: TSMON_DEMO=false make run to skip it.
run: setup
	@echo "==> stack: embedded database, migrations, demo backfill, API and worker (tsmon up)"
	TSMON_DEMO=$${TSMON_DEMO:-true} $(BIN)/tsmon up

stop:
	$(BIN)/tsmon down

status:
	$(BIN)/tsmon status

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

# The generated Grafana files must match the code that generates them (kube-prometheus mixin style).
test: setup lint
	$(BIN)/tsmon grafana build --check
	$(BIN)/pytest

bench: setup
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/api_memory.py
	$(BIN)/python benchmarks/windows.py
	$(BIN)/python benchmarks/detection.py
	$(BIN)/python benchmarks/dashboards.py
	$(BIN)/python benchmarks/analysis.py

clean:
	-$(BIN)/tsmon down
	rm -rf $(VENV) .tsmon .mypy_cache .ruff_cache .pytest_cache
