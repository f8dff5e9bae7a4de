"""The sweeper (finds work the queue lost) and the self-check (finds alerts that are not getting out).

The broker is a transport, not the record: a worker killed mid-batch, a message lost with a Redis restart, a
crash between the publish commit and the enqueue, a retry whose delayed message vanished all leave rows in
PostgreSQL that say so. The sweeper runs every minute and re-enqueues that work within
ALERT_SWEEP_GRACE_SECONDS (+ the lease for rows a dead task held), instead of Redis's visibility timeout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from alerts.models import OPEN_DELIVERY_STATUSES, Alert, AlertStatus, Delivery, DeliveryStatus
from alerts.services.audience import audience_freeze_running
from alerts.services.common import FANOUT_START
from alerts.services.fanout import delivery_ranges, enqueue_ranges
from core.queue import enqueue

logger = logging.getLogger("alerts.sweep")


@dataclass
class SweepReport:
    kickoffs: list[int] = field(default_factory=list)
    requeued: dict[int, int] = field(default_factory=dict)  # alert id -> ranges enqueued
    released: int = 0
    gave_up: int = 0
    completed: list[int] = field(default_factory=list)
    broker_down: bool = False


def _open_deliveries() -> QuerySet[Delivery]:
    return Delivery.objects.filter(alert_id=OuterRef("pk"), status__in=OPEN_DELIVERY_STATUSES)


def alerts_sweep(*, now: datetime | None = None) -> SweepReport:
    now = now or timezone.now()
    grace = timedelta(seconds=settings.ALERT_SWEEP_GRACE_SECONDS)
    report = SweepReport()
    sending = Alert.objects.filter(status=AlertStatus.SENDING)

    # 1. Published but the kickoff never ran (the broker was down at publish, or the process died between
    #    the commit and the enqueue), or died before it finished writing the audience (a new kickoff resumes
    #    after the last slice written). One still writing a large audience holds the freeze lock: left alone.
    unstarted = Q(fanout_started_at__isnull=True) | Q(audience_frozen_at__isnull=True)
    for alert_id in sending.filter(unstarted, published_at__lte=now - grace).values_list("pk", flat=True)[:100]:
        if audience_freeze_running(alert_id=alert_id):
            continue
        if not enqueue(FANOUT_START, alert_id):
            report.broker_down = True
            return report
        report.kickoffs.append(alert_id)

    # 2. Rows a task kept taking and losing (a delivery that kills its worker): give up on them.
    report.gave_up = (
        Delivery.objects.filter(
            alert__status=AlertStatus.SENDING,
            status__in=OPEN_DELIVERY_STATUSES,
            attempts__gte=settings.ALERT_MAX_ATTEMPTS,
        )
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .update(
            status=DeliveryStatus.FAILED,
            leased_until=None,
            last_error="gave up: the batch holding it was lost repeatedly",
        )
    )

    # 3. Per alert in flight: release leases that ran out (their task died) and retries long overdue (their
    #    delayed message was lost); if anything was released or the alert made no progress for the grace
    #    period, enqueue the ranges of everything claimable. The heartbeat is bumped so that one lost
    #    message costs one re-enqueue, not one per sweep.
    for alert_id, last_progress in sending.filter(fanout_started_at__isnull=False).values_list(
        "pk", "last_progress_at"
    ):
        # Never a row whose lease still runs: a batch is sending it right now.
        released = (
            Delivery.objects.filter(alert_id=alert_id, status__in=OPEN_DELIVERY_STATUSES)
            .filter(Q(leased_until__lt=now) | Q(leased_until__isnull=True, next_attempt_at__lt=now - grace))
            .update(leased_until=None, next_attempt_at=None)
        )
        report.released += released
        stalled = last_progress is None or last_progress < now - grace
        if not (released or stalled):
            continue
        ranges = delivery_ranges(alert_id=alert_id, claimable_at=now)
        if not ranges:
            continue
        try:
            enqueue_ranges(alert_id=alert_id, ranges=ranges)
        except Exception:  # the broker is down: the next sweep tries again
            logger.warning("sweep: broker unreachable; alert %s waits for the next sweep", alert_id, exc_info=True)
            report.broker_down = True
            return report
        Alert.objects.filter(pk=alert_id).update(last_progress_at=now)
        report.requeued[alert_id] = len(ranges)
        logger.warning("sweep: alert %s had lost work; %s ranges enqueued again", alert_id, len(ranges))

    # 4. Finished but never marked (the last batch died after recording its outcomes). Only alerts whose
    #    audience is written: before that, no open delivery means nothing yet, not done.
    finished = sending.filter(audience_frozen_at__isnull=False).filter(~Exists(_open_deliveries()))
    report.completed = list(finished.values_list("pk", flat=True))
    if report.completed:
        Alert.objects.filter(pk__in=report.completed, status=AlertStatus.SENDING).update(
            status=AlertStatus.SENT, completed_at=now
        )
    return report


def stuck_alerts(*, now: datetime | None = None) -> QuerySet[Alert]:
    """Alerts that should be out by now: sending for longer than ALERT_STUCK_MINUTES with deliveries still
    pending (or their audience not even written), or scheduled that long ago and not yet sent (is the
    scheduler running?)."""
    now = now or timezone.now()
    limit = now - timedelta(minutes=settings.ALERT_STUCK_MINUTES)
    return Alert.objects.filter(
        (
            Q(status=AlertStatus.SENDING, published_at__lte=limit)
            & (Q(Exists(_open_deliveries())) | Q(audience_frozen_at__isnull=True))
        )
        | Q(status=AlertStatus.SCHEDULED, publish_at__lte=limit)
    )


def alert_self_check(*, now: datetime | None = None) -> list[int]:
    """Flag (and log as an error, for paging) the stuck alerts; clear the flag of those that recovered."""
    now = now or timezone.now()
    stuck = list(stuck_alerts(now=now).values_list("pk", flat=True))
    Alert.objects.filter(pk__in=stuck, stuck_since__isnull=True).update(stuck_since=now)
    Alert.objects.filter(stuck_since__isnull=False).exclude(pk__in=stuck).update(stuck_since=None)
    if stuck:
        logger.error("self-check: %s alert(s) stuck with deliveries pending: %s", len(stuck), stuck)
    return stuck


def alerts_health_check() -> tuple[str, bool, dict]:
    """For /healthz: ("alerts", ok, details)."""
    stuck = list(stuck_alerts().values_list("pk", flat=True)[:20])
    return "alerts", not stuck, {"stuck": len(stuck), "stuck_alert_ids": stuck}
