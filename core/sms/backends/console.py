"""`console`: logs the message (development only: the log then holds the sign-in code)."""

from __future__ import annotations

import logging

from core.sms import SmsMessage
from core.sms.backends.base import BaseSmsBackend

logger = logging.getLogger("sms")


class ConsoleBackend(BaseSmsBackend):
    def send(self, message: SmsMessage) -> str:
        logger.info("sms to %s: %s", message.to, message.body)
        return ""
