# e360 developer commands. The README mirrors this file.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
# Interpreters tried in order; the first that runs and is >= 3.12 builds the virtualenv.
PYTHON_CANDIDATES ?= $(PYTHON) python3.12 python3.13 python3.14 python3

.PHONY: help venv run test test-fast test-deps chromium wrk lint format check-deploy bench vendor clean

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@if [ ! -x $(PY) ]; then \
	  for candidate in $(PYTHON_CANDIDATES); do \
	    if "$$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then found=$$candidate; break; fi; \
	  done; \
	  if [ -z "$$found" ]; then \
	    echo "e360 needs Python 3.12 or newer; none found (tried: $(PYTHON_CANDIDATES))." >&2; \
	    echo "Install one (pyenv install 3.12, uv python install 3.12, or your OS packages) and run make again." >&2; \
	    exit 1; \
	  fi; \
	  echo "Creating $(VENV) with $$($$found --version)"; \
	  "$$found" -m venv $(VENV); \
	fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed ## Create the virtualenv and install e360 with its dev tools

.env:
	@printf '%s\n' '# Local development settings, read by e360/settings.py (the environment wins).' \
	  '# Written once by make run; not committed. See the settings table in README.md.' 'DEBUG=1' > $@
	@echo "Wrote .env (DEBUG=1) for local development."

# In development, links in emails follow HOST and PORT; SITE_URL (environment or .env) wins (e360/settings.py).
run: export HOST := $(HOST)
run: export PORT := $(PORT)
run: venv .env ## Migrate, load the demo organisation, start web server and worker on PORT
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable
	$(PY) manage.py seed_demo --if-empty
	@$(PY) manage.py ensure_admin
	@# Job control (set -m) puts the worker and the web server each in a process group of its own, with
	@# SIGINT not ignored (a non-interactive shell ignores it in background jobs). On Ctrl-C the trap asks
	@# both groups to stop (SIGTERM), gives them 5 s (the worker finishes the task it is running), then kills
	@# what is left: tasks cut short are handed out again by the broker.
	@set -m; \
	$(PY) manage.py qcluster & worker=$$!; \
	$(PY) manage.py runserver $(HOST):$(PORT) & web=$$!; \
	stop() { trap - INT TERM EXIT; kill -TERM -$$worker -$$web 2>/dev/null; \
	  for _ in $$(seq 50); do kill -0 -$$worker 2>/dev/null || kill -0 -$$web 2>/dev/null || break; sleep 0.1; done; \
	  kill -KILL -$$worker -$$web 2>/dev/null; wait 2>/dev/null; }; \
	trap stop INT TERM EXIT; \
	sleep 2; echo; echo "  e360 is running at http://$(HOST):$(PORT)/  (Ctrl-C stops the web server and the worker)"; echo; \
	wait -n

# The loopback OpenID provider and axe-core the tests use: npm ci once, again when a package-lock.json changes.
TEST_NPM_DIRS := e360/tests/oidc_provider e360/tests/axe
%/node_modules/.installed: %/package-lock.json
	@command -v npm >/dev/null || { echo "The tests need Node.js and npm: install them (apt-get install -y nodejs npm) and run make again." >&2; exit 1; }
	npm ci --prefix $* --no-audit --no-fund
	@touch $@

# Where the browser tests look for Chromium, and the apt-get that installs it (both overridable: the Makefile's tests).
CHROMIUM ?= /usr/bin/chromium
APT_GET ?= apt-get
chromium: ## Install Chromium for the browser tests when /usr/bin/chromium is missing (root with apt), or say how
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v $(APT_GET) >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive $(APT_GET) update && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y chromium; \
	  else \
	    echo "The browser tests need Chromium at $(CHROMIUM). Install it, then run make again:" >&2; \
	    echo "  sudo apt-get install -y chromium" >&2; \
	    exit 1; \
	  fi; \
	fi

wrk: ## Install wrk (the benchmarks' load generator; a test runs it) when it is missing (root with apt), or say how
	@if ! command -v wrk >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v $(APT_GET) >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive $(APT_GET) update && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y wrk; \
	  else \
	    echo "The benchmark's test needs wrk. Install it, then run make again:" >&2; \
	    echo "  sudo apt-get install -y wrk" >&2; \
	    exit 1; \
	  fi; \
	fi

test-deps: venv chromium wrk $(TEST_NPM_DIRS:%=%/node_modules/.installed) ## What the tests need besides Python: npm packages, Chromium, wrk

# pytest-xdist workers: one per CPU (WORKERS=0 runs the tests in one process, e.g. for --pdb). Each worker
# has its own test database (test_e360_gw0, ...), live server and OpenID provider on ports of its own.
WORKERS ?= auto
# pytest keeps its rewritten test modules in __pycache__ unless PYTHONDONTWRITEBYTECODE is set, as it is on some
# machines: each worker then rewrites about 580 modules on every run (`pytest --collect-only`: 24 s, 10 s cached).
PYTEST := PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -n $(WORKERS)
test: test-deps ## Run the whole test suite on every core (DATABASE_URL picks the database; SQLite by default)
	$(PYTEST) $(PYTEST_ARGS)

test-fast: venv ## The suite without the browser tests (no Chromium, Node or npm needed), on every core
	$(PYTEST) -m "not browser" $(PYTEST_ARGS)

lint: venv ## Ruff (lint and format check), mypy and a missing-migrations check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

format: venv ## Format and fix what ruff can
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check-deploy: venv ## Django's deployment checks with production-like settings
	DEBUG=0 SECRET_KEY=$${SECRET_KEY:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')} \
	ALLOWED_HOSTS=$${ALLOWED_HOSTS:-e360.example.com} EMAIL_HOST=$${EMAIL_HOST:-smtp.example.com} \
	SITE_URL=$${SITE_URL:-https://e360.example.com} \
	$(PY) manage.py check --deploy --fail-level WARNING

BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/e360_bench
BENCH_ENV := DATABASE_URL=$(BENCH_DATABASE_URL) DEBUG=0 SECRET_KEY=bench-only SECURE_SSL_REDIRECT=0 ALLOWED_HOSTS=testserver,127.0.0.1
bench: venv wrk ## Load the large demo into PostgreSQL (kept between runs) and measure the budgets (docs/product.md#budgets)
	@url='$(BENCH_DATABASE_URL)'; db=$${url##*/}; base=$${url%/*}; \
	psql "$$base/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$$db'" | grep -q 1 || psql "$$base/postgres" -c "CREATE DATABASE $$db"
	@psql '$(BENCH_DATABASE_URL)' -tAc "SELECT 1 FROM e360_team LIMIT 1" 2>/dev/null | grep -q 1 || \
	  echo "Loading the large data set into $(BENCH_DATABASE_URL): once, kept between runs; 25 to 110 minutes on 2 cores (README.md)."
	$(BENCH_ENV) $(PY) manage.py migrate --noinput -v0
	$(BENCH_ENV) $(PY) manage.py createcachetable
	$(BENCH_ENV) $(PY) manage.py collectstatic --noinput -v0
	$(BENCH_ENV) $(PY) manage.py seed_demo --size large --if-empty
	@# As autovacuum would have by now on a live database: statistics, and visibility maps for index-only scans.
	psql '$(BENCH_DATABASE_URL)' -q -c 'VACUUM (ANALYZE)'
	$(BENCH_ENV) $(PY) manage.py bench $(BENCH_ARGS)
	$(BENCH_ENV) $(PY) manage.py bench_surveys $(SURVEY_BENCH_ARGS)
	$(BENCH_ENV) $(PY) manage.py bench_insights $(INSIGHTS_BENCH_ARGS)
	$(BENCH_ENV) $(PY) manage.py bench_integrations $(INTEGRATIONS_BENCH_ARGS)
	$(BENCH_ENV) $(PY) manage.py bench_reminders $(REMINDERS_BENCH_ARGS)
	$(BENCH_ENV) $(PY) manage.py bench_actions $(ACTIONS_BENCH_ARGS)

CHARTJS_VERSION := 4.6.1
SWAGGER_UI_VERSION := 5.35.0
vendor: ## Re-fetch the pinned Chart.js and Swagger UI from the npm registry into static/vendor/
	@tmp=$$(mktemp -d); cd $$tmp && npm pack --silent chart.js@$(CHARTJS_VERSION) swagger-ui-dist@$(SWAGGER_UI_VERSION) >/dev/null; \
	mkdir chart swagger && tar xzf chart.js-$(CHARTJS_VERSION).tgz -C chart && tar xzf swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz -C swagger; \
	cp chart/package/dist/chart.umd.min.js chart/package/dist/chart.umd.min.js.map chart/package/LICENSE.md $(CURDIR)/static/vendor/chartjs/; \
	cd swagger/package && cp swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css swagger-ui.css.map LICENSE NOTICE $(CURDIR)/static/vendor/swagger-ui/; \
	rm -rf $$tmp

clean: ## Remove the virtualenv, the local database and collected static files
	rm -rf $(VENV) var staticfiles
