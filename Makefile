# Two commands do everything on a fresh machine with Python 3.11:
#   make run    virtualenv, install, migrate SQLite, seed the demo, serve on 127.0.0.1:8000
#   make test   virtualenv, install, lint (ruff, import layers, mypy), the tests on SQLite and on PostgreSQL
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# PostgreSQL used by `make test` (the test database is created beside it as test_<name>).
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/postgres
# pytest-xdist workers (`auto`: one per core; each has its own test database), and the
# order they take tests in (an idle worker takes queued tests from a busy one)
WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -n $(WORKERS) --dist worksteal

.PHONY: run test test-sqlite test-postgres test-citus test-js fuzz-long lint format install clean

$(BIN)/.installed: pyproject.toml clients/python/pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11, or run make PYTHON=python3"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" -e ./clients/python
	@touch $@

install: $(BIN)/.installed

run: install
	DEBUG=true $(BIN)/python manage.py migrate --noinput
	DEBUG=true $(BIN)/python manage.py seed_demo --username admin --password admin
	@echo ""
	@echo "  Admin:     http://$(HOST):$(PORT)/admin/   (user admin, password admin)"
	@echo "  Agent-api: http://$(HOST):$(PORT)/ac-demo/v3/agent-api"
	@echo ""
	@echo "  Worker:    webhooks sent by manage.py run_huey (started here, stopped with the server)"
	DEBUG=true $(BIN)/python manage.py run_huey --quiet & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	DEBUG=true $(BIN)/python manage.py runserver $(HOST):$(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	SECRET_KEY=type-check-only $(BIN)/mypy
	cd clients/python && $(abspath $(BIN))/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# `make test` fuzzes each operation with FUZZ_EXAMPLES examples (8 unless set: it keeps the
# whole run under 8 minutes on 2 cores); `make fuzz-long` runs FUZZ_LONG_EXAMPLES and every
# phase.
test-sqlite: install
	@echo "Running the tests on SQLite"
	env -u DATABASE_URL FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-8} FUZZ_COVERAGE=$${FUZZ_COVERAGE:-off} $(PYTEST)

# In CI (CI=true) a PostgreSQL that cannot be reached fails the run; elsewhere it is skipped.
# The browser tests run once, on SQLite: what a page shows does not depend on the engine,
# and the admin's pages are tested on PostgreSQL by Django's client in tests/admin.
test-postgres: install
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_TEST_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "Running the tests on PostgreSQL ($(PG_TEST_URL))"; \
		DATABASE_URL=$(PG_TEST_URL) FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-8} FUZZ_COVERAGE=$${FUZZ_COVERAGE:-off} SOAK_SECONDS=$${SOAK_SECONDS:-20} $(PYTEST) --ignore=tests/browser -m "not db_independent"; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL at $(PG_TEST_URL) is not reachable: CI requires it."; exit 1; \
	else \
		echo "PostgreSQL at $(PG_TEST_URL) is not reachable: skipping the PostgreSQL run (CI requires it)."; \
	fi

# The JavaScript clients' unit tests (the browser's and the Node.js server-side client's),
# with Node's built-in test runner. Both clients' conformance runs are in tests/clients/.
# The Node client's TypeScript declarations are compiled against a typed caller
# (clients/node/test/types), with the TypeScript its package-lock.json pins.
NODE_CLIENT := clients/node
$(NODE_CLIENT)/node_modules/.installed: $(NODE_CLIENT)/package.json $(NODE_CLIENT)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm not found: the Node client's type check needs it (Debian package npm)"; exit 1; }
	cd $(NODE_CLIENT) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test-js: $(NODE_CLIENT)/node_modules/.installed
	@command -v node >/dev/null 2>&1 || { echo "node not found: the JavaScript clients' tests need Node.js 18 or later"; exit 1; }
	node --test tests/js/ clients/node/test/
	$(NODE_CLIENT)/node_modules/.bin/tsc -p $(NODE_CLIENT)/test/types

test: lint test-js test-sqlite test-postgres

# The longer runs (`.ci/run` runs them after `make test`): the fuzz with FUZZ_LONG_EXAMPLES
# examples per operation and stateful scenarios, every phase, on SQLite and on PostgreSQL;
# the soak for a minute (make test gives it 20 s).
FUZZ_LONG_EXAMPLES ?= 200
fuzz-long: install
	env -u DATABASE_URL FUZZ_EXAMPLES=$(FUZZ_LONG_EXAMPLES) FUZZ_COVERAGE=on $(PYTEST) tests/fuzz
	DATABASE_URL=$(PG_TEST_URL) FUZZ_EXAMPLES=$(FUZZ_LONG_EXAMPLES) FUZZ_COVERAGE=on $(PYTEST) tests/fuzz
	DATABASE_URL=$(PG_TEST_URL) SOAK_SECONDS=60 $(PYTEST) tests/runtime/test_soak.py

# The agent-api's core tests and tests/citus on a Citus cluster (docs/scaling.md says how to
# build and start one): CITUS_TEST_URL is a database on the coordinator whose workers are
# added; the tests make their own database beside it, on every node, and distribute it.
CITUS_CORE := tests/citus tests/runtime/test_selections.py tests/runtime/test_requests.py \
	tests/goals/test_matching.py tests/goals/test_batch.py tests/goals/test_replay.py \
	tests/visitors tests/reports/test_report.py tests/admin/test_install.py
test-citus: install
	@test -n "$(CITUS_TEST_URL)" || { echo "CITUS_TEST_URL is not set: a Citus coordinator's database, such as postgres://postgres@127.0.0.1:9700/postgres"; exit 2; }
	DATABASE_URL=$(CITUS_TEST_URL) CITUS_TEST_URL=$(CITUS_TEST_URL) $(PYTEST) $(CITUS_CORE)

clean:
	rm -rf $(VENV) $(NODE_CLIENT)/node_modules db.sqlite3 staticfiles .pytest_cache .ruff_cache .mypy_cache
