"""The real Redis broker of the tests: read what was enqueued without consuming it, or make it unreachable."""

from __future__ import annotations

import base64
import json
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis

from config.celery import app as celery_app
from tests.fakes.push_server import free_port


@dataclass(frozen=True)
class QueuedTask:
    task: str
    args: list
    eta: str | None
    kwargs: dict = field(default_factory=dict)
    expires: str | None = None


class BrokerQueue:
    """The real Redis queue of the test broker, read without consuming through kombu's own wire format."""

    def __init__(self, url: str, queue: str = "celery") -> None:
        self.client = redis.Redis.from_url(url)
        self.queue = queue

    def purge(self) -> None:
        self.client.delete(self.queue)

    def messages(self) -> list[QueuedTask]:
        out = []
        for raw in reversed(self.client.lrange(self.queue, 0, -1)):  # LPUSH: oldest last
            message = json.loads(raw)
            args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            headers = message["headers"]
            out.append(QueuedTask(headers["task"], args, headers.get("eta"), kwargs, headers.get("expires")))
        return out

    def tasks(self, name: str) -> list[list]:
        return [m.args for m in self.messages() if m.task == name]


def _forget_celery_pools() -> None:
    """Make the app build new broker connections from its current configuration (no close: kombu's pools
    are shared per connection URL and stay usable for the original broker)."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextmanager
def broker_unreachable():
    """Point the Celery app's publishing at a closed port on loopback (as if Redis were down), then restore.

    Publishing reads `broker_write_url` (CELERY_BROKER_URL from the environment wins over `broker_url`)."""
    original = celery_app.conf.get("broker_write_url")
    _forget_celery_pools()
    celery_app.conf.broker_write_url = f"redis://127.0.0.1:{free_port()}/0"
    try:
        yield
    finally:
        celery_app.conf.broker_write_url = original
        _forget_celery_pools()
