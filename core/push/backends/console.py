"""`console`: logs each message (development)."""

from __future__ import annotations

import json
import logging

from core.push import PushMessage, PushResult, PushStatus
from core.push.backends.base import BasePushBackend, message_record

logger = logging.getLogger("push")


class ConsoleBackend(BasePushBackend):
    def send_batch(self, messages: list[PushMessage]) -> list[PushResult]:
        for message in messages:
            logger.info("push %s", json.dumps(message_record(message), ensure_ascii=False))
        return [PushResult(PushStatus.SENT) for _ in messages]
