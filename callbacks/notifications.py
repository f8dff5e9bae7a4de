"""Push notices to the traveler when a diplomat takes their call-back request and when it is closed."""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from callbacks.models import Status
from travelers.models import Device
from travelers.push import PushMessage, PushStatus, get_backend

logger = logging.getLogger(__name__)

PUSH_TEXTS = {
    Status.IN_PROGRESS: (
        gettext_lazy("A diplomat is calling you"),
        gettext_lazy("A diplomat has taken your call-back request and will call you shortly."),
    ),
    Status.COMPLETED: (
        gettext_lazy("Call-back request closed"),
        gettext_lazy("Your call-back request has been completed."),
    ),
    Status.UNREACHABLE: (
        gettext_lazy("We could not reach you"),
        gettext_lazy("A diplomat called you several times without an answer. You can send a new request in the app."),
    ),
    Status.EXPIRED: (
        gettext_lazy("Call-back request expired"),
        gettext_lazy("Your request waited too long and was closed. If you still need help, send a new request."),
    ),
}


# A "taken" notice is pointless once the call has happened; a closing notice can wait for a phone that is off.
PUSH_TTL = {Status.IN_PROGRESS: dt.timedelta(hours=1)}
DEFAULT_PUSH_TTL = dt.timedelta(days=1)


def callback_push_status(*, request_ids: list[int], status: str) -> list[int]:
    """Tell the travelers of these requests, on each of their active devices, that the request changed.

    The payload carries the request id, its status and a generic text in the device's language: no name,
    phone, place or message (push providers are foreign processors). The collapse id is per request, so a
    repeated or superseded notice replaces the earlier one on the phone. Returns the request ids whose
    delivery should be retried (the provider asked to). Dead tokens deactivate their device, unless the
    device registered again after the provider learnt the token was dead (APNs `invalid_since`).
    """
    title, body = PUSH_TEXTS[status]
    devices = list(
        Device.objects.filter(traveler__callback_requests__id__in=request_ids, is_active=True).values_list(
            "id", "platform", "token", "locale", "last_seen_at", "traveler__callback_requests__id"
        )
    )
    if not devices:
        return []
    expires_at = timezone.now() + PUSH_TTL.get(status, DEFAULT_PUSH_TTL)
    messages = []
    for _device_id, platform, token, locale, _seen, request_id in devices:
        with translation.override(locale):
            messages.append(
                PushMessage(
                    platform=platform,
                    token=token,
                    collapse_id=f"callback-{request_id}",
                    title=str(title),
                    body=str(body),
                    data={"type": "callback", "callback_id": str(request_id), "status": str(status)},
                    expires_at=expires_at,
                )
            )
    results = get_backend().send_batch(messages)
    dead, retry = [], set()
    for (device_id, _platform, _token, _locale, seen, request_id), result in zip(devices, results, strict=True):
        if result.status == PushStatus.INVALID_TOKEN:
            if result.invalid_since is None or seen < result.invalid_since:
                dead.append(device_id)
        elif result.status == PushStatus.RETRY:
            retry.add(request_id)
        elif result.status == PushStatus.FAILED:
            logger.warning("call-back push to device %s failed: %s", device_id, result.error)
    if dead:
        Device.objects.filter(pk__in=dead, is_active=True).update(
            is_active=False, deactivated_reason="push provider: token unregistered or invalid"
        )
    return sorted(retry)
