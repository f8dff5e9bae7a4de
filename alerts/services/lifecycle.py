"""An alert's life after the draft: publish (now or scheduled), freeze the audience, cancel, expire.

    draft --publish--> scheduled --(publish_at)--> sending --(no open delivery left)--> sent
      |                    |                          |                                  |
      +------cancel--------+--------cancel------------+-------------cancel---------------+--> cancelled
                           +-------(expires_at)-------+-----------(expires_at)-----------+--> expired

Publishing commits the alert as sending, its audience moment being `published_at`, and only then, after the
commit, asks the broker to start the fan-out. The kickoff task writes the audience of that moment into one
Delivery row per device (`alert_audience_freeze`: one INSERT ... SELECT ... ON CONFLICT DO NOTHING, so running
it twice inserts nothing twice) and enqueues the batches. A staff request therefore costs the same for ten
devices or a million. A broker outage, or a kickoff lost before or during the freeze, costs nothing but time:
the sweeper starts it again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alerts.models import OPEN_DELIVERY_STATUSES, PUBLISHED_STATUSES, Alert, AlertStatus, Delivery, DeliveryStatus
from alerts.services.common import (
    enqueue_on_commit,
    ensure_country_allowed,
    invalid_status,
    invalidate_country_packs,
    lock_alert,
)
from alerts.services.compose import alert_validate, approval_required
from core.exceptions import ApplicationError
from travelers.selectors import audience_devices

logger = logging.getLogger("alerts")

CANCELLABLE = (AlertStatus.DRAFT, AlertStatus.SCHEDULED, AlertStatus.SENDING, AlertStatus.SENT)


def _fanout_task():
    from alerts import tasks  # tasks import the services; the services only need the task object at run time

    return tasks.fanout_start


# The advisory lock (class, alert id) held by the transaction that writes an alert's audience.
FREEZE_LOCK_CLASS = 0x616C


def _audience(alert: Alert, at: datetime):
    return audience_devices(country_code=str(alert.country_id), cities=alert.cities or None, at=at)


def _audience_size_upto(*, alert: Alert, at: datetime, limit: int) -> int:
    """min(audience size, limit): enough for the four-eyes rule (more than the threshold?) and for "nobody to
    reach", in time bounded by `limit` however large the audience (COUNT over a LIMITed subquery)."""
    return _audience(alert, at).values("id")[:limit].count()


def _freeze_audience(*, alert: Alert, at: datetime) -> int:
    """One Delivery row per audience device, written by the database itself in one statement."""
    audience_sql, audience_params = _audience(alert, at).values("id").query.sql_with_params()
    table = Delivery._meta.db_table
    # `WHERE true` lets SQLite parse ON CONFLICT after INSERT ... SELECT; PostgreSQL does not mind it.
    sql = (
        f"INSERT INTO {table} (alert_id, device_id, status, attempts, last_error) "  # noqa: S608 — names from _meta, SQL compiled by Django
        f"SELECT %s, audience.id, %s, 0, '' FROM ({audience_sql}) AS audience WHERE true "
        f"ON CONFLICT (alert_id, device_id) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [alert.pk, DeliveryStatus.PENDING, *audience_params])
        return max(cursor.rowcount, 0)


def _try_freeze_lock(alert_id: int) -> bool:
    """Take the alert's freeze lock for the rest of the transaction, without waiting: False if another
    transaction (a kickoff writing the audience) holds it. A dead kickoff's lock goes with its connection."""
    if connection.vendor != "postgresql":  # development on SQLite: one process, nothing to exclude
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [FREEZE_LOCK_CLASS, alert_id])
        return bool(cursor.fetchone()[0])


def audience_freeze_running(*, alert_id: int) -> bool:
    """Is a kickoff writing this alert's audience right now? (For the sweeper: do not start a second one.)"""
    with transaction.atomic():
        return not _try_freeze_lock(alert_id)


def alert_audience_freeze(*, alert_id: int) -> bool:
    """Write the audience of the alert's publication moment into Delivery rows, once. Called by the kickoff
    task. True when the audience is written (now or by an earlier run); False when the alert is no longer
    sending, or another kickoff is writing it at this moment (that one goes on to enqueue the batches).

    Safe to run twice and to be killed at any point: the rows and the alert's `audience_frozen_at` commit
    together, and ON CONFLICT DO NOTHING makes a repeated INSERT a no-op. The alert row is not locked while
    the rows are written (a cancel does not wait for a million-row insert); a cancel or an expiry that
    committed meanwhile did not see the new rows, so they are closed here once they are committed."""
    with transaction.atomic():
        if not _try_freeze_lock(alert_id):
            return False
        alert = Alert.objects.filter(pk=alert_id).first()
        if alert is None or alert.status != AlertStatus.SENDING:
            return False
        if alert.audience_frozen_at is not None:
            return True
        devices = _freeze_audience(alert=alert, at=alert.published_at)
        travelers = Delivery.objects.filter(alert_id=alert_id, device__traveler__isnull=False).aggregate(
            travelers=Count("device__traveler", distinct=True)
        )["travelers"]
        Alert.objects.filter(pk=alert_id, audience_frozen_at__isnull=True).update(
            audience_devices=devices, audience_travelers=travelers, audience_frozen_at=timezone.now()
        )
    status = Alert.objects.filter(pk=alert_id).values_list("status", flat=True).first()
    if status != AlertStatus.SENDING:
        _close_open_deliveries(alert_ids=[alert_id], reason=f"alert {status}")
        return False
    logger.info("alert %s: audience written, %s devices", alert_id, devices)
    return True


def _close_open_deliveries(*, alert_ids: list[int], reason: str) -> int:
    """Deliveries not yet sent will never be: final status failed, with the reason."""
    return Delivery.objects.filter(alert_id__in=alert_ids, status__in=OPEN_DELIVERY_STATUSES).update(
        status=DeliveryStatus.FAILED, last_error=reason, leased_until=None, next_attempt_at=None
    )


def _approval_missing() -> ApplicationError:
    return ApplicationError(
        _("This alert needs the approval of a second staff member before it is published."),
        code="approval_required",
        status_code=409,
    )


def _approval_check(*, alert: Alert, at: datetime) -> int:
    """Four eyes, exact, counted at the publication moment (stopping past the threshold). Returns the count
    (0: nobody to reach)."""
    size = _audience_size_upto(alert=alert, at=at, limit=settings.ALERT_APPROVAL_THRESHOLD + 1)
    if approval_required(alert=alert, audience=size) and alert.approver_id is None:
        raise _approval_missing()
    return size


def _start_sending(*, alert: Alert, now: datetime) -> None:
    """Commit the alert as sending from `now` (its audience moment) and hand it to the kickoff task after the
    commit, which writes the audience into Delivery rows. `alert` is locked. An alert with nobody to reach
    is sent at once."""
    reachable = _approval_check(alert=alert, at=now)
    alert.status = AlertStatus.SENDING
    alert.published_at = alert.last_progress_at = now
    if reachable == 0:
        alert.status, alert.completed_at, alert.audience_frozen_at = AlertStatus.SENT, now, now
        alert.audience_devices = alert.audience_travelers = 0
    alert.save()
    codes = [alert.country_id]
    if alert.supersedes_id:
        original = lock_alert(alert.supersedes_id)
        if original.status in PUBLISHED_STATUSES:
            original.status, original.cancelled_at, original.cancelled_by_id = (
                AlertStatus.CANCELLED,
                now,
                alert.publisher_id,
            )
            original.save(update_fields=["status", "cancelled_at", "cancelled_by", "updated_at"])
            _close_open_deliveries(alert_ids=[original.pk], reason=f"superseded by alert {alert.pk}")
            codes.append(original.country_id)
    invalidate_country_packs(codes)
    if alert.status == AlertStatus.SENDING:
        enqueue_on_commit(_fanout_task(), alert.pk)
    logger.info("alert %s: published, %s", alert.pk, "sending" if reachable else "nobody to reach")


@transaction.atomic
def alert_publish(*, alert: Alert, user) -> Alert:
    """Publish a draft now, or schedule it for its `publish_at`. Staff publish only in their missions'
    countries; an emergency or a large audience needs an approval by a second staff member first."""
    alert = lock_alert(alert.pk)
    ensure_country_allowed(user=user, country_code=str(alert.country_id))
    if alert.status != AlertStatus.DRAFT:
        raise invalid_status(alert, _("published"))
    alert_validate(alert=alert, user=user)
    now = timezone.now()
    alert.publisher = user
    if alert.publish_at is not None and alert.publish_at > now:
        _approval_check(alert=alert, at=now)
        alert.status = AlertStatus.SCHEDULED
        alert.save(update_fields=["status", "publisher", "updated_at"])
        return alert
    _start_sending(alert=alert, now=now)
    return alert


def alert_publish_due(*, now: datetime | None = None, limit: int = 50) -> list[int]:
    """Send the scheduled alerts whose time has come. Each alert in its own transaction; safe to run twice."""
    now = now or timezone.now()
    started = []
    due = Alert.objects.filter(status=AlertStatus.SCHEDULED, publish_at__lte=now).values_list("pk", flat=True)
    for alert_id in list(due[:limit]):
        with transaction.atomic():
            alert = (
                Alert.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk=alert_id, status=AlertStatus.SCHEDULED)
                .first()
            )
            if alert is None:
                continue
            if alert.expires_at is not None and alert.expires_at <= now:
                alert.status = AlertStatus.EXPIRED
                alert.save(update_fields=["status", "updated_at"])
                continue
            try:
                with transaction.atomic():
                    _start_sending(alert=alert, now=now)
            except ApplicationError as exc:
                if exc.code != "approval_required":
                    raise
                # The audience grew past the threshold since it was scheduled: four eyes still apply.
                logger.warning("scheduled alert %s now needs an approval; back to draft", alert_id)
                alert.status, alert.publisher = AlertStatus.DRAFT, None
                alert.save(update_fields=["status", "publisher", "updated_at"])
                continue
            started.append(alert_id)
    return started


@transaction.atomic
def alert_cancel(*, alert: Alert, user) -> Alert:
    """Stop an alert: nothing more is sent, and it leaves the country's current alerts."""
    alert = lock_alert(alert.pk)
    ensure_country_allowed(user=user, country_code=str(alert.country_id))
    if alert.status not in CANCELLABLE:
        raise invalid_status(alert, _("cancelled"))
    was_public = alert.status in PUBLISHED_STATUSES
    alert.status, alert.cancelled_by, alert.cancelled_at = AlertStatus.CANCELLED, user, timezone.now()
    alert.save(update_fields=["status", "cancelled_by", "cancelled_at", "updated_at"])
    _close_open_deliveries(alert_ids=[alert.pk], reason="alert cancelled")
    if was_public:
        invalidate_country_packs([alert.country_id])
    return alert


@transaction.atomic
def alert_expire_due(*, now: datetime | None = None) -> list[int]:
    """Alerts past their expiry time leave the current alerts; their unsent deliveries are dropped."""
    now = now or timezone.now()
    rows = list(
        Alert.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(Q(status__in=[*PUBLISHED_STATUSES, AlertStatus.SCHEDULED]), expires_at__lte=now)
        .values_list("pk", "country_id", "status")[:500]
    )
    if not rows:
        return []
    ids = [pk for pk, _country, _status in rows]
    Alert.objects.filter(pk__in=ids).update(status=AlertStatus.EXPIRED, updated_at=now)
    _close_open_deliveries(alert_ids=ids, reason="alert expired")
    invalidate_country_packs(country for _pk, country, status in rows if status in PUBLISHED_STATUSES)
    return ids
