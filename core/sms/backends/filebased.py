"""`file`: appends the messages to a JSON-lines file (development, demonstrations)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from django.conf import settings

from core.sms import SmsMessage
from core.sms.backends.base import BaseSmsBackend

_lock = threading.Lock()


class FileBackend(BaseSmsBackend):
    """Appends one JSON object per message (`to`, `body`) to `<SMS_FILE_PATH>/sms-<pid>.jsonl`.

    One file per process, so concurrent workers never interleave partial lines.
    """

    def send(self, message: SmsMessage) -> str:
        directory = Path(settings.SMS_FILE_PATH)
        directory.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"to": message.to, "body": message.body}, ensure_ascii=False) + "\n"
        with _lock, open(directory / f"sms-{os.getpid()}.jsonl", "a", encoding="utf-8") as fh:
            fh.write(line)
        return ""
