"""Text messages (sign-in codes), behind one setting, `SMS_BACKEND`, as django.core.mail does for e-mail.

`console` (the default), `locmem` (tests: `core.sms.backends.locmem.outbox`), `file` (JSON lines in
SMS_FILE_PATH) and `smsru` (the SMS.ru HTTP API at SMS_PROVIDER_URL); one module per backend in
`core/sms/backends/`. A dotted path selects any other class with a `send(message)` method
(`core.sms.backends.base.BaseSmsBackend`). `send` raises `SmsError` when the message was not accepted;
`SmsError.retryable` tells the caller (the Celery task) whether trying again later can help.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from core.sms.backends.base import BaseSmsBackend


@dataclass(frozen=True)
class SmsMessage:
    to: str  # E.164, e.g. "+37410123456"
    body: str


class SmsError(Exception):
    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


# The values SMS_BACKEND accepts besides a dotted path.
BACKENDS = {
    "console": "core.sms.backends.console.ConsoleBackend",
    "locmem": "core.sms.backends.locmem.LocmemBackend",
    "file": "core.sms.backends.filebased.FileBackend",
    "smsru": "core.sms.backends.smsru.SmsRuBackend",
}


@cache
def _backend_for(name: str) -> Any:
    return import_string(BACKENDS.get(name, name))()


def get_backend() -> BaseSmsBackend:
    """The configured backend; one instance per process (the HTTP backend keeps its connection pool)."""
    return _backend_for(settings.SMS_BACKEND)


def reset_backends() -> None:
    """Forget cached backend instances (tests that change SMS_BACKEND or the provider settings)."""
    _backend_for.cache_clear()


def send_sms(*, to: str, body: str) -> str:
    return get_backend().send(SmsMessage(to=to, body=body))
