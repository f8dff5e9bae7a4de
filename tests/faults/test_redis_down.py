"""Fault 2: the broker (the test's own redis-server) goes down for OUTAGE seconds while an alert is published,
and again in the middle of a fan-out; it comes back empty (no persistence: every queued message is lost).
Publishing answers within 2 seconds all the same; no delivery is lost; both fan-outs complete after Redis
returns, with the same worker processes (nobody restarts them)."""

import time
from collections import Counter

import pytest

from alerts.models import Alert, AlertStatus, Delivery, DeliveryStatus
from tests.faults.harness import subscribed_devices
from tests.workers import wait_until

OUTAGE = 30  # seconds, each time (the figure)
DEVICES = 2000
RECOVERY = 60  # after Redis returns: workers and beat reconnect, a sweep, the rest of the fan-out

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]


def _status(alert) -> str:
    return Alert.objects.get(pk=alert.pk).status


@pytest.mark.fcm(latency_ms=50)
# The production lease (and so a batch's soft time limit, 80 s) outlasts the outage: while the broker is away the
# worker's main process sits in its reconnect loop, and on return it fires every time-limit timer that fell due
# meanwhile; a limit shorter than the outage would kill the pool process of a batch that had finished long ago.
@pytest.mark.cluster(ALERT_BATCH_SIZE=100, PUSH_CONCURRENCY=10, ALERT_LEASE_SECONDS=90)
@pytest.mark.timeout(300)
def test_broker_outages_while_publishing_and_mid_fanout_lose_nothing(cluster, fcm, redis_server, country, publish):
    tokens = {f"storm-{i:05d}" for i in range(DEVICES)}
    subscribed_devices(country, sorted(tokens))
    cluster.start_workers("a", "b")
    cluster.start_beat()
    pids = {name: process.pid for name, process in cluster.workers.items()}

    # 1. Redis is down while staff publish: the publication answers at once and stands.
    redis_server.stop()
    started = time.monotonic()
    during_outage = publish(country, title_en="Storm warning", title_ru="Штормовое предупреждение")
    publish_seconds = time.monotonic() - started
    assert publish_seconds < 2, publish_seconds
    assert _status(during_outage) == AlertStatus.SENDING
    time.sleep(OUTAGE - publish_seconds)
    redis_server.start()
    back = time.monotonic()
    wait_until(lambda: _status(during_outage) == AlertStatus.SENT, timeout=RECOVERY, message="first alert sent")
    first_recovery = time.monotonic() - back

    # 2. Redis goes down in the middle of a fan-out, and comes back empty.
    mid_fanout = publish(country, title_en="Storm: roads closed", title_ru="Шторм: дороги закрыты")
    wait_until(
        lambda: Delivery.objects.filter(alert=mid_fanout, status=DeliveryStatus.SENT).count() >= DEVICES // 5,
        timeout=60,
        message="a fifth of the second alert sent",
    )
    redis_server.stop()
    stopped_at_sent = Delivery.objects.filter(alert=mid_fanout, status=DeliveryStatus.SENT).count()
    time.sleep(OUTAGE)
    assert _status(mid_fanout) == AlertStatus.SENDING
    redis_server.start()
    back = time.monotonic()
    wait_until(lambda: _status(mid_fanout) == AlertStatus.SENT, timeout=RECOVERY, message="second alert sent")
    second_recovery = time.monotonic() - back
    print(
        f"publish during the outage {publish_seconds * 1000:.0f} ms; first alert sent {first_recovery:.1f}s after "
        f"Redis returned; second alert: {stopped_at_sent}/{DEVICES} sent when Redis went down, the rest "
        f"{second_recovery:.1f}s after it returned"
    )

    for alert in (during_outage, mid_fanout):
        assert set(Delivery.objects.filter(alert=alert).values_list("status", flat=True)) == {DeliveryStatus.SENT}
    per_alert = Counter((record["token"], record["collapse_id"]) for record in fcm.delivered)
    assert {token for token, _collapse in per_alert} == tokens
    assert set(per_alert) == {(t, str(a.pk)) for t in tokens for a in (during_outage, mid_fanout)}
    assert max(per_alert.values()) == 1  # nobody got either alert twice
    assert {name: process.pid for name, process in cluster.workers.items()} == pids
    assert all(cluster.alive().values())
    logs = cluster.worker_logs()
    for crash in ("WorkerLostError", "exited with", "raised unexpected", "Soft time limit"):
        assert crash not in logs
