"""The fan-out: cut an alert's deliveries into id ranges, and send one range as a batch.

Messages carry `(alert_id, first_id, last_id)`, never lists of ids or tokens: at most N/500 + a few per alert.
A batch claims its rows with one UPDATE ... RETURNING that only takes open rows (pending, or retry whose time
has come) whose lease is free, so running a batch twice, or two at once, never sends a row twice; a row that
is sent is final and never claimed again. Outcomes are written in bulk (one UPDATE for the sent rows, one for
all the others), dead tokens deactivate their devices, transient failures wait with exponential backoff and
jitter (at least the provider's Retry-After) up to ALERT_MAX_ATTEMPTS.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.utils import timezone

from alerts.models import OPEN_DELIVERY_STATUSES, Alert, AlertStatus, Delivery, DeliveryStatus
from alerts.services.audience import alert_audience_freeze
from alerts.services.common import SEND_BATCH
from alerts.services.messages import alert_push_message, device_language
from core.push import PushResult, PushStatus, get_backend
from core.queue import enqueue, enqueue_many
from travelers.models import Device
from travelers.services import device_token_is_dead, devices_deactivate_dead

logger = logging.getLogger("alerts.fanout")

_TABLE = Delivery._meta.db_table
# A delayed message may run a little early (clocks of different hosts): it is scheduled this much late.
RETRY_MARGIN_SECONDS = 1.0
_OPEN = tuple(str(s) for s in OPEN_DELIVERY_STATUSES)


def _db(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def delivery_ranges(*, alert_id: int, claimable_at: datetime | None = None, above: int = 0) -> list[tuple[int, int]]:
    """Consecutive id ranges of at most ALERT_BATCH_SIZE open deliveries of the alert with ids above `above`
    (computed in SQL). With `claimable_at`: only rows a batch could claim at that moment (due, lease free)."""
    where = [f"alert_id = %s AND id > %s AND status IN ({', '.join(['%s'] * len(_OPEN))})"]
    params: list[Any] = [alert_id, above, *_OPEN]
    if claimable_at is not None:
        where.append(
            "(next_attempt_at IS NULL OR next_attempt_at <= %s) AND (leased_until IS NULL OR leased_until < %s)"
        )
        params += [_db(claimable_at), _db(claimable_at)]
    sql = (
        "SELECT MIN(id), MAX(id) FROM ("  # noqa: S608 — fixed SQL, values are parameters
        f"  SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1) / %s AS bucket FROM {_TABLE} WHERE {' AND '.join(where)}"
        ") AS numbered GROUP BY bucket ORDER BY bucket"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [int(settings.ALERT_BATCH_SIZE), *params])
        return [(int(lo), int(hi)) for lo, hi in cursor.fetchall()]


def enqueue_ranges(*, alert_id: int, ranges: list[tuple[int, int]]) -> None:
    """One message per range, all on one broker connection. Raises if the broker is unreachable."""
    enqueue_many(SEND_BATCH, [(alert_id, first_id, last_id) for first_id, last_id in ranges])


def alert_fanout_start(*, alert_id: int) -> int:
    """The kickoff: write the audience of the publication moment into Delivery rows (once, in slices), and
    enqueue a batch per range of open deliveries as soon as each slice is committed, so that sending starts
    while the rest of a large audience is still being written. Safe to run twice (the freeze writes nothing
    twice, a repeated range finds its rows claimed or sent). Returns the number of batches enqueued."""
    enqueued = {"through": 0, "batches": 0}  # delivery ids up to `through` have their batches enqueued

    def enqueue_new() -> None:
        ranges = delivery_ranges(alert_id=alert_id, above=enqueued["through"])
        if not ranges:
            return
        enqueue_ranges(alert_id=alert_id, ranges=ranges)
        enqueued["through"], enqueued["batches"] = ranges[-1][1], enqueued["batches"] + len(ranges)
        now = timezone.now()
        Alert.objects.filter(pk=alert_id, fanout_started_at__isnull=True).update(fanout_started_at=now)
        Alert.objects.filter(pk=alert_id).update(last_progress_at=now)

    if not alert_audience_freeze(alert_id=alert_id, on_slice=enqueue_new):
        return 0
    enqueue_new()  # written by an earlier run: everything still open
    now = timezone.now()
    Alert.objects.filter(pk=alert_id, fanout_started_at__isnull=True).update(fanout_started_at=now)
    _progress(alert_id=alert_id, now=now)  # sent already if every batch finished before the freeze did
    logger.info("alert %s: fan-out of %s batches enqueued", alert_id, enqueued["batches"])
    return enqueued["batches"]


@dataclass
class BatchReport:
    claimed: int = 0
    sent: int = 0
    retry: int = 0
    failed: int = 0
    invalid_token: int = 0
    deactivated: int = 0
    retry_ids: list[int] = field(default_factory=list)
    retry_due_at: datetime | None = None  # when every retry of this batch is due


@dataclass(frozen=True)
class _Claimed:
    delivery_id: int
    device_id: int
    attempts: int


def _claim(*, alert_id: int, first_id: int, last_id: int, now: datetime, owner: str | None) -> list[_Claimed]:
    """Take the open, due rows of the range whose lease is free, or held by this very message (redelivered
    after its worker died: same task id). One statement; concurrent claimers never get the same row."""
    lease = now + timedelta(seconds=settings.ALERT_LEASE_SECONDS)
    sql = (
        f"UPDATE {_TABLE} SET leased_until = %s, lease_owner = %s, attempts = attempts + 1, next_attempt_at = NULL "  # noqa: S608 — fixed SQL, values are parameters
        f"WHERE alert_id = %s AND id BETWEEN %s AND %s AND status IN ({', '.join(['%s'] * len(_OPEN))}) "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= %s) "
        "AND (leased_until IS NULL OR leased_until < %s OR lease_owner = %s) "
        "AND attempts < %s RETURNING id, device_id, attempts"
    )
    owner_value = Delivery._meta.get_field("lease_owner").get_db_prep_value(
        uuid.UUID(owner) if owner else None, connection
    )
    params = [
        _db(lease), owner_value, alert_id, first_id, last_id, *_OPEN, _db(now), _db(now), owner_value,
        settings.ALERT_MAX_ATTEMPTS,
    ]  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [_Claimed(*row) for row in cursor.fetchall()]


def retry_delay(*, attempts: int, retry_after: float | None) -> float:
    """Exponential backoff with equal jitter, capped, and never sooner than the provider asked."""
    base = min(float(settings.ALERT_RETRY_MAX_SECONDS), settings.ALERT_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    delay = base / 2 + random.uniform(0, base / 2)  # noqa: S311 — jitter, not cryptography
    return min(float(settings.ALERT_RETRY_MAX_SECONDS), max(delay, retry_after or 0.0))


def _classify(
    *, claimed: _Claimed, device: Device | None, result: PushResult, now: datetime, report: BatchReport
) -> Delivery | None:
    """The row to write for a non-sent outcome (None for sent). Updates `report`."""
    status = result.status
    if status == PushStatus.RETRY and claimed.attempts >= settings.ALERT_MAX_ATTEMPTS:
        report.failed += 1
        return Delivery(
            id=claimed.delivery_id,
            status=DeliveryStatus.FAILED,
            last_error=f"gave up after {claimed.attempts} attempts: {result.error}"[:200],
        )
    if status == PushStatus.RETRY:
        delay = retry_delay(attempts=claimed.attempts, retry_after=result.retry_after)
        at = now + timedelta(seconds=delay)
        report.retry += 1
        report.retry_ids.append(claimed.delivery_id)
        report.retry_due_at = max(report.retry_due_at or at, at)
        return Delivery(
            id=claimed.delivery_id, status=DeliveryStatus.RETRY, last_error=result.error[:200], next_attempt_at=at
        )
    if status == PushStatus.INVALID_TOKEN:
        last_seen_at = device.last_seen_at if device is not None else None
        if not device_token_is_dead(result=result, last_seen_at=last_seen_at):  # APNs: it registered again since
            report.failed += 1
            return Delivery(
                id=claimed.delivery_id,
                status=DeliveryStatus.FAILED,
                last_error=f"{result.error} (before the device re-registered)"[:200],
            )
        report.invalid_token += 1
        return Delivery(id=claimed.delivery_id, status=DeliveryStatus.INVALID_TOKEN, last_error=result.error[:200])
    report.failed += 1
    return Delivery(id=claimed.delivery_id, status=DeliveryStatus.FAILED, last_error=result.error[:200] or "failed")


def _record(*, sent_ids: list[int], others: list[Delivery], deactivate_ids: list[int], now: datetime) -> int:
    """Write the outcomes of one batch: at most three statements. Final statuses are never overwritten."""
    with transaction.atomic():
        open_rows = Delivery.objects.filter(status__in=OPEN_DELIVERY_STATUSES)
        if sent_ids:
            open_rows.filter(pk__in=sent_ids).update(
                status=DeliveryStatus.SENT,
                sent_at=now,
                leased_until=None,
                lease_owner=None,
                next_attempt_at=None,
                last_error="",
            )
        if others:
            for row in others:
                row.leased_until = row.lease_owner = None
            open_rows.bulk_update(others, ["status", "last_error", "next_attempt_at", "leased_until", "lease_owner"])
        deactivated = devices_deactivate_dead(device_ids=deactivate_ids)
    return deactivated


# How long before its lease runs out a batch stops trying to record its outcomes (its soft time limit is 10 s
# before the end of the lease).
RECORD_MARGIN_SECONDS = 15.0


def _record_patiently(*, claimed_at: float, **kwargs) -> int:
    """The pushes are out: losing their outcomes means sending them again. Ride out a database outage for as
    long as the rows are still ours (until shortly before the lease taken at `claimed_at`, a monotonic time,
    runs out) before giving up and leaving the rows to the sweeper."""
    deadline = claimed_at + max(5.0, settings.ALERT_LEASE_SECONDS - RECORD_MARGIN_SECONDS)
    pause = 0.5
    while True:
        try:
            return _record(**kwargs)
        except (OperationalError, InterfaceError) as exc:
            if time.monotonic() > deadline:
                raise
            logger.warning("recording outcomes failed (%s); retrying in %.1fs", exc, pause)
            connection.close()
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def _progress(*, alert_id: int, now: datetime) -> None:
    """Heartbeat for the sweeper, and `sent` once the audience is written and no open delivery is left. Runs
    after the outcomes are committed, so the last batch to commit (or the kickoff, if it finishes writing the
    audience last) always sees every other batch's outcomes."""
    open_rows = Delivery.objects.filter(alert_id=OuterRef("pk"), status__in=OPEN_DELIVERY_STATUSES)
    finished = Q(status=AlertStatus.SENDING, audience_frozen_at__isnull=False) & ~Exists(open_rows)
    Alert.objects.filter(pk=alert_id).update(
        last_progress_at=now,
        status=Case(When(finished, then=Value(AlertStatus.SENT.value)), default=F("status")),
        completed_at=Case(When(finished, then=Value(now)), default=F("completed_at")),
    )


def delivery_batch_send(*, alert_id: int, first_id: int, last_id: int, owner: str | None = None) -> BatchReport:
    """Send the open deliveries of one id range of one alert, and record what happened to each. `owner` is
    the id of the Celery message running it (its redelivery may take back the rows it had claimed)."""
    report = BatchReport()
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None or alert.status != AlertStatus.SENDING:
        return report
    now, claimed_at = timezone.now(), time.monotonic()
    claimed = _claim(alert_id=alert_id, first_id=first_id, last_id=last_id, now=now, owner=owner)
    report.claimed = len(claimed)
    if not claimed:
        return report
    devices = {
        d.pk: d
        for d in Device.objects.filter(pk__in=[c.device_id for c in claimed]).only(
            "id", "platform", "token", "locale", "is_active", "last_seen_at"
        )
    }
    to_send = [c for c in claimed if c.device_id in devices and devices[c.device_id].is_active]
    messages = [
        alert_push_message(
            alert=alert,
            language=device_language(devices[c.device_id].locale),
            platform=devices[c.device_id].platform,
            token=devices[c.device_id].token,
        )
        for c in to_send
    ]
    started = time.monotonic()
    results = get_backend().send_batch(messages) if messages else []
    send_seconds = time.monotonic() - started
    now = timezone.now()
    sent_ids, others, deactivate_ids = [], [], []
    gone = PushResult(PushStatus.INVALID_TOKEN, error="device no longer active")
    for c in claimed:
        if c.device_id not in devices or not devices[c.device_id].is_active:  # deleted or pruned since publish
            others.append(_classify(claimed=c, device=None, result=gone, now=now, report=report))
    for c, result in zip(to_send, results, strict=True):
        if result.status == PushStatus.SENT:
            sent_ids.append(c.delivery_id)
            report.sent += 1
            continue
        row = _classify(claimed=c, device=devices[c.device_id], result=result, now=now, report=report)
        assert row is not None  # only a sent outcome has no row  # noqa: S101
        others.append(row)
        if row.status == DeliveryStatus.INVALID_TOKEN:
            deactivate_ids.append(c.device_id)
    try:
        report.deactivated = _record_patiently(
            claimed_at=claimed_at, sent_ids=sent_ids, others=others, deactivate_ids=deactivate_ids, now=now
        )
        _progress(alert_id=alert_id, now=now)
    except DatabaseError:
        logger.exception(
            "alert %s [%s..%s]: outcomes not recorded; rows return after the lease", alert_id, first_id, last_id
        )
        raise
    if report.retry_ids:
        _schedule_retry(alert_id=alert_id, report=report, now=now)
    logger.info(
        "alert %s [%s..%s]: claimed %s sent %s retry %s failed %s invalid %s in %.2fs",
        alert_id,
        first_id,
        last_id,
        report.claimed,
        report.sent,
        report.retry,
        report.failed,
        report.invalid_token,
        send_seconds,
    )
    return report


def _schedule_retry(*, alert_id: int, report: BatchReport, now: datetime) -> None:
    """One delayed message for this batch's retries, due when the last of them is (a message that came early
    would find some rows not yet due and leave them waiting). If it is lost, the sweeper finds them overdue."""
    countdown = max(0.5, ((report.retry_due_at or now) - now).total_seconds()) + RETRY_MARGIN_SECONDS
    # If the broker is down, `enqueue` logs it: the sweeper re-enqueues overdue retries.
    enqueue(SEND_BATCH, alert_id, min(report.retry_ids), max(report.retry_ids), countdown=countdown, retry=False)
