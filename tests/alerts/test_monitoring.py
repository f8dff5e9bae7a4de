"""The sweeper finds work the broker lost; the self-check flags alerts that are not getting out."""

import datetime as dt
import time

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertStatus, Delivery, DeliveryStatus
from alerts.services import (
    alert_create,
    alert_fanout_start,
    alert_publish,
    alert_self_check,
    alerts_sweep,
    delivery_batch_send,
)
from tests.alerts.conftest import broker_unreachable, freeze_lock_held_elsewhere, publish_frozen, travelers_in

pytestmark = pytest.mark.django_db

GRACE = dt.timedelta(seconds=61)


def _publish(staff, country, *, frozen=True):
    """Published; with `frozen`, its kickoff has also written the audience into Delivery rows."""
    alert = alert_create(
        author=staff,
        country=country,
        severity="warning",
        title_ru="Гроза",
        title_en="Thunderstorm",
        text_ru="Ожидается сильная гроза.",
        text_en="A severe thunderstorm is expected.",
    )
    return publish_frozen(alert=alert, user=staff) if frozen else alert_publish(alert=alert, user=staff)


def _run_queued_batches(broker_queue):
    """Play the worker: run every queued send_batch message (and drop the queue)."""
    batches = broker_queue.tasks("alerts.tasks.send_batch")
    broker_queue.purge()
    for alert_id, first_id, last_id in batches:
        delivery_batch_send(alert_id=alert_id, first_id=first_id, last_id=last_id)
    return batches


def test_publish_with_the_broker_down_succeeds_and_the_sweeper_starts_the_fanout_later(
    staff, armenia, broker_queue, outbox, django_capture_on_commit_callbacks, caplog
):
    travelers_in(armenia, 3)
    with broker_unreachable(), django_capture_on_commit_callbacks(execute=True):
        started = time.monotonic()
        alert = _publish(staff, armenia, frozen=False)
        elapsed = time.monotonic() - started
    assert elapsed < 2
    assert "could not enqueue alerts.tasks.fanout_start" in caplog.text  # it tried, and the publish stood
    alert.refresh_from_db()
    assert alert.status == AlertStatus.SENDING
    assert alert.fanout_started_at is None
    assert not Delivery.objects.filter(alert=alert).exists()  # the kickoff writes the audience
    assert broker_queue.messages() == []

    assert alerts_sweep().kickoffs == []  # within the grace period the kickoff may still be on its way
    report = alerts_sweep(now=timezone.now() + GRACE)
    assert report.kickoffs == [alert.pk]
    assert broker_queue.tasks("alerts.tasks.fanout_start") == [[alert.pk]]

    broker_queue.purge()
    alert_fanout_start(alert_id=alert.pk)
    assert Delivery.objects.filter(alert=alert).count() == 3
    _run_queued_batches(broker_queue)
    assert len(outbox) == 3
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.SENT


def test_a_kickoff_lost_during_the_freeze_is_started_again_unless_a_freeze_is_still_running(
    staff, armenia, broker_queue, outbox
):
    """The kickoff died while writing the audience: its transaction rolled back (no rows, nothing marked),
    exactly as if it had never run. The sweeper starts it again after the grace period, but not while
    another kickoff still holds the freeze lock (a large audience being written)."""
    travelers_in(armenia, 3)
    alert = _publish(staff, armenia, frozen=False)
    later = timezone.now() + GRACE
    with freeze_lock_held_elsewhere(alert.pk):
        assert alerts_sweep(now=later).kickoffs == []
        assert alerts_sweep(now=later).completed == []  # no open delivery yet does not mean done
    assert broker_queue.messages() == []
    assert alerts_sweep(now=later).kickoffs == [alert.pk]
    assert broker_queue.tasks("alerts.tasks.fanout_start") == [[alert.pk]]
    broker_queue.purge()
    alert_fanout_start(alert_id=alert.pk)
    _run_queued_batches(broker_queue)
    assert len(outbox) == 3
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.SENT


def test_a_kickoff_that_died_between_slices_is_started_again_and_resumes(settings, staff, armenia, broker_queue):
    settings.ALERT_FREEZE_SLICE = 2
    travelers_in(armenia, 5)
    alert = _publish(staff, armenia, frozen=False)
    alert_fanout_start(alert_id=alert.pk)  # runs to the end; then pretend it had died after the first slice
    first_slice = Delivery.objects.filter(alert=alert).order_by("device_id")[:2]
    through = max(d.device_id for d in first_slice)
    Delivery.objects.filter(alert=alert, device_id__gt=through).delete()
    Alert.objects.filter(pk=alert.pk).update(audience_frozen_at=None, audience_frozen_through=through)
    broker_queue.purge()

    report = alerts_sweep(now=timezone.now() + GRACE)
    assert report.kickoffs == [alert.pk]
    assert report.completed == []
    broker_queue.purge()
    alert_fanout_start(alert_id=alert.pk)
    assert Delivery.objects.filter(alert=alert).count() == 5
    assert Alert.objects.get(pk=alert.pk).audience_devices == 5


def test_self_check_flags_an_alert_whose_audience_was_never_written(staff, armenia):
    travelers_in(armenia, 1)
    alert = _publish(staff, armenia, frozen=False)
    assert alert_self_check() == []
    assert alert_self_check(now=timezone.now() + dt.timedelta(minutes=11)) == [alert.pk]


def test_sweep_with_the_broker_down_reports_it_and_does_not_fail(staff, armenia, broker_queue):
    travelers_in(armenia, 1)
    alert = _publish(staff, armenia)
    with broker_unreachable():
        report = alerts_sweep(now=timezone.now() + GRACE)
    assert report.broker_down
    assert Alert.objects.get(pk=alert.pk).fanout_started_at is None


def test_rows_of_a_killed_batch_are_enqueued_again_once_their_lease_runs_out(
    settings, staff, armenia, broker_queue, outbox
):
    settings.ALERT_BATCH_SIZE = 2
    travelers_in(armenia, 5)
    alert = _publish(staff, armenia)
    alert_fanout_start(alert_id=alert.pk)
    batches = broker_queue.tasks("alerts.tasks.send_batch")
    broker_queue.purge()
    assert len(batches) == 3
    # The worker took the first batch, claimed its rows, and died; the others ran fine.
    killed = batches[0]
    Delivery.objects.filter(alert=alert, id__range=killed[1:]).update(
        leased_until=timezone.now() + dt.timedelta(seconds=settings.ALERT_LEASE_SECONDS), attempts=1
    )
    for alert_id, first_id, last_id in batches[1:]:
        delivery_batch_send(alert_id=alert_id, first_id=first_id, last_id=last_id)
    assert len(outbox) == 3

    assert alerts_sweep().requeued == {}  # the lease still runs
    later = timezone.now() + dt.timedelta(seconds=settings.ALERT_LEASE_SECONDS + 1)
    report = alerts_sweep(now=later)
    assert report.requeued == {alert.pk: 1}
    assert report.released == 2
    assert broker_queue.tasks("alerts.tasks.send_batch") == [killed]
    assert alerts_sweep(now=later).requeued == {}  # one lost message costs one re-enqueue, not one per sweep

    _run_queued_batches(broker_queue)
    assert len(outbox) == 5
    assert len({m.token for m in outbox}) == 5
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.SENT


def test_lost_messages_of_a_stalled_alert_are_enqueued_again(staff, armenia, broker_queue, outbox):
    travelers_in(armenia, 3)
    alert = _publish(staff, armenia)
    alert_fanout_start(alert_id=alert.pk)
    broker_queue.purge()  # Redis restarted: the batch messages are gone
    assert alerts_sweep().requeued == {}  # the alert made progress a moment ago
    report = alerts_sweep(now=timezone.now() + GRACE)
    assert report.requeued == {alert.pk: 1}
    _run_queued_batches(broker_queue)
    assert len(outbox) == 3


def test_retries_whose_delayed_message_was_lost_are_enqueued_again(staff, armenia, broker_queue, outbox):
    travelers_in(armenia, 2)
    alert = _publish(staff, armenia)
    now = timezone.now()
    Alert.objects.filter(pk=alert.pk).update(fanout_started_at=now, last_progress_at=now)
    waiting = Delivery.objects.filter(alert=alert).first()
    Delivery.objects.filter(pk=waiting.pk).update(
        status=DeliveryStatus.RETRY, next_attempt_at=now + dt.timedelta(seconds=30)
    )
    Delivery.objects.exclude(pk=waiting.pk).update(status=DeliveryStatus.SENT)

    assert alerts_sweep(now=now + dt.timedelta(seconds=20)).requeued == {}  # not due yet
    assert alerts_sweep(now=now + dt.timedelta(seconds=40)).requeued == {}  # due, its own message should come
    report = alerts_sweep(now=now + dt.timedelta(seconds=30) + GRACE)
    assert report.requeued == {alert.pk: 1}
    _run_queued_batches(broker_queue)
    assert Delivery.objects.get(pk=waiting.pk).status == DeliveryStatus.SENT


def test_sweeper_never_releases_a_row_a_batch_is_sending(staff, armenia, broker_queue):
    """A retry that is being sent (claimed: its lease runs) is not "overdue" however old its retry time: taking
    its lease away would let a second batch send it at the same time (found by the provider-fault test)."""
    travelers_in(armenia, 1)
    alert = _publish(staff, armenia)
    now = timezone.now()
    Alert.objects.filter(pk=alert.pk).update(fanout_started_at=now, last_progress_at=now)
    lease = now + dt.timedelta(seconds=60)
    Delivery.objects.filter(alert=alert).update(
        status=DeliveryStatus.RETRY, next_attempt_at=now - 2 * GRACE, leased_until=lease, attempts=2
    )
    report = alerts_sweep(now=now)
    assert (report.released, report.requeued) == (0, {})
    assert Delivery.objects.get(alert=alert).leased_until == lease
    assert broker_queue.messages() == []


def test_sweeper_marks_finished_alerts_sent_and_gives_up_on_rows_lost_too_often(settings, staff, armenia, broker_queue):
    settings.ALERT_MAX_ATTEMPTS = 3
    travelers_in(armenia, 2)
    alert = _publish(staff, armenia)
    Alert.objects.filter(pk=alert.pk).update(fanout_started_at=timezone.now())
    first, second = Delivery.objects.filter(alert=alert).order_by("id")
    Delivery.objects.filter(pk=first.pk).update(status=DeliveryStatus.SENT)
    Delivery.objects.filter(pk=second.pk).update(attempts=3, leased_until=timezone.now() - dt.timedelta(seconds=1))
    report = alerts_sweep()
    assert report.gave_up == 1
    assert report.completed == [alert.pk]
    second.refresh_from_db()
    assert second.status == DeliveryStatus.FAILED
    assert "lost repeatedly" in second.last_error
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.SENT


def test_self_check_flags_alerts_older_than_ten_minutes_with_pending_deliveries(staff, armenia, api_client):
    travelers_in(armenia, 2)
    stuck = _publish(staff, armenia)
    fresh = _publish(staff, armenia)
    Alert.objects.filter(pk=stuck.pk).update(published_at=timezone.now() - dt.timedelta(minutes=11))

    assert alert_self_check() == [stuck.pk]
    flagged = dict(Alert.objects.values_list("pk", "stuck_since"))
    assert flagged[stuck.pk] is not None
    assert flagged[fresh.pk] is None

    health = api_client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["alerts"] == {"stuck": 1, "stuck_alert_ids": [stuck.pk]}
    assert health.json()["status"] == "degraded"

    Delivery.objects.filter(alert=stuck).update(status=DeliveryStatus.SENT)
    assert alert_self_check() == []
    assert Alert.objects.get(pk=stuck.pk).stuck_since is None
    assert api_client.get("/healthz").json()["alerts"]["stuck"] == 0


def test_self_check_flags_scheduled_alerts_that_never_went_out(staff, armenia):
    alert = alert_create(
        author=staff,
        country=armenia,
        severity="info",
        title_ru="Праздник",
        title_en="Holiday",
        text_ru="Музеи закрыты.",
        text_en="Museums are closed.",
        publish_at=timezone.now() + dt.timedelta(minutes=1),
    )
    alert_publish(alert=alert, user=staff)
    assert alert_self_check() == []
    assert alert_self_check(now=timezone.now() + dt.timedelta(minutes=12)) == [alert.pk]
