# Set-up and everyday commands. Everything runs inside .venv, created on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-dev run test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# pip's build chatter goes to a log, shown only when the install fails.
install: $(BIN)/python
	@echo "Installing into $(VENV)"
	@$(BIN)/pip install -q -e . > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }

install-dev: $(BIN)/python
	@echo "Installing into $(VENV), with the test tools"
	@$(BIN)/pip install -q -e ".[dev]" > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }

# Local development: DEBUG on (static files served by Django), SQLite unless DATABASE_URL says otherwise.
run: export DEBUG ?= 1
run: install
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "Serving on http://$(HOST):$(PORT)/  (stop with Ctrl-C)"
	@echo "Demo logins (password: demo): hr = HR admin, manager = line manager, staff = member of staff"
	@echo ""
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install-dev
	$(BIN)/python -m pytest
