"""One asyncio event loop per process, on a daemon thread, for the HTTP/2 provider clients.

Celery tasks and Django views are synchronous. The FCM and APNs clients are asynchronous so that one HTTP/2
connection carries many concurrent requests; they live on this loop for the life of the process, so their
connections (and OAuth/JWT tokens) are reused from one batch to the next. After a fork (Celery prefork,
gunicorn) the child builds its own loop: a loop or a connection is never shared between processes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def _get_loop() -> asyncio.AbstractEventLoop:
    global _loop, _loop_pid
    with _lock:
        if _loop is None or _loop_pid != os.getpid() or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="push-io", daemon=True)
            thread.start()
            _loop, _loop_pid = loop, os.getpid()
        return _loop


def run(coro: Coroutine[Any, Any, T], *, timeout: float | None = None) -> T:
    """Run `coro` on the process's push loop and wait for its result (from any thread but the loop's own)."""
    future = asyncio.run_coroutine_threadsafe(coro, _get_loop())
    try:
        return future.result(timeout=timeout)
    except BaseException:
        # A time limit (Celery's SoftTimeLimitExceeded) or a timeout here: do not leave the sends running.
        future.cancel()
        raise


def submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    return asyncio.run_coroutine_threadsafe(coro, _get_loop())
