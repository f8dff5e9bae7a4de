# Targets are one-liners; the heavy lifting is in scripts/ and the apps.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Only `make run` is a development server: DEBUG (and with it the development secret key) and plain HTTP are set
# for it alone. Every other target sees the environment as it is, like production.
run: export DJANGO_DEBUG ?= true
run: export DJANGO_SECURE_SSL_REDIRECT ?= false
# A worker or beat needs a broker (without one `make run` runs tasks in-process) and a secret key: stop with
# one line saying so instead of a traceback or Celery retrying amqp://localhost forever.
NEED_CELERY = @test -n "$$CELERY_BROKER_URL" -a -n "$$DJANGO_SECRET_KEY$$DJANGO_DEBUG" || { \
	echo "make $@ needs CELERY_BROKER_URL and DJANGO_SECRET_KEY (or DJANGO_DEBUG=true): see README.md"; exit 2; }

.PHONY: run test test-fast lint format bench worker beat install

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python scripts/run.py

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m "not e2e and not fault and not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy .

format: $(STAMP)
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

worker: $(STAMP)
	$(NEED_CELERY)
	$(BIN)/celery -A config worker --loglevel=INFO --concurrency=2

beat: $(STAMP)
	$(NEED_CELERY)
	$(BIN)/celery -A config beat --loglevel=INFO
