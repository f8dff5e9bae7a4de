"""`locmem`: keeps the messages in memory (tests)."""

from __future__ import annotations

import threading

from core.sms import SmsMessage
from core.sms.backends.base import BaseSmsBackend

# The locmem backend's outbox, like django.core.mail.outbox. Tests clear it.
outbox: list[SmsMessage] = []
_lock = threading.Lock()


class LocmemBackend(BaseSmsBackend):
    def send(self, message: SmsMessage) -> str:
        with _lock:
            outbox.append(message)
        return ""
