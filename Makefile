# Set-up and everyday commands. Everything runs inside .venv, created on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-dev run test lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# pip's build chatter goes to a log, shown only when the install fails.
install: $(BIN)/python
	@echo "Installing into $(VENV)"
	@$(BIN)/pip install -q -e . > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }

# Done again only when pyproject.toml has changed since (or the environment is new): the code itself is
# installed editable, so an edit needs no install. Two `make test` started at once after it (.ci/run runs the
# suite on SQLite and on PostgreSQL side by side) both find it done, and neither installs over the other.
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	@echo "Installing into $(VENV), with the test tools"
	@$(BIN)/pip install -q -e ".[dev]" > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@touch $@

# Local development: DEBUG on (static files served from static/ as they are, nothing collected), SQLite unless DATABASE_URL says otherwise.
run: export DEBUG ?= 1
run: install
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "Serving on http://$(HOST):$(PORT)/ with a worker for emails and scheduled work  (stop both with Ctrl-C)"
	@echo "Demo logins (password: demo): hr = HR admin, manager = line manager, staff = member of staff; more in the README"
	@echo ""
	@# The worker (Django Q2's qcluster) runs beside the web server and stops with it.
	@trap 'kill 0' INT TERM EXIT; \
	  $(BIN)/python manage.py qcluster & \
	  $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install-dev
	$(BIN)/python -m pytest

# Lint, format check, import layers and types (pyproject.toml configures each); fails on the first that fails.
# With the test tools too: mypy reads the tests, and they import pytest and pypdf.
lint: $(BIN)/python
	@echo "Installing into $(VENV), with the lint tools"
	@$(BIN)/pip install -q -e ".[dev,lint]" > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# Browser tests (e2e/, not part of `make test`): Playwright drives Debian's Chromium (apt-get install
# chromium; no browser is downloaded) against a live server on a fresh demo database; axe-core checks
# every page it passes; screenshots at 1280 and 375 px go to e2e/screenshots/ (git-ignored).
E2E_CHROMIUM ?= /usr/bin/chromium
.PHONY: e2e
e2e: $(BIN)/python
	@echo "Installing into $(VENV), with the test tools and Playwright"
	@$(BIN)/pip install -q -e ".[dev,e2e]" > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@test -x "$(E2E_CHROMIUM)" || { echo "make e2e needs Chromium at $(E2E_CHROMIUM) (Debian: apt-get install chromium)"; exit 1; }
	E2E_CHROMIUM=$(E2E_CHROMIUM) $(BIN)/python -m pytest e2e

# The benchmark (docs/performance.md): a throwaway PostgreSQL server (BENCH_DB=sqlite: SQLite files),
# seed_scale at each of BENCH_SIZES, every page measured, a gunicorn load test; bench/results.json.
BENCH_DB ?= postgres
BENCH_SIZES ?= 200,20000
.PHONY: bench
bench: $(BIN)/python
	@echo "Installing into $(VENV), with the benchmark tools"
	@$(BIN)/pip install -q -e ".[bench]" > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@# The load test generates its load with wrk (C, little CPU) when it is on PATH; as root on Debian, install it.
	@if ! command -v wrk >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing wrk (Debian) for the load test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; \
	  fi; \
	  command -v wrk >/dev/null 2>&1 || echo "wrk is not installed (Debian: apt-get install wrk): the load test uses the Python load generator"; \
	fi
	BENCH_DB=$(BENCH_DB) BENCH_SIZES=$(BENCH_SIZES) $(BIN)/python bench/run.py
