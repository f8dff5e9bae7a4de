"""Fault 3: the fake FCM answers a random mix of 503, 429 with Retry-After, 500, timeouts and malformed 200s,
plus UNREGISTERED and INVALID_ARGUMENT (about the token, or about the payload) for some devices. No worker
crashes; every valid token is delivered; every dead token is deactivated after one answer and never sent to
again (a second broadcast sends nothing to it); no device is deactivated for a transient or payload error;
a retry never comes before the provider's Retry-After."""

import itertools
import time

import pytest

from alerts.models import Alert, AlertStatus, Delivery, DeliveryStatus
from tests.faults.harness import subscribed_devices
from tests.workers import wait_until
from travelers.models import Device

VALID = 1500
UNREGISTERED, BAD_TOKEN, BAD_PAYLOAD = 40, 20, 20
RETRY_AFTER = 1
# About 20% of requests fail transiently; with 10 attempts a valid token is lost with p ~ 0.2**10 per device.
MIX = {"503": 0.07, "429": 0.05, "500": 0.02, "timeout": 0.02, "malformed": 0.04}

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]


def _broadcast(publish, country, **fields) -> Alert:
    started = time.monotonic()
    alert = publish(country, **fields)
    wait_until(lambda: Alert.objects.get(pk=alert.pk).status == AlertStatus.SENT, timeout=120, message="sent")
    print(f"alert {alert.pk} sent in {time.monotonic() - started:.1f}s")
    return alert


@pytest.mark.fcm(latency_ms=20, mix=MIX, retry_after=RETRY_AFTER, hang_seconds=5)
@pytest.mark.cluster(ALERT_BATCH_SIZE=100, PUSH_CONCURRENCY=20, PUSH_TIMEOUT_SECONDS=2)
def test_provider_faults_deliver_every_valid_token_and_prune_only_dead_ones(cluster, fcm, country, publish):
    valid = [f"ok-{i:05d}" for i in range(VALID)]
    dead = [f"unregistered-{i:03d}" for i in range(UNREGISTERED)] + [f"badtoken-{i:03d}" for i in range(BAD_TOKEN)]
    bad_payload = [f"payloadbad-{i:03d}" for i in range(BAD_PAYLOAD)]
    subscribed_devices(country, valid + dead + bad_payload)
    cluster.start_workers("a", "b")
    cluster.start_beat()

    first = _broadcast(publish, country)
    statuses = dict(Delivery.objects.filter(alert=first).values_list("device__token", "status"))
    assert {statuses[t] for t in valid} == {DeliveryStatus.SENT}
    assert {statuses[t] for t in dead} == {DeliveryStatus.INVALID_TOKEN}
    assert {statuses[t] for t in bad_payload} == {DeliveryStatus.FAILED}
    assert set(valid) <= set(fcm.app.per_token)  # every valid token delivered
    assert not set(dead + bad_payload) & set(fcm.app.per_token)
    assert all(fcm.app.attempts_per_token[t] == 1 for t in dead + bad_payload)  # one answer, never retried
    outcomes = fcm.stats()["outcomes"]
    assert all(outcomes.get(kind) for kind in MIX), outcomes  # the mix really happened

    active = dict(Device.objects.values_list("token", "is_active"))
    assert not any(active[t] for t in dead)  # pruned after one answer
    assert all(active[t] for t in valid + bad_payload)  # never for a transient or a payload error

    for token, history in fcm.app.history.items():  # Retry-After is honoured
        for (at, outcome), (next_at, _next) in itertools.pairwise(history):
            if outcome in ("429", "503"):
                assert next_at - at >= RETRY_AFTER - 0.05, (token, history)

    fcm.app.faults.mix = {}  # the second broadcast checks who is sent to, not the faults again
    second = _broadcast(publish, country, title_en="Aftershock", title_ru="Повторный толчок")
    assert Delivery.objects.filter(alert=second, device__token__in=dead).count() == 0  # not in the audience
    assert all(fcm.app.attempts_per_token[t] == 1 for t in dead)  # never sent to again
    assert set(Delivery.objects.filter(alert=second, device__token__in=valid).values_list("status", flat=True)) == {
        DeliveryStatus.SENT
    }
    assert all(cluster.alive().values())
    logs = cluster.worker_logs()
    for crash in ("WorkerLostError", "exited with", "raised unexpected"):
        assert crash not in logs
