# Two commands matter: `make run` and `make test`. Everything else is a step they use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

# PostgreSQL and Redis for the integration tests; override to point elsewhere.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/listexp_ci
TEST_REDIS_URL ?= redis://127.0.0.1:6379/14

.PHONY: setup run test lint unit integration demo clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py setup_demo

run: demo
	DEBUG=1 $(PY) manage.py runserver 127.0.0.1:8000 --noreload

# HTTPS on https://127.0.0.1:8443 with gunicorn, a Celery worker, PostgreSQL and Redis,
# DEBUG off (docs/deployment.md). Ctrl-C stops it.
.PHONY: run-prod-like
run-prod-like: setup
	VENV=$(VENV) scripts/run_prod_like.sh

# Benchmarks on demand, never part of `make test` (docs/benchmarks.md): about 3 minutes,
# PostgreSQL at 127.0.0.1:5432; figures in var/bench/results.json.
.PHONY: bench
bench: setup
	$(PY) -m tests.benchmarks.run

lint: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

unit: setup
	TESTING=1 $(PY) manage.py makemigrations --check --dry-run
	TESTING=1 $(VENV)/bin/pytest -m "not integration"

integration: setup
	TESTING=1 DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		$(VENV)/bin/pytest -m integration

test: lint unit integration

clean:
	rm -rf $(VENV) var staticfiles
