"""Push notifications to devices, behind one setting, `PUSH_BACKEND`, as django.core.mail does for e-mail.

`console` (default), `locmem` (tests: `core.push.backends.locmem.outbox`), `file` (JSON lines in
PUSH_FILE_PATH), `fcm` + `apns` (the real providers; `providers` routes android/web to FCM and ios to APNs).
A dotted path selects any other `core.push.backends.base.BasePushBackend`. One module per backend in
`core/push/backends/`. A backend takes a batch of messages and returns one `PushResult` per message, in order;
it never raises for a per-message failure.

Infrastructure, not domain: alerts and call-backs both push to devices (and never import each other); what a
dead token means for a device is `travelers.services.devices`.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from core.push.backends.base import BasePushBackend

# FCM and APNs both refuse a notification payload above 4 KiB (FCM: INVALID_ARGUMENT, APNs: 413).
MAX_PAYLOAD_BYTES = 4096


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
    # Providers drop the notification after this moment (FCM ttl, APNs apns-expiration); None: their default.
    expires_at: datetime | None = None


@dataclass(frozen=True)
class PushResult:
    status: PushStatus
    error: str = ""
    retry_after: float | None = None
    provider_id: str = ""
    # APNs 410: the moment APNs learnt the token was dead. A device that registered its token after this
    # moment must not be deactivated.
    invalid_since: datetime | None = None


# The values PUSH_BACKEND accepts besides a dotted path.
BACKENDS = {
    "console": "core.push.backends.console.ConsoleBackend",
    "locmem": "core.push.backends.locmem.LocmemBackend",
    "file": "core.push.backends.filebased.FileBackend",
    "fcm": "core.push.backends.fcm.FCMBackend",
    "apns": "core.push.backends.apns.APNsBackend",
    "providers": "core.push.backends.providers.ProviderRouterBackend",
}

_instances: dict[str, Any] = {}
_instances_pid = os.getpid()
_instances_lock = threading.Lock()


def _backend_for(name: str) -> Any:
    global _instances_pid
    with _instances_lock:
        if _instances_pid != os.getpid():  # forked (Celery prefork, gunicorn): connections are not shared
            _instances.clear()
            _instances_pid = os.getpid()
        if name not in _instances:
            _instances[name] = import_string(BACKENDS.get(name, name))()
        return _instances[name]


def get_backend() -> BasePushBackend:
    """The configured backend; one instance per process (real clients keep their connections open)."""
    return _backend_for(settings.PUSH_BACKEND)


def reset_backends() -> None:
    """Forget cached backend instances (tests that change PUSH_BACKEND or provider URLs)."""
    with _instances_lock:
        instances = list(_instances.values())
        _instances.clear()
    for instance in instances:
        close = getattr(instance, "close", None)
        if close is not None:
            close()


def payload_size(message: PushMessage) -> int:
    """The larger of the FCM and APNs payload sizes of `message`, in bytes (the limit is MAX_PAYLOAD_BYTES)."""
    from core.push.backends.apns import apns_payload
    from core.push.backends.fcm import fcm_payload

    return max(
        len(json.dumps(fcm_payload(message), ensure_ascii=False, separators=(",", ":")).encode()),
        len(json.dumps(apns_payload(message), ensure_ascii=False, separators=(",", ":")).encode()),
    )
