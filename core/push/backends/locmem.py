"""`locmem`: keeps the messages in memory (tests)."""

from __future__ import annotations

import threading

from core.push import PushMessage, PushResult, PushStatus
from core.push.backends.base import BasePushBackend

# The locmem backend's outbox, like django.core.mail.outbox. Tests clear it.
outbox: list[PushMessage] = []
_outbox_lock = threading.Lock()


class LocmemBackend(BasePushBackend):
    def send_batch(self, messages: list[PushMessage]) -> list[PushResult]:
        with _outbox_lock:
            outbox.extend(messages)
        return [PushResult(PushStatus.SENT) for _ in messages]
