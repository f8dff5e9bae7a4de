"""Fault 1: a worker is SIGKILLed (with its pool process) at a random moment of a broadcast, three times, and
started again. Every device gets the alert; the provider sees at most one extra send per message that was in
flight in the killed worker; every send carries the alert's collapse id; the broadcast completes within the
lease + the sweeper's interval + a margin after the last kill, not after Redis's visibility timeout (3600 s
here)."""

import random
import time
from collections import Counter

import pytest
from django.utils import timezone

from alerts.models import OPEN_DELIVERY_STATUSES, Alert, AlertStatus, Delivery, DeliveryStatus
from tests.faults.harness import FAST_RECOVERY, subscribed_devices
from tests.workers import wait_until

DEVICES = 4000
KILLS = 3
LEASE = int(FAST_RECOVERY["ALERT_LEASE_SECONDS"])
SWEEP = int(FAST_RECOVERY["ALERT_SWEEP_INTERVAL_SECONDS"]) + int(FAST_RECOVERY["ALERT_SWEEP_GRACE_SECONDS"])
MARGIN = 30  # sending what is left after the last kill, on a shared 2-core machine

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]


@pytest.mark.fcm(latency_ms=80)
@pytest.mark.cluster(ALERT_BATCH_SIZE=100, PUSH_CONCURRENCY=10)  # ~1 s per batch: kills land mid-batch
def test_sigkilled_workers_lose_nothing_and_duplicate_only_what_was_in_flight(cluster, fcm, country, publish):
    tokens = {f"kill-{i:05d}" for i in range(DEVICES)}
    subscribed_devices(country, sorted(tokens))
    cluster.start_workers("a", "b")
    cluster.start_beat()
    alert = publish(country)
    rng = random.Random()
    in_flight: list[set[str]] = []  # per kill: tokens of the open rows the killed worker's running task held
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.5, 3.0))
        assert Alert.objects.get(pk=alert.pk).status == AlertStatus.SENDING, "the broadcast ended before the kill"
        victim = rng.choice(["a", "b"])
        cluster.kill_worker(victim)
        held = cluster.tasks_in_progress(victim)
        held_rows = Delivery.objects.filter(alert=alert, lease_owner__in=held, status__in=OPEN_DELIVERY_STATUSES)
        in_flight.append(set(held_rows.values_list("device__token", flat=True)))
        cluster.start_workers(victim)
    last_kill = time.monotonic()

    bound = LEASE + SWEEP + MARGIN
    wait_until(lambda: Alert.objects.get(pk=alert.pk).status == AlertStatus.SENT, timeout=bound, message="sent")
    completed_after = time.monotonic() - last_kill
    stats = fcm.stats()
    print(
        f"in flight at the kills: {[len(caught) for caught in in_flight]}; provider duplicates {stats['duplicates']}; "
        f"completed {completed_after:.1f}s after the last kill"
    )

    assert set(Delivery.objects.filter(alert=alert).values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert set(fcm.app.per_token) == tokens  # every device got it
    # Only a message in flight at a kill is sent again, at most once per kill that caught it.
    for token, sends in Counter(fcm.app.per_token).items():
        assert sends - 1 <= sum(token in caught for caught in in_flight), token
    assert stats["duplicates"] <= sum(len(caught) for caught in in_flight)
    assert set(stats["collapse_ids"]) == {str(alert.pk)}  # a repeat replaces the first on the phone
    assert completed_after < bound < int(FAST_RECOVERY["CELERY_VISIBILITY_TIMEOUT"])
    assert all(cluster.alive().values())
    assert Alert.objects.get(pk=alert.pk).completed_at <= timezone.now()
