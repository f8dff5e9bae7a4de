"""Fault 4: the publication commits but its kickoff never reaches the broker, because the broker was
unreachable at that moment or because the process died between the commit and the enqueue. The sweeper
finds each alert (sending, fan-out never started) and completes it; no device is missed or sent to twice."""

import subprocess
import sys
import time

import pytest
from django.contrib.auth import get_user_model

from alerts.models import Alert, AlertStatus, Delivery, DeliveryStatus
from alerts.services import alert_approve, alert_create
from tests.fakes.push_server import free_port
from tests.faults.crash_publish import CRASH_EXIT_CODE
from tests.faults.harness import FAST_RECOVERY, subscribed_devices
from tests.workers import ROOT, wait_until

DEVICES = 300
# A lost kickoff is sent again at the first sweep after the alert is older than the grace period.
RECOVERY = int(FAST_RECOVERY["ALERT_SWEEP_GRACE_SECONDS"]) + int(FAST_RECOVERY["ALERT_SWEEP_INTERVAL_SECONDS"])
MARGIN = 20  # the fan-out itself, worker start-up, a shared machine

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]


def _publish_in_a_process_that_dies_before_the_enqueue(env, country, author) -> Alert:
    alert = alert_create(
        author=author,
        country=country,
        severity="emergency",
        title_ru="Эвакуация",
        title_en="Evacuation",
        text_ru="Проследуйте к пункту сбора у посольства.",
        text_en="Go to the assembly point at the embassy.",
    )
    alert_approve(alert=alert, user=get_user_model().objects.create_superuser("approver", "a@example.org", "pw"))
    command = [sys.executable, "-m", "tests.faults.crash_publish", str(alert.pk), str(author.pk)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode == CRASH_EXIT_CODE, done.stderr.decode(errors="replace")[-2000:]
    return alert


def test_sweeper_completes_alerts_whose_kickoff_never_reached_the_broker(
    cluster, fcm, redis_server, country, duty_officer, publish
):
    tokens = {f"orphan-{i:04d}" for i in range(DEVICES)}
    subscribed_devices(country, sorted(tokens))
    cluster.start_workers("a", "b")
    cluster.start_beat()

    # 1. The broker is unreachable while publishing: the publication stands, its kickoff is lost.
    unreachable = publish(country, broker_url=f"redis://127.0.0.1:{free_port()}/0")
    published = time.monotonic()
    # 2. The publishing process dies after the commit and before the enqueue.
    crashed = _publish_in_a_process_that_dies_before_the_enqueue(cluster.env, country, duty_officer)
    for alert in (unreachable, crashed):
        alert.refresh_from_db()
        assert (alert.status, alert.fanout_started_at, alert.audience_frozen_at) == (AlertStatus.SENDING, None, None)

    for alert in (unreachable, crashed):
        wait_until(
            lambda alert=alert: Alert.objects.get(pk=alert.pk).status == AlertStatus.SENT,
            timeout=RECOVERY + MARGIN,
            message=f"alert {alert.pk} completed by the sweeper",
        )
    print(f"both completed {time.monotonic() - published:.1f}s after the first publication")
    for alert in (unreachable, crashed):
        assert set(Delivery.objects.filter(alert=alert).values_list("status", flat=True)) == {DeliveryStatus.SENT}
        assert Delivery.objects.filter(alert=alert).count() == DEVICES
    stats = fcm.stats()
    assert set(fcm.app.per_token) == tokens
    assert stats["delivered"] == 2 * DEVICES  # each device got each alert once
    assert stats["duplicates"] == DEVICES  # per token: two alerts, no repeat of either
    assert set(stats["collapse_ids"]) == {str(unreachable.pk), str(crashed.pk)}
