# Hindsight: `make run` starts everything on the embedded defaults; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
HOST ?= 127.0.0.1
PORT ?= 8000
# Links in e-mails and reports point where `make run` serves (`make run PORT=8811` links to port 8811).
SITE_URL ?= http://$(HOST):$(PORT)
PYTEST_ARGS ?=
# `make test` spreads the tests over the cores (pytest-xdist; an idle worker takes tests queued for a busy one);
# TEST_WORKERS=0 runs them in this one process.
TEST_WORKERS ?= auto
# `make time-tests`: runs of the whole suite against a baseline file, e.g. TIME_TESTS_ARGS="--runs 3".
TIME_TESTS_ARGS ?=
# `make bench`: a PostgreSQL database whose name starts with "bench" (dropped and re-created by each run).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bench
BENCH_INCIDENTS ?= 1000000
BENCH_ARGS ?=
# Marker of `npm ci` in tests/browser (the axe-core accessibility checker for the browser tests).
BROWSER_NPM := tests/browser/node_modules/.installed

# A fresh checkout runs in development mode; production sets DEBUG=false and a SECRET_KEY itself.
run test time-tests: export DEBUG ?= true
# Keep compiled bytecode (and pytest's rewritten test modules) between runs even where the environment turns it
# off: without it every run compiles Django, DRF and the tests from source again (collection 7 s instead of 4).
test time-tests: export PYTHONDONTWRITEBYTECODE :=

.PHONY: run test time-tests bench lint typecheck format ci clean

$(VENV)/.python-ok:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Hindsight needs Python 3.11 or newer ($(PYTHON) is $$($(PYTHON) --version))."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@touch $@

# What the installs below depend on: pyproject.toml but the tools' settings ([tool.*] but setuptools'), written
# only when that changes, so that editing pytest's, ruff's or mypy's settings reinstalls nothing (it took 10 s).
$(VENV)/.install-inputs: pyproject.toml $(VENV)/.python-ok
	@$(PYTHON) -c 'import json, tomllib; data = tomllib.load(open("pyproject.toml", "rb")); \
		tools = data.pop("tool", {}); print(json.dumps([data, tools.get("setuptools")], sort_keys=True))' > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

$(VENV)/.installed: $(VENV)/.install-inputs
	$(PY) -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed | $(BROWSER_NPM)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

# The browser tests' JavaScript (axe-core, pinned in tests/browser/package-lock.json); reinstalled when the lock
# changes. Without npm the accessibility tests skip with the reason.
$(BROWSER_NPM): tests/browser/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tests/browser --no-audit --no-fund && touch $@; \
	else echo "npm is missing (apt-get install -y npm): the accessibility tests in tests/browser will skip"; fi

run: $(VENV)/.installed
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo --if-empty
	@echo
	@echo "  Hindsight is starting at http://$(HOST):$(PORT)/  (admin: http://$(HOST):$(PORT)/admin/)"
	@echo "  Log in as demo / demo. Ctrl-C stops the web server, the worker and the scheduler."
	@echo
	@trap 'kill 0' INT TERM EXIT; \
	SITE_URL=$(SITE_URL) $(VENV)/bin/celery -A config worker --beat --loglevel=INFO & \
	SITE_URL=$(SITE_URL) $(MANAGE) runserver $(HOST):$(PORT)

test: $(VENV)/.installed-dev
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

time-tests: $(VENV)/.installed-dev
	$(PY) -m bench.suite_timer --workers $(TEST_WORKERS) $(TIME_TESTS_ARGS)

bench: $(VENV)/.installed
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.run --incidents $(BENCH_INCIDENTS) $(BENCH_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed-dev
	DEBUG=true $(VENV)/bin/mypy

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

ci:
	.ci/run

clean:
	rm -rf $(VENV) var tests/browser/node_modules
