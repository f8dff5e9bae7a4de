"""`file`: appends the messages to a JSON-lines file (development, demonstrations)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.conf import settings

from core.push import PushMessage, PushResult, PushStatus
from core.push.backends.base import BasePushBackend, message_record


class FileBackend(BasePushBackend):
    """Appends one JSON object per message to `<PUSH_FILE_PATH>/push-<pid>.jsonl`."""

    def send_batch(self, messages: list[PushMessage]) -> list[PushResult]:
        directory = Path(settings.PUSH_FILE_PATH)
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / f"push-{os.getpid()}.jsonl", "a", encoding="utf-8") as fh:
            for message in messages:
                fh.write(json.dumps(message_record(message), ensure_ascii=False) + "\n")
        return [PushResult(PushStatus.SENT) for _ in messages]
