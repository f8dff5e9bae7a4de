# Targets are one-liners; the heavy lifting is in scripts/ and the apps.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DJANGO_DEBUG ?= true
export DJANGO_SECURE_SSL_REDIRECT ?= false

.PHONY: run test test-fast lint format bench worker beat install

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python scripts/run.py

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not e2e and not fault and not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

worker: $(STAMP)
	$(BIN)/celery -A config worker --loglevel=INFO --concurrency=2

beat: $(STAMP)
	$(BIN)/celery -A config beat --loglevel=INFO
