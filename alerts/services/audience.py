"""An alert's audience: counted at publication (four eyes), written into Delivery rows by the kickoff task.

The audience is the one of the publication moment (`published_at`). The kickoff evaluates it once into a
temporary table of device ids, then writes one Delivery row per device in slices of ALERT_FREEZE_SLICE
devices, each slice its own transaction (`INSERT ... SELECT ... ON CONFLICT (alert, device) DO NOTHING`),
and hands each committed slice to the caller, which enqueues its batches at once: the first phones hear of a
million-device alert within seconds, not after one million-row transaction (bench/fanout.py).

Safe to run twice and to be killed at any point: `audience_frozen_through` records the last device id
written, a second run resumes after it, and a repeated INSERT writes nothing. A session advisory lock keeps
two kickoffs from writing the same audience at once; it goes with the connection of a kickoff that dies. The
alert row is never locked while rows are written (a cancel does not wait); a cancel or an expiry that
commits meanwhile is seen between slices and after the last one, and the rows written are closed.

The temporary table and the advisory lock belong to the database session: behind a connection pooler the
workers need session pooling (PgBouncer `pool_mode = session`), not transaction pooling.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from alerts.models import Alert, AlertStatus, Delivery, DeliveryStatus
from alerts.services.common import close_open_deliveries
from travelers.selectors import audience_devices
from travelers.selectors import audience_size_upto as travelers_audience_size_upto

logger = logging.getLogger("alerts")

# The advisory lock (class, alert id) held by the kickoff that writes an alert's audience.
FREEZE_LOCK_CLASS = 0x616C
_TABLE = Delivery._meta.db_table


def audience_of(alert: Alert, at: datetime):
    return audience_devices(country_code=str(alert.country_id), cities=alert.cities or None, at=at)


def audience_size_upto(*, alert: Alert, at: datetime, limit: int) -> int:
    """min(audience size, limit): enough for the four-eyes rule (more than the threshold?) and for "nobody to
    reach", in time bounded by `limit` however large the audience."""
    return travelers_audience_size_upto(
        country_code=str(alert.country_id), cities=alert.cities or None, at=at, limit=limit
    )


def _lock(alert_id: int, *, session: bool) -> bool:
    """Take the alert's freeze lock without waiting: for this session (released by `_unlock`, or when the
    connection closes), or for the current transaction. False if someone else holds it."""
    if connection.vendor != "postgresql":  # development on SQLite: one process, nothing to exclude
        return True
    function = "pg_try_advisory_lock" if session else "pg_try_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", [FREEZE_LOCK_CLASS, alert_id])
        return bool(cursor.fetchone()[0])


def _unlock(alert_id: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [FREEZE_LOCK_CLASS, alert_id])


def audience_freeze_running(*, alert_id: int) -> bool:
    """Is a kickoff writing this alert's audience right now? (For the sweeper: do not start a second one.)"""
    with transaction.atomic():
        return not _lock(alert_id, session=False)


def alert_audience_freeze(*, alert_id: int, on_slice: Callable[[], None] | None = None) -> bool:
    """Write the audience of the alert's publication moment into Delivery rows, once; `on_slice()` is called
    after each slice commits. True when the audience is written (now or by an earlier run); False when the
    alert is no longer sending, or another kickoff is writing it at this moment (that one enqueues)."""
    if not _lock(alert_id, session=True):
        return False
    try:
        return _freeze(alert_id, on_slice)
    finally:
        _unlock(alert_id)


def _still_sending(alert_id: int) -> bool:
    status = Alert.objects.filter(pk=alert_id).values_list("status", flat=True).first()
    if status != AlertStatus.SENDING:
        close_open_deliveries(alert_ids=[alert_id], reason=f"alert {status}")
        return False
    return True


def _freeze(alert_id: int, on_slice: Callable[[], None] | None) -> bool:
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None or alert.status != AlertStatus.SENDING:
        return False
    if alert.audience_frozen_at is not None:
        return True
    after = alert.audience_frozen_through or 0
    table = f"alert_audience_{int(alert_id)}"
    assert alert.published_at is not None, "the audience is frozen at publication"  # noqa: S101
    audience_sql, params = audience_of(alert, alert.published_at).values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {table} AS SELECT audience.id FROM ({audience_sql}) AS audience "  # noqa: S608 — SQL compiled by Django
            "WHERE audience.id > %s",
            [*params, after],
        )
        cursor.execute(f"CREATE INDEX {table}_id ON {table} (id)")
    try:
        while (last := _write_slice(alert_id=alert_id, table=table, after=after)) is not None:
            after = last
            if not _still_sending(alert_id):
                return False
            if on_slice is not None:
                on_slice()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
    counts = Delivery.objects.filter(alert_id=alert_id).aggregate(
        devices=Count("id"), travelers=Count("device__traveler", distinct=True)
    )
    Alert.objects.filter(pk=alert_id, audience_frozen_at__isnull=True).update(
        audience_devices=counts["devices"], audience_travelers=counts["travelers"], audience_frozen_at=timezone.now()
    )
    if not _still_sending(alert_id):
        return False
    logger.info("alert %s: audience written, %s devices", alert_id, counts["devices"])
    return True


@transaction.atomic
def _write_slice(*, alert_id: int, table: str, after: int) -> int | None:
    """The Delivery rows of the next ALERT_FREEZE_SLICE audience devices above device id `after`, and the
    resume point, in one transaction. Returns the last device id written (None: nothing left)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT max(id) FROM (SELECT id FROM {table} WHERE id > %s ORDER BY id LIMIT %s) AS slice",  # noqa: S608 — fixed SQL
            [after, int(settings.ALERT_FREEZE_SLICE)],
        )
        last = cursor.fetchone()[0]
        if last is None:
            return None
        cursor.execute(
            f"INSERT INTO {_TABLE} (alert_id, device_id, status, attempts, last_error) "  # noqa: S608 — names from _meta
            f"SELECT %s, id, %s, 0, '' FROM {table} WHERE id > %s AND id <= %s "
            "ON CONFLICT (alert_id, device_id) DO NOTHING",
            [alert_id, DeliveryStatus.PENDING, after, last],
        )
    Alert.objects.filter(pk=alert_id).update(audience_frozen_through=last)
    return int(last)
