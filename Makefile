# Checkpoints Admin — `make run` serves the console, `make test` runs the whole suite.
# Both set everything up first: a Python >= 3.12 virtualenv in .venv, the project installed.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

# The first interpreter >= 3.12 that actually runs: PATH first, then pyenv's versions.
# (pyenv shims may exist for versions that are not selected, so each candidate is run.)
find_python = $(shell for c in $$PYTHON python3.13 python3.12 python3 python \
	$$(pyenv root 2>/dev/null | sed 's|$$|/versions|' | xargs -I{} sh -c 'ls -d {}/3.1[2-9]*/bin/python3 {}/3.[2-9][0-9]*/bin/python3 2>/dev/null | sort -rV'); do \
	[ -n "$$c" ] && command -v "$$c" >/dev/null 2>&1 && \
	"$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && \
	{ command -v "$$c"; break; }; done)

# Local development defaults for `make run` (never used in production: see the README).
LOCAL_ENV = DJANGO_DEBUG=$${DJANGO_DEBUG:-true} DJANGO_HTTPS=$${DJANGO_HTTPS:-false} \
	DJANGO_SECRET_KEY="$${DJANGO_SECRET_KEY:-$$(cat .local-secret-key)}"

.PHONY: help venv run test lint format bench clean

help:
	@echo "make run    set up (venv, install, migrate, samples, first admin) and serve on http://$(HOST):$(PORT)"
	@echo "make test   set up and run the whole test suite"
	@echo "make lint   ruff check, ruff format --check, mypy"
	@echo "make bench  run the benchmarks (ratios against baselines measured in the same run)"
	@echo "make format format the code with ruff"

$(STAMP): pyproject.toml
	@py="$(find_python)"; \
	if [ -z "$$py" ]; then \
		echo "Checkpoints Admin needs Python 3.12 or newer, and none was found on PATH or in pyenv." >&2; \
		echo "Install Python 3.12+ (for example: pyenv install 3.13) or set PYTHON=/path/to/python3.12." >&2; \
		exit 1; \
	fi; \
	if [ -x "$(PY)" ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		rm -rf $(VENV); \
	fi; \
	[ -x "$(PY)" ] || { echo "Creating $(VENV) with $$py"; "$$py" -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

.local-secret-key:
	@$(if $(find_python),$(find_python),python3) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@
	@chmod 600 $@

run: $(STAMP) .local-secret-key
	@mkdir -p "$${CHECKPOINTS_DIR:-checkpoints}"
	$(LOCAL_ENV) $(PY) manage.py migrate --noinput
	$(LOCAL_ENV) $(PY) manage.py bootstrap
	$(LOCAL_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

# The whole suite on the embedded SQLite database; then, when DATABASE_URL names a PostgreSQL
# server (as .ci/run arranges), every test that touches the database runs again against it
# (all but tests/checkpoints: the library there never uses Django or a database).
# Tests run in TEST_WORKERS processes (pytest-xdist; each has its own test database,
# checkpoints directory and Chromium); TEST_WORKERS=0 runs them in this one.
TEST_WORKERS ?= auto
PYTEST := $(PY) -m pytest -n $(TEST_WORKERS) --maxprocesses 4
test: $(STAMP)
	env -u DATABASE_URL $(PYTEST)
	@if [[ "$$DATABASE_URL" == postgres* ]]; then \
		echo "== database tests again on PostgreSQL"; \
		$(PYTEST) -p no:randomly --ignore=tests/checkpoints; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy checkpoints_admin

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	@set -e; for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b $(BENCH_ARGS); done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache staticfiles
