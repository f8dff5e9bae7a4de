"""An alert's life after the draft: publish (now or scheduled), cancel, expire.

    draft --publish--> scheduled --(publish_at)--> sending --(no open delivery left)--> sent
      |                    |                          |                                  |
      +------cancel--------+--------cancel------------+-------------cancel---------------+--> cancelled
                           +-------(expires_at)-------+-----------(expires_at)-----------+--> expired

Publishing commits the alert as sending, its audience moment being `published_at`, and only then, after the
commit, asks the broker to start the fan-out. The kickoff task writes the audience of that moment into one
Delivery row per device (`audience.alert_audience_freeze`) and enqueues the batches. A staff request does not
write a row per device, whether the alert reaches ten devices or a million. A broker outage, or a kickoff lost
before or during the freeze, costs nothing but time: the sweeper starts it again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alerts.models import PUBLISHED_STATUSES, Alert, AlertStatus
from alerts.services.audience import audience_size_upto
from alerts.services.common import (
    FANOUT_START,
    close_open_deliveries,
    invalid_status,
    invalidate_country_packs,
    lock_alert,
)
from alerts.services.compose import alert_validate, approval_required
from core.errors import ApplicationError, ConflictError
from core.queue import enqueue_on_commit
from countries.scoping import require_mission_staff

logger = logging.getLogger("alerts")

CANCELLABLE = (AlertStatus.DRAFT, AlertStatus.SCHEDULED, AlertStatus.SENDING, AlertStatus.SENT)


def _approval_missing() -> ConflictError:
    return ConflictError(
        _("This alert needs the approval of a second staff member before it is published."),
        code="approval_required",
    )


def _approval_check(*, alert: Alert, at: datetime) -> int:
    """Four eyes, exact, counted at the publication moment (stopping past the threshold). Returns the count
    (0: nobody to reach)."""
    size = audience_size_upto(alert=alert, at=at, limit=settings.ALERT_APPROVAL_THRESHOLD + 1)
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
            close_open_deliveries(alert_ids=[original.pk], reason=f"superseded by alert {alert.pk}")
            codes.append(original.country_id)
    invalidate_country_packs(codes)
    if alert.status == AlertStatus.SENDING:
        enqueue_on_commit(FANOUT_START, alert.pk)
    logger.info("alert %s: published, %s", alert.pk, "sending" if reachable else "nobody to reach")


@transaction.atomic
def alert_publish(*, alert: Alert, user) -> Alert:
    """Publish a draft now, or schedule it for its `publish_at`. Staff publish only in their missions'
    countries; an emergency or a large audience needs an approval by a second staff member first."""
    alert = lock_alert(alert.pk)
    require_mission_staff(user=user, country=alert.country_id)
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
    require_mission_staff(user=user, country=alert.country_id)
    if alert.status not in CANCELLABLE:
        raise invalid_status(alert, _("cancelled"))
    was_public = alert.status in PUBLISHED_STATUSES
    alert.status, alert.cancelled_by, alert.cancelled_at = AlertStatus.CANCELLED, user, timezone.now()
    alert.save(update_fields=["status", "cancelled_by", "cancelled_at", "updated_at"])
    close_open_deliveries(alert_ids=[alert.pk], reason="alert cancelled")
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
    close_open_deliveries(alert_ids=ids, reason="alert expired")
    invalidate_country_packs(country for _pk, country, status in rows if status in PUBLISHED_STATUSES)
    return ids
