"""Test settings: the real PostgreSQL and Redis (as in production), never SQLite.

The environment may override every URL; the defaults are the services on this machine.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-used-anywhere-else-0123456789")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/foreign_assistant")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/2")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")

# pytest-xdist: each test process (gw0, gw1, ...) gets Redis databases of its own for the cache and the broker, so
# one process's cache.clear() or e2e worker never touches another's (pytest-django already gives each its own
# PostgreSQL test database). Written back to the environment: the workers tests start inherit it.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw") and _worker[2:].isdigit() and int(_worker[2:]) > 0:
    for _name in ("REDIS_URL", "CELERY_BROKER_URL"):
        _base, _, _db = os.environ[_name].rpartition("/")
        os.environ[_name] = f"{_base}/{int(_db or 0) + 4 * int(_worker[2:])}"
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

from config.settings import *  # noqa: E402, F403

SMS_BACKEND = "locmem"
PUSH_BACKEND = "locmem"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; tests hold no real passwords
# Tasks are called directly in unit tests; the end-to-end tests run a real worker on the real broker.
CELERY_TASK_ALWAYS_EAGER = False
# Static files come from the apps (no collectstatic in tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
