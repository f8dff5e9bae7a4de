"""Data retention: what the service forgets on its own, run daily by `travelers.tasks.retention_purge`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from travelers.models import AuthToken, Device, OneTimeCode, Trip

BATCH_SIZE = 2000


@dataclass(frozen=True)
class PurgeResult:
    trips: int
    devices: int
    codes: int
    tokens: int


def _delete_in_batches(queryset: models.QuerySet) -> int:
    """Delete matching rows a batch of primary keys at a time, each batch in its own short transaction.

    Deleting through the ORM (not raw SQL) lets other apps' foreign keys to these rows (CASCADE, SET_NULL)
    take effect; batching keeps locks and memory bounded however much there is to purge.
    """
    total = 0
    while True:
        with transaction.atomic():
            pks = list(queryset.order_by().values_list("pk", flat=True)[:BATCH_SIZE])
            if not pks:
                return total
            queryset.model.objects.filter(pk__in=pks).delete()
            total += len(pks)


def retention_purge() -> PurgeResult:
    """Delete trips TRIP_RETENTION_DAYS after their last day, devices unseen for DEVICE_INACTIVE_DAYS,
    and expired sign-in codes and tokens. Safe to run at any time and any number of times."""
    now = timezone.now()
    # A trip that ended on day E is deleted on day E + TRIP_RETENTION_DAYS; a device last seen at moment S is
    # deleted from S + DEVICE_INACTIVE_DAYS on.
    ended_by = timezone.localdate(now) - timedelta(days=settings.TRIP_RETENTION_DAYS)
    trips = _delete_in_batches(Trip.objects.filter(end_date__lte=ended_by))
    devices = _delete_in_batches(
        Device.objects.filter(last_seen_at__lte=now - timedelta(days=settings.DEVICE_INACTIVE_DAYS))
    )
    # No other rows point at codes and tokens: one DELETE statement each.
    codes, _by_model = OneTimeCode.objects.filter(expires_at__lte=now).delete()
    tokens, _by_model = AuthToken.objects.filter(expires_at__lte=now).delete()
    return PurgeResult(trips=trips, devices=devices, codes=codes, tokens=tokens)
