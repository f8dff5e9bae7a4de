"""The one place that starts the child processes of tests and benchmarks: Celery workers and beat, and other
programs (redis-server, gunicorn, `python -m tests...` helpers) on the test's database and broker.

Every child is started by `start()`: from the repository root, as the leader of its own process group (so
`tests.processes.stop_group` also stops what it started, e.g. a worker's pool processes), its output in a log
file when one is given. A Celery child runs `config.settings` (not the test settings) with the environment a
deployment would give it (`worker_environment()`), pointed at the database this test runs on (pytest-django's
test_<name>, `database_url()`) and the test broker. `celery_worker()` is a worker for the duration of a block:
started, waited for until it consumes, always stopped, and its log appended to a failing assertion.
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

from tests.processes import stop_group

ROOT = Path(__file__).resolve().parents[1]
READY = "ready."  # what a Celery worker logs (at INFO) once it consumes


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test_<name>), for another process."""
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_environment(**overrides: str) -> dict[str, str]:
    """A deployment's environment for a Celery child: this test's database and broker, none of this process's
    DJANGO_/PUSH_/FCM_/APNS_/ALERT_ settings (the child gets only what `overrides` give it)."""
    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PUSH_", "FCM_", "APNS_", "ALERT_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_SECRET_KEY": "e2e-worker-secret-key-" + "x" * 40,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "REDIS_URL": os.environ.get("REDIS_URL", ""),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def celery_args(
    *, name: str = "worker", concurrency: int = 1, pool: str = "prefork", loglevel: str = "INFO"
) -> list[str]:
    """The arguments after `celery` of a worker as the tests and benchmarks run it: no gossip, mingle or
    heartbeat (nothing to coordinate with), a unique node name."""
    return [
        "-A", "config", "worker", f"--loglevel={loglevel}", f"--concurrency={concurrency}", f"--pool={pool}",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{name}-{uuid.uuid4().hex[:8]}@%h",
    ]  # fmt: skip


def celery_command(**options) -> list[str]:
    """`python -m celery ...` of a worker; options as `celery_args`."""
    return [sys.executable, "-m", "celery", *celery_args(**options)]


def beat_command(schedule: Path) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO", "-s", str(schedule)]


def start(
    command: list[str], *, log: Path | None = None, env: dict[str, str] | None = None, **popen
) -> subprocess.Popen:
    """Start `command` from the repository root as the leader of its own process group; stdout and stderr are
    appended to `log` if given (otherwise as `popen` says, e.g. stdout=subprocess.PIPE)."""
    env = env if env is not None else os.environ.copy()
    if log is None:
        return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, **popen)
    with open(log, "ab") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, start_new_session=True, stdout=out, stderr=subprocess.STDOUT, **popen
        )


def ready_count(log: Path) -> int:
    """How many times the workers writing to `log` have reported ready (a restarted worker appends)."""
    return log.read_text(errors="replace").count(READY) if log.exists() else 0


def wait_ready(
    process: subprocess.Popen, log: Path, *, before: int = 0, timeout: float = 60, what: str = "worker"
) -> None:
    """Wait until the worker writing to `log` reports ready (once more than `before`); fail at once if it exits."""
    wait_until(
        lambda: ready_count(log) > before or process.poll() is not None,
        timeout=timeout,
        interval=0.1,
        message=f"{what} ready ({log})",
    )
    if ready_count(log) <= before:
        raise AssertionError(f"{what} exited with {process.returncode} before it was ready:\n{log_tail(log)}")


def log_tail(path: Path, lines: int = 120) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def celery_worker(
    log_path: Path, *, concurrency: int = 2, pool: str = "prefork", **env: str
) -> Iterator[subprocess.Popen]:
    """A worker consuming the test broker's queue until the block ends (with `worker_environment(**env)`),
    ready when the block starts. A failure inside the block gets the worker's log appended to its message."""
    before = ready_count(log_path)
    process = start(
        celery_command(name="e2e", concurrency=concurrency, pool=pool), log=log_path, env=worker_environment(**env)
    )
    try:
        wait_ready(process, log_path, before=before)
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
