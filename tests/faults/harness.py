"""What the fault tests share: their own redis-server, real Celery worker and beat processes (started by
tests/workers.py, each the leader of its own process group, so a kill takes its pool children too), the
test's Celery app pointed at the test's own broker, and fast seeding of a few thousand subscribed devices.

Every process started here is stopped by `Cluster.close()` (the fixtures call it in teardown), whatever the
test did. Nothing here touches the machine's shared PostgreSQL or Redis beyond the test database.
"""

from __future__ import annotations

import hashlib
import re
import signal
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import redis

from config.celery import app as celery_app
from tests.fakes.push_server import free_port
from tests.processes import stop_group, stop_groups
from tests.workers import (
    beat_command,
    celery_command,
    log_tail,
    ready_count,
    start,
    wait_ready,
    wait_until,
    worker_environment,
)
from travelers.models import Device, DeviceSubscription

TASK_LINE = re.compile(r"Task alerts\.tasks\.\w+\[([0-9a-f-]{36})\]")
# Fan-out settings of the fault tests' workers: short leases and sweeps so that recovery is measured in
# seconds, and a visibility timeout far beyond every bound asserted (recovery must never depend on it).
FAST_RECOVERY = {
    "ALERT_LEASE_SECONDS": "15",
    "ALERT_SWEEP_GRACE_SECONDS": "3",
    "ALERT_SWEEP_INTERVAL_SECONDS": "2",
    "ALERT_RETRY_BASE_SECONDS": "1",
    "ALERT_RETRY_MAX_SECONDS": "4",
    "ALERT_MAX_ATTEMPTS": "10",
    "CELERY_VISIBILITY_TIMEOUT": "3600",
    "PUSH_TIMEOUT_SECONDS": "2",
}


class RedisServer:
    """A redis-server of the test's own on a free loopback port, without persistence: a restart comes back
    empty, as a crashed broker without AOF would (every queued message is lost)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.log = directory / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no",
        ]  # fmt: skip
        self.process = start(command, log=self.log)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_until(lambda: _pings(client), timeout=10, interval=0.05, message=f"redis-server on {self.port}")
        return self

    def stop(self) -> None:
        """Down hard, as in a crash: SIGKILL."""
        if self.process is not None:
            stop_group(self.process, signal.SIGKILL)
            self.process = None

    def lpush_calls(self) -> int:
        stats = redis.Redis(port=self.port).info("commandstats")
        return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("lpush", "rpush"))


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class Cluster:
    """Celery workers (and one beat) on the test database, the test's broker and the fake provider."""

    def __init__(self, directory: Path, *, broker_url: str, **env: str) -> None:
        self.directory = directory
        self.env = worker_environment(
            CELERY_BROKER_URL=broker_url, PUSH_BACKEND="providers", **{**FAST_RECOVERY, **env}
        )
        self.workers: dict[str, subprocess.Popen] = {}
        self.log_offsets: dict[str, int] = {}
        self.beat: subprocess.Popen | None = None
        self.others: list[subprocess.Popen] = []

    def log(self, name: str) -> Path:
        return self.directory / f"{name}.log"

    def start_workers(self, *names: str, concurrency: int = 1) -> None:
        """Start the workers and wait until every one of them consumes."""
        before = {name: ready_count(self.log(name)) for name in names}
        for name in names:
            log = self.log(name)
            self.log_offsets[name] = log.stat().st_size if log.exists() else 0
            self.workers[name] = start(celery_command(name=name, concurrency=concurrency), log=log, env=self.env)
        for name in names:
            wait_ready(self.workers[name], self.log(name), before=before[name], what=f"worker {name}")

    def tasks_in_progress(self, name: str) -> set[str]:
        """Ids of the tasks the worker (its latest run) received and had not finished, from its log (the main
        process logs "received", the pool process "succeeded"/"raised"/"retry", for every message at INFO)."""
        received: set[str] = set()
        finished: set[str] = set()
        with open(self.log(name), "rb") as log:
            log.seek(self.log_offsets.get(name, 0))  # this run of the worker only
            lines = log.read().decode(errors="replace").splitlines()
        for line in lines:
            match = TASK_LINE.search(line)
            if match:
                (received if line.rstrip().endswith("received") else finished).add(match.group(1))
        return received - finished

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker and its pool children at once (its whole process group)."""
        stop_group(self.workers[name], signal.SIGKILL)

    def start_beat(self) -> subprocess.Popen:
        schedule = self.directory / f"beat-schedule-{uuid.uuid4().hex[:6]}"
        self.beat = start(beat_command(schedule), log=self.log("beat"), env=self.env)
        return self.beat

    def spawn(self, command: list[str], name: str, env: dict[str, str]) -> subprocess.Popen:
        process = start(command, log=self.log(name), env=env)
        self.others.append(process)
        return process

    def alive(self) -> dict[str, bool]:
        return {name: process.poll() is None for name, process in self.workers.items()}

    def worker_logs(self) -> str:
        """Everything every worker process wrote."""
        return "\n".join(self.log(name).read_text(errors="replace") for name in self.workers)

    def logs(self) -> str:
        return "\n".join(f"--- {path.name} ---\n{log_tail(path, 60)}" for path in sorted(self.directory.glob("*.log")))

    def close(self) -> None:
        stop_groups([*self.workers.values(), *([self.beat] if self.beat else []), *self.others])


@contextmanager
def publishing_to(broker_url: str):
    """The test process's Celery app (the staff panel's, in production) publishes to `broker_url`."""
    saved = {key: celery_app.conf.get(key) for key in ("broker_url", "broker_write_url")}

    def forget_pools() -> None:
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    forget_pools()
    celery_app.conf.broker_url = celery_app.conf.broker_write_url = broker_url
    try:
        yield
    finally:
        for key, value in saved.items():
            celery_app.conf[key] = value
        forget_pools()


def subscribed_devices(country, tokens: list[str], *, locale: str = "ru") -> list[Device]:
    """Anonymous Android devices subscribed to `country` (in every alert's audience there), in two INSERTs."""
    devices = Device.objects.bulk_create(
        [
            Device(
                platform="android", token=token, token_hash=hashlib.sha256(token.encode()).hexdigest(), locale=locale
            )
            for token in tokens
        ],
        batch_size=2000,
    )
    DeviceSubscription.objects.bulk_create([DeviceSubscription(device=d, country=country) for d in devices])
    return devices


def elapsed_since(started: float) -> float:
    return time.monotonic() - started
