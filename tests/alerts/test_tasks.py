"""Celery tasks: thin, acks_late, named as the beat schedule expects; few broker messages per alert."""

import pytest
from django.conf import settings
from django.db import OperationalError

from alerts import tasks
from alerts.models import Alert, AlertStatus, Delivery
from alerts.services import alert_create, alert_publish
from tests.alerts.conftest import travelers_in

pytestmark = pytest.mark.django_db


def test_every_alerts_task_in_the_beat_schedule_exists_and_acks_late():
    scheduled = {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"].startswith("alerts.")
    }
    assert scheduled == {
        "alerts.tasks.publish_due",
        "alerts.tasks.expire_due",
        "alerts.tasks.sweep",
        "alerts.tasks.self_check",
    }
    registered = {t.name: t for t in (tasks.publish_due, tasks.expire_due, tasks.sweep, tasks.self_check)}
    assert set(registered) == scheduled
    for task in (*registered.values(), tasks.fanout_start, tasks.send_batch):
        assert task.acks_late
    for task in registered.values():
        assert task.expires  # a backlog of periodic runs is dropped, not replayed
    assert OperationalError in tasks.send_batch.autoretry_for
    assert tasks.send_batch.soft_time_limit < settings.ALERT_LEASE_SECONDS  # ends before its lease


def test_an_alert_costs_one_kickoff_plus_one_message_per_batch(
    settings, staff, armenia, broker_queue, outbox, django_capture_on_commit_callbacks
):
    settings.ALERT_BATCH_SIZE = 3
    travelers_in(armenia, 10)
    with django_capture_on_commit_callbacks(execute=True):
        alert = alert_publish(
            alert=alert_create(
                author=staff,
                country=armenia,
                severity="warning",
                title_ru="Т",
                title_en="T",
                text_ru="Т",
                text_en="T",
            ),
            user=staff,
        )
    assert broker_queue.tasks("alerts.tasks.fanout_start") == [[alert.pk]]
    broker_queue.purge()
    assert tasks.fanout_start(alert.pk) == 4
    batches = broker_queue.tasks("alerts.tasks.send_batch")
    assert len(batches) == 4  # 1 + ceil(10 / 3) messages for the whole alert
    for args in batches:
        tasks.send_batch(*args)
    for args in batches:  # the broker redelivers everything (acks_late after a crash): nothing is sent twice
        assert tasks.send_batch(*args) == 0
    assert len(outbox) == 10
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.SENT
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_periodic_tasks_call_their_services(staff, armenia, broker_queue):
    assert tasks.publish_due() == []
    assert tasks.expire_due() == []
    assert tasks.sweep() == {"kickoffs": [], "requeued": {}, "completed": []}
    assert tasks.self_check() == []
