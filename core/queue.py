"""Enqueue Celery tasks by their registered name: after the transaction commits, and never raising.

The database row is the record and the queue only a transport: a periodic sweeper picks up whatever the
queue lost. So a broker that is down never fails the request (or the task) that wrote the row: the enqueue
is logged and dropped, after one quick reconnect. Tasks are named, not imported, so that services never
import a tasks module (tasks import services, not the other way round); the task object is found in the
Celery app's registry, which autodiscovers the apps' `tasks` modules the first time a name is missing. The
task's own options (eager mode in development, routing, `expires` defaults) apply as with `task.apply_async`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from functools import partial
from typing import Any

from celery import current_app
from celery.app.task import Task
from django.db import transaction

logger = logging.getLogger("core.queue")

# A publish or a sign-in never waits long for the broker: one quick reconnect, then give up.
RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}

_recent: dict[tuple, float] = {}  # (task name, args) -> time.monotonic() of this process's last `at_most_every` send
_recent_lock = threading.Lock()


def registered_task(task_name: str) -> Task:
    """The task registered as `task_name`; raises celery.exceptions.NotRegistered (a KeyError) for a typo."""
    app = current_app
    if task_name not in app.tasks:
        app.loader.import_default_modules()  # autodiscovery: the apps' tasks modules, imported once
    return app.tasks[task_name]


def enqueue(task_name: str, *args: Any, **options: Any) -> bool:
    """Send one message for the task `task_name` now; never raise for the broker. False when it is unreachable.

    `options` are those of `Task.apply_async` (`kwargs`, `countdown`, `expires`, `retry`...); by default one
    quick reconnect (RETRY_POLICY)."""
    task = registered_task(task_name)
    kwargs = options.pop("kwargs", None)
    options.setdefault("retry", True)
    options.setdefault("retry_policy", RETRY_POLICY)
    try:
        task.apply_async(args, kwargs, **options)
        return True
    except Exception:  # kombu OperationalError, redis errors, OSError...: the database row is the record
        logger.warning("could not enqueue %s%r; the sweeper will", task_name, args, exc_info=True)
        return False


def enqueue_on_commit(task_name: str, *args: Any, at_most_every: float | None = None, **options: Any) -> None:
    """`enqueue` once the current transaction commits (at once outside one); nothing if it rolls back.

    `at_most_every` (seconds): skip the message if this process sent the same task with the same args less
    than that long ago, counted at commit time. For a task that collects pending rows: give it a `countdown`
    as long, and it finds the rows of the skipped commits too."""
    transaction.on_commit(partial(_enqueue_committed, task_name, args, at_most_every, options), robust=True)


def enqueue_many(task_name: str, calls: Iterable[tuple]) -> int:
    """One message per args tuple of `calls`, all on one broker connection. Raises when the broker is
    unreachable (the caller decides: a kickoff task retries, the sweeper stops). Returns the number sent."""
    task = registered_task(task_name)
    sent = 0
    if task.app.conf.task_always_eager:  # development without a broker: run in-process
        for args in calls:
            task.apply_async(args)
            sent += 1
        return sent
    with task.app.producer_or_acquire() as producer:
        for args in calls:
            task.apply_async(args, producer=producer)
            sent += 1
    return sent


def _enqueue_committed(task_name: str, args: tuple, at_most_every: float | None, options: dict) -> None:
    if at_most_every is not None:
        key, now = (task_name, args), time.monotonic()
        with _recent_lock:
            if now - _recent.get(key, float("-inf")) < at_most_every:
                return
            _recent[key] = now
    enqueue(task_name, *args, **options)


def forget_recent() -> None:
    """Forget the `at_most_every` sends of this process (tests and benchmarks start as a fresh process)."""
    with _recent_lock:
        _recent.clear()
