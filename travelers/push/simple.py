"""Development and test push backends: console, locmem and file."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from django.conf import settings

from travelers.push import PushMessage, PushResult, PushStatus

logger = logging.getLogger("push")

# The locmem backend's outbox, like django.core.mail.outbox. Tests clear it.
outbox: list[PushMessage] = []
_outbox_lock = threading.Lock()


def message_record(message: PushMessage) -> dict:
    return {
        "platform": message.platform,
        "token": message.token,
        "collapse_id": message.collapse_id,
        "title": message.title,
        "body": message.body,
        "data": message.data,
    }


class ConsoleBackend:
    def send_batch(self, messages: list[PushMessage]) -> list[PushResult]:
        for message in messages:
            logger.info("push %s", json.dumps(message_record(message), ensure_ascii=False))
        return [PushResult(PushStatus.SENT) for _ in messages]


class LocmemBackend:
    def send_batch(self, messages: list[PushMessage]) -> list[PushResult]:
        with _outbox_lock:
            outbox.extend(messages)
        return [PushResult(PushStatus.SENT) for _ in messages]


class FileBackend:
    """Appends one JSON object per message to `<PUSH_FILE_PATH>/push-<pid>.jsonl`."""

    def send_batch(self, messages: list[PushMessage]) -> list[PushResult]:
        directory = Path(settings.PUSH_FILE_PATH)
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / f"push-{os.getpid()}.jsonl", "a", encoding="utf-8") as fh:
            for message in messages:
                fh.write(json.dumps(message_record(message), ensure_ascii=False) + "\n")
        return [PushResult(PushStatus.SENT) for _ in messages]
