"""What the provider backends (FCM, APNs) share: one asyncio event loop per process, and an HTTP/2 client.

The loop: Celery tasks and Django views are synchronous. The FCM and APNs clients are asynchronous so that one
HTTP/2 connection carries many concurrent requests; they live on one loop, on a daemon thread, for the life of
the process, so their connections (and OAuth/JWT tokens) are reused from one batch to the next. After a fork
(Celery prefork, gunicorn) the child builds its own loop: a loop or a connection is never shared between
processes.

The client: httpx, HTTP/2, bounded, with timeouts. Why httpx: one client speaks HTTP/2 (many concurrent
requests on one TLS connection, which is what FCM HTTP v1 and APNs expect for volume), has sync and async APIs,
explicit connect/read/pool timeouts and connection limits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
from django.conf import settings

from core.push import PushMessage, PushResult
from core.push.backends.base import BasePushBackend

logger = logging.getLogger("push")

# --- the process's push event loop -----------------------------------------------------------------------------

T = TypeVar("T")

_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def _get_loop() -> asyncio.AbstractEventLoop:
    global _loop, _loop_pid
    with _loop_lock:
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


# --- the HTTP/2 client -----------------------------------------------------------------------------------------

# httpx logs every request at INFO: one line per device of a broadcast. Failures are logged by the backends.
logging.getLogger("httpx").setLevel(logging.WARNING)


def tls_verify() -> ssl.SSLContext | bool:
    """System trust store, or the CA file in PUSH_TLS_CA_FILE (tests trust their own fake's certificate)."""
    ca_file = getattr(settings, "PUSH_TLS_CA_FILE", "")
    return ssl.create_default_context(cafile=ca_file) if ca_file else True


def make_async_client(endpoint: str) -> httpx.AsyncClient:
    """An HTTP/2 client. Over https the protocol is negotiated by ALPN; a plain http:// endpoint (a fake on
    loopback) is spoken to in HTTP/2 with prior knowledge (h2c), as a provider would be."""
    timeout = float(settings.PUSH_TIMEOUT_SECONDS)
    concurrency = int(settings.PUSH_CONCURRENCY)
    return httpx.AsyncClient(
        http2=True,
        http1=not endpoint.startswith("http://"),
        verify=tls_verify(),
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0), pool=timeout),
        limits=httpx.Limits(max_connections=max(4, concurrency // 50), max_keepalive_connections=4),
        trust_env=False,
    )


def json_body(payload: object) -> bytes:
    """Compact UTF-8 JSON: non-ASCII text (Russian) is not inflated sixfold by \\u escapes, so what counts
    against the 4096-byte limits is what `core.push.payload_size` measured."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


JSON_HEADERS = {"content-type": "application/json; charset=utf-8"}


def retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` as seconds (delta-seconds form; the HTTP-date form is rare from these providers)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        from django.utils import timezone

        try:
            return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
        except (TypeError, ValueError):
            return None


class HTTP2PushBackend(BasePushBackend):
    """What the provider backends share: one HTTP/2 client per process, created on first use; at most
    PUSH_CONCURRENCY requests in flight; a synchronous `send_batch` for the worker that runs the subclass's
    `send_batch_async` on the process's push event loop. asyncio primitives bind to the loop that first waits
    on them: always that loop."""

    name = "push"

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._client: httpx.AsyncClient | None = None
        self._semaphore = asyncio.Semaphore(int(settings.PUSH_CONCURRENCY))

    def send_batch(self, messages: list[PushMessage]) -> list[PushResult]:
        if not messages:
            return []
        return run(self.send_batch_async(messages))

    async def send_batch_async(self, messages: list[PushMessage]) -> list[PushResult]:
        raise NotImplementedError

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            try:
                run(client.aclose(), timeout=5)
            except Exception:  # closing is best effort
                logger.debug("%s client close failed", self.name, exc_info=True)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = make_async_client(self.endpoint)
        return self._client
