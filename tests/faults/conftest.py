"""Fixtures of the fault tests: the test's own redis-server, the fake FCM on loopback, a cluster of real
worker/beat processes on the test database (always stopped in teardown; their logs are printed when the
test fails), a country and a crisis-centre user who publishes."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from alerts.services import alert_approve, alert_create, alert_publish
from tests.factories.countries import CountryFactory
from tests.fakes.fcm import FakeFCM
from tests.fakes.push_server import Faults
from tests.faults.harness import Cluster, RedisServer, publishing_to


def pytest_configure(config):
    config.addinivalue_line("markers", "fcm(latency_ms, mix, retry_after, hang_seconds): the fake FCM's behaviour")
    config.addinivalue_line("markers", "cluster(**env): environment of the fault test's worker and beat processes")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def fcm(request, tmp_path):
    """The fake FCM (HTTP/2 h2c) on a thread of this process. Parametrise with `@pytest.mark.fcm(latency_ms=..,
    mix={...})`."""
    marker = request.node.get_closest_marker("fcm")
    options = dict(marker.kwargs) if marker else {}
    faults = Faults(
        latency_ms=options.get("latency_ms", 20),
        mix=options.get("mix", {}),
        retry_after=options.get("retry_after", 1),
        hang_seconds=options.get("hang_seconds", 5),
    )
    with FakeFCM(faults=faults, history=True) as fake:
        fake.credentials = fake.write_credentials(tmp_path / "fcm.json")
        yield fake


@pytest.fixture
def cluster(request, tmp_path, redis_server, fcm):
    """Workers and beat are started by the test (`cluster.start_workers("a", "b")`, `cluster.start_beat()`)
    with the environment given by `@pytest.mark.cluster(**env)`."""
    marker = request.node.get_closest_marker("cluster")
    env = {k: str(v) for k, v in (marker.kwargs if marker else {}).items()}
    directory = tmp_path / "logs"
    directory.mkdir()
    processes = Cluster(
        directory,
        broker_url=redis_server.url(),
        FCM_ENDPOINT=fcm.url,
        FCM_CREDENTIALS_FILE=str(fcm.credentials),
        **env,
    )
    try:
        yield processes
    finally:
        processes.close()
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            print(processes.logs())  # shown under "Captured stdout teardown"


@pytest.fixture
def country(db):
    return CountryFactory(code="AM")


@pytest.fixture
def duty_officer(db):
    return get_user_model().objects.create_superuser("crisis-centre", "cc@example.org", "pw")


@pytest.fixture
def publish(duty_officer, redis_server):
    """Publish an alert for a country as the staff panel does, approved by a second officer (four eyes: a
    broadcast to more than ALERT_APPROVAL_THRESHOLD devices); the kickoff goes to the test's broker."""
    colleague = get_user_model().objects.create_superuser("crisis-centre-2", "cc2@example.org", "pw")

    def publish_alert(country, *, broker_url: str | None = None, **fields):
        alert = alert_create(
            author=duty_officer,
            country=country,
            severity=fields.pop("severity", "warning"),
            title_ru=fields.pop("title_ru", "Землетрясение"),
            title_en=fields.pop("title_en", "Earthquake"),
            text_ru=fields.pop("text_ru", "Возможны повторные толчки. Оставайтесь на открытом месте."),
            text_en=fields.pop("text_en", "Aftershocks are possible. Stay in the open."),
            **fields,
        )
        alert_approve(alert=alert, user=colleague)
        with publishing_to(broker_url or redis_server.url()):
            return alert_publish(alert=alert, user=duty_officer)

    return publish_alert
