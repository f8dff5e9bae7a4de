"""An alert's life after the draft: publish (now or scheduled), freeze the audience, cancel, expire.

    draft --publish--> scheduled --(publish_at)--> sending --(no open delivery left)--> sent
      |                    |                          |                                  |
      +------cancel--------+--------cancel------------+-------------cancel---------------+--> cancelled
                           +-------(expires_at)-------+-----------(expires_at)-----------+--> expired

Publishing commits the alert and its Delivery rows in one transaction and only then, after the commit, asks
the broker to start the fan-out. A broker outage costs nothing but time: the sweeper starts it later.
"""

from __future__ import annotations

import logging
from datetime import datetime

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


def _freeze_audience(*, alert: Alert, at: datetime) -> int:
    """One Delivery row per audience device, written by the database itself in one statement."""
    audience = audience_devices(country_code=str(alert.country_id), cities=alert.cities or None, at=at).values("id")
    audience_sql, audience_params = audience.query.sql_with_params()
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


def _start_sending(*, alert: Alert, now: datetime) -> None:
    """Freeze the audience and hand the fan-out to the workers after commit. `alert` is locked.

    The four-eyes rule is checked against the frozen audience itself (one pass over the audience, not two):
    when it needs an approval that is missing, ApplicationError `approval_required` rolls the rows back."""
    devices = _freeze_audience(alert=alert, at=now)
    if approval_required(alert=alert, audience=devices) and alert.approver_id is None:
        raise _approval_missing()
    alert.status = AlertStatus.SENDING
    alert.published_at = alert.last_progress_at = now
    alert.audience_devices = devices
    alert.audience_travelers = Delivery.objects.filter(alert=alert, device__traveler__isnull=False).aggregate(
        travelers=Count("device__traveler", distinct=True)
    )["travelers"]
    if devices == 0:
        alert.status, alert.completed_at = AlertStatus.SENT, now
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
    logger.info("alert %s: sending to %s devices", alert.pk, alert.audience_devices)


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
        audience = audience_devices(country_code=str(alert.country_id), cities=alert.cities or None, at=now).count()
        if approval_required(alert=alert, audience=audience) and alert.approver_id is None:
            raise _approval_missing()
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
