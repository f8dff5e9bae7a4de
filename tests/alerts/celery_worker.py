"""Start a real Celery worker process for end-to-end tests, on the test's own database and broker.

The worker runs `config.settings` (not the test settings) with the environment a deployment would give it,
pointed at the test database (the one pytest-django created), the test broker and the fake providers. Its
log goes to a file that is shown when the test fails. The worker (and its pool children: it leads its own
process group) is always stopped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from tests.processes import stop_group

ROOT = Path(__file__).resolve().parents[2]


def current_database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test_<name>), for another process."""
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_environment(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PUSH_", "FCM_", "APNS_", "ALERT_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_SECRET_KEY": "e2e-worker-secret-key-" + "x" * 40,
            "DATABASE_URL": current_database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "REDIS_URL": os.environ.get("REDIS_URL", ""),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def log_tail(path: Path, lines: int = 120) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no worker log)"


@contextmanager
def celery_worker(log_path: Path, *, concurrency: int = 2, **env: str) -> Iterator[subprocess.Popen]:
    """A worker consuming the test broker's queue until the block ends. A failure inside the block gets the
    worker's log appended to its message."""
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--loglevel=INFO", f"--concurrency={concurrency}", "--pool=prefork",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "-n", f"e2e-{uuid.uuid4().hex[:8]}@%h",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=worker_environment(**env), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- worker log ({log_path}) ---\n{log_tail(log_path)}") from exc
    finally:
        stop_group(process)  # the worker and its pool children: our own process group


def wait_until(condition, *, timeout: float, interval: float = 0.25, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
