"""Fault 5: PostgreSQL becomes unreachable for OUTAGE seconds in the middle of a fan-out, cut by a TCP proxy of
the test's own between it and every process under test (workers, beat, and a real API server under gunicorn).
The proxy resets the open connections and leaves new ones unanswered. The API answers 503 (problem+json)
within 5 seconds instead of hanging; it answers 200 again soon after the database returns; the fan-out
completes after the database returns, with the same worker processes, losing nothing and repeating at most
what was in flight when the database went away."""

import sys
import time
from collections import Counter
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from alerts.models import OPEN_DELIVERY_STATUSES, Alert, AlertStatus, Delivery, DeliveryStatus
from tests.fakes.push_server import free_port
from tests.faults.harness import subscribed_devices
from tests.faults.tcp_proxy import TcpProxy
from tests.workers import database_url, wait_until

OUTAGE = 20  # seconds (the figure)
DEVICES = 2500
API_LIMIT = 5.0  # seconds an API request may take while the database is away
RECOVERY = 60  # after the database returns: leases run out, a sweep, the rest of the fan-out

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def proxy():
    server = TcpProxy().start()
    yield server
    server.stop()


def _through(proxy: TcpProxy) -> str:
    parts = urlsplit(database_url())
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))


def _start_api(cluster, database_url: str) -> str:
    port = free_port()
    env = {
        **cluster.env,
        "DATABASE_URL": database_url,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
    }
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", "2", "--timeout", "30", "--access-logfile", "-",
    ]  # fmt: skip
    cluster.spawn(command, "api", env)
    return f"http://127.0.0.1:{port}"


def _get(url: str) -> tuple[int, float, str]:
    started = time.monotonic()
    response = httpx.get(url, timeout=30, trust_env=False)
    return response.status_code, time.monotonic() - started, response.headers.get("content-type", "")


@pytest.mark.fcm(latency_ms=50)
@pytest.mark.cluster(ALERT_BATCH_SIZE=100, PUSH_CONCURRENCY=10)
def test_database_outage_mid_fanout_api_answers_503_and_the_fanout_completes(cluster, fcm, proxy, country, publish):
    tokens = {f"quake-{i:05d}" for i in range(DEVICES)}
    subscribed_devices(country, sorted(tokens))
    database_url = _through(proxy)
    cluster.env["DATABASE_URL"] = database_url
    api = _start_api(cluster, database_url) + f"/api/v1/alerts/?country={country.pk}"
    cluster.start_workers("a", "b")
    cluster.start_beat()
    wait_until(lambda: _get_or_none(api) == 200, timeout=30, message="the API up")
    pids = {name: process.pid for name, process in cluster.workers.items()}

    alert = publish(country)  # the test process itself talks to PostgreSQL directly
    wait_until(
        lambda: Delivery.objects.filter(alert=alert, status=DeliveryStatus.SENT).count() >= DEVICES // 5,
        timeout=60,
        message="a fifth of the alert sent",
    )
    for _ in range(4):
        assert _get(api)[0] == 200  # the API's processes hold open connections now

    proxy.set_mode("down")
    cut = time.monotonic()
    in_flight = Delivery.objects.filter(
        alert=alert, status__in=OPEN_DELIVERY_STATUSES, leased_until__isnull=False
    ).count()
    answers = []
    while time.monotonic() - cut < OUTAGE - API_LIMIT:
        answers.append(_get(api))
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.SENDING
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - cut)))
    proxy.set_mode("up")
    back = time.monotonic()
    wait_until(lambda: _get_or_none(api) == 200, timeout=15, interval=0.2, message="the API answering again")
    api_back = time.monotonic() - back
    wait_until(lambda: Alert.objects.get(pk=alert.pk).status == AlertStatus.SENT, timeout=RECOVERY, message="sent")
    completed = time.monotonic() - back
    stats = fcm.stats()
    print(
        f"API during the outage: {[(status, round(seconds, 1)) for status, seconds, _ in answers]}; 200 again "
        f"{api_back:.1f}s after the database returned; fan-out completed {completed:.1f}s after; in flight at the "
        f"cut {in_flight}, provider duplicates {stats['duplicates']}"
    )

    assert len(answers) >= 3
    for status, seconds, content_type in answers:
        assert status == 503
        assert seconds < API_LIMIT
        assert content_type.startswith("application/problem+json")
    assert set(Delivery.objects.filter(alert=alert).values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert set(fcm.app.per_token) == tokens
    assert stats["duplicates"] <= in_flight
    assert max(Counter(fcm.app.per_token).values()) <= 2
    assert {name: process.pid for name, process in cluster.workers.items()} == pids
    assert all(cluster.alive().values())


def _get_or_none(url: str) -> int | None:
    try:
        return _get(url)[0]
    except httpx.HTTPError:
        return None
