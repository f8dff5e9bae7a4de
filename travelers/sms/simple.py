"""Development and test SMS backends: console, locmem and file."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from django.conf import settings

from travelers.sms import SmsMessage

logger = logging.getLogger("sms")

# The locmem backend's outbox, like django.core.mail.outbox. Tests clear it.
outbox: list[SmsMessage] = []
_lock = threading.Lock()


class ConsoleBackend:
    """Logs the message (development only: the log then holds the sign-in code)."""

    def send(self, message: SmsMessage) -> str:
        logger.info("sms to %s: %s", message.to, message.body)
        return ""


class LocmemBackend:
    def send(self, message: SmsMessage) -> str:
        with _lock:
            outbox.append(message)
        return ""


class FileBackend:
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
