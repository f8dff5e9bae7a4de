"""Push notices to the traveler when a diplomat takes their call-back request and when it is closed.

The request row is the outbox: the service that takes or closes a request sets `push_pending` in the same
statement, and `callback_notices_send` (the `send_notices` task: kicked after the commit, and a periodic
sweep) pushes whatever is pending. Nothing is lost when the broker or a worker is down, and a surge of
claims costs one task per second per process, not one per claim.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from callbacks.models import CallbackRequest, Status
from core.push import PushMessage, PushStatus, get_backend
from travelers.models import Device
from travelers.services import device_token_is_dead, devices_deactivate_dead

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
BATCH = 500


def _changed_at(request: Mapping[str, Any]) -> dt.datetime | None:
    return request["claimed_at"] if request["push_pending"] == Status.IN_PROGRESS else request["closed_at"]


def _fresh(request: Mapping[str, Any], now: dt.datetime) -> bool:
    changed = _changed_at(request)
    return changed is not None and now - changed < PUSH_TTL.get(request["push_pending"], DEFAULT_PUSH_TTL)


def callback_notices_send(*, batch_size: int = BATCH) -> int:
    """Push every pending notice (`push_pending`) to the traveler's active devices; returns how many were sent.

    The payload carries the request id, its status and a generic text in the device's language: no name,
    phone, place or message (push providers are foreign processors). The collapse id is per request, so a
    repeated or superseded notice replaces the earlier one on the phone, which makes sending twice harmless.
    A notice is cleared once sent, unless the request changed again meanwhile; one the provider asked to
    retry stays pending for the next sweep; one older than its time to live is dropped. Dead tokens
    deactivate their device, unless it registered again after the provider learnt the token was dead
    (APNs `invalid_since`).
    """
    sent = 0
    after = 0
    now = timezone.now()
    while True:
        pending = list(
            CallbackRequest.objects.exclude(push_pending="")
            .filter(id__gt=after)
            .order_by("id")
            .values("id", "traveler_id", "push_pending", "claimed_at", "closed_at")[:batch_size]
        )
        if not pending:
            return sent
        after = pending[-1]["id"]
        live = [request for request in pending if _fresh(request, now)]
        retry = _send(live)
        sent += len(live) - len(retry)
        done: dict[str, list[int]] = {}
        for request in pending:
            if request["id"] not in retry:
                done.setdefault(request["push_pending"], []).append(request["id"])
        for status, ids in done.items():  # only if unchanged since it was read
            CallbackRequest.objects.filter(pk__in=ids, push_pending=status).update(push_pending="")
        if len(pending) < batch_size:
            return sent


def _send(requests: Sequence[Mapping[str, Any]]) -> set[int]:
    """One batch to the push backend; returns the ids of the requests to try again."""
    by_traveler: dict = {}
    for request in requests:
        by_traveler.setdefault(request["traveler_id"], []).append(request)
    devices = list(
        Device.objects.filter(traveler_id__in=by_traveler, is_active=True).values_list(
            "id", "traveler_id", "platform", "token", "locale", "last_seen_at"
        )
    )
    targets, messages = [], []
    for device_id, traveler_id, platform, token, locale, seen in devices:
        for request in by_traveler[traveler_id]:
            status = request["push_pending"]
            title, body = PUSH_TEXTS[status]
            changed = _changed_at(request)  # never None: only fresh requests are sent
            with translation.override(locale):
                messages.append(
                    PushMessage(
                        platform=platform,
                        token=token,
                        collapse_id=f"callback-{request['id']}",
                        title=str(title),
                        body=str(body),
                        data={"type": "callback", "callback_id": str(request["id"]), "status": str(status)},
                        expires_at=changed + PUSH_TTL.get(status, DEFAULT_PUSH_TTL) if changed else None,
                    )
                )
            targets.append((device_id, seen, request["id"]))
    if not messages:
        return set()
    results = get_backend().send_batch(messages)
    dead, retry = [], set()
    for (device_id, seen, request_id), result in zip(targets, results, strict=True):
        if device_token_is_dead(result=result, last_seen_at=seen):
            dead.append(device_id)
        elif result.status == PushStatus.RETRY:
            retry.add(request_id)
        elif result.status == PushStatus.FAILED:
            logger.warning("call-back push to device %s failed: %s", device_id, result.error)
    devices_deactivate_dead(device_ids=dead)
    return retry
