"""Helpers for the child processes that tests and benchmarks start (workers, redis-server, fake providers).

Each such child leads its own process group (`start_new_session=True`), so stopping it also stops what it
started (a Celery worker's pool processes)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable


def stop_group(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Send `sig` to the process's group and wait; SIGKILL the group if it is still there after `timeout`."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def stop_groups(processes: Iterable[subprocess.Popen], sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """`stop_group` for several processes at once: every group is signalled first, then each is waited for
    (their shutdowns overlap instead of adding up); SIGKILL for any group still there after `timeout`."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
    deadline = time.monotonic() + timeout
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
