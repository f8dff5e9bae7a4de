"""Push notifications to devices, behind one setting, `PUSH_BACKEND`, as Django does for e-mail.

`console` (default), `locmem` (tests), `file` (JSON lines in PUSH_FILE_PATH), `fcm` + `apns` (the real
providers; `providers` routes android/web to FCM and ios to APNs). A backend takes a batch of messages and
returns one `PushResult` per message, in order; it never raises for a per-message failure.

This lives with the Device model (travelers) because both alerts and call-backs push to devices, and those
two apps never import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class PushStatus(StrEnum):
    SENT = "sent"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 — provider says the token is dead: deactivate the device
    RETRY = "retry"  # transient (5xx, 429, timeout): try again later, honour retry_after
    FAILED = "failed"  # permanent for this message (e.g. payload error): never deactivate for it


@dataclass(frozen=True)
class PushMessage:
    platform: str  # "android" | "ios" | "web"
    token: str
    collapse_id: str
    title: str
    body: str
    data: dict[str, str] = field(default_factory=dict)  # no personal data of the traveler, ever


@dataclass(frozen=True)
class PushResult:
    status: PushStatus
    error: str = ""
    retry_after: float | None = None
    provider_id: str = ""


class PushBackend(Protocol):
    def send_batch(self, messages: list[PushMessage]) -> list[PushResult]: ...


BACKENDS = {
    "console": "travelers.push.simple.ConsoleBackend",
    "locmem": "travelers.push.simple.LocmemBackend",
    "file": "travelers.push.simple.FileBackend",
    "providers": "travelers.push.providers.ProviderRouterBackend",
}


@cache
def _backend_for(name: str) -> Any:
    return import_string(BACKENDS.get(name, name))()


def get_backend() -> PushBackend:
    """The configured backend; one instance per process (real clients keep their connections open)."""
    return _backend_for(settings.PUSH_BACKEND)


def reset_backends() -> None:
    """Forget cached backend instances (tests that change PUSH_BACKEND or provider URLs)."""
    _backend_for.cache_clear()
