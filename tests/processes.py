"""Helpers for the child processes that tests and benchmarks start (workers, redis-server, fake providers).

Each such child leads its own process group (`start_new_session=True`), so stopping it also stops what it
started (a Celery worker's pool processes)."""

from __future__ import annotations

import os
import signal
import subprocess


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
