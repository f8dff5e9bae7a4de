"""Shared fixtures. Tests run against the real PostgreSQL and Redis (config/settings_test.py)."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from core import push, sms
from core.sms.backends import locmem as sms_locmem
from tests.broker import BrokerQueue
from tests.clients import TravelerAPIClient
from tests.fakes.apns import FakeAPNs
from tests.fakes.fcm import FakeFCM
from tests.fakes.sms_provider import FakeSmsRu


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items):
    """A test on a live server (a threaded HTTP server, a transactional database flushed afterwards) is slow.

    The fault tests mostly wait out outages: under pytest-xdist they run one after another in one process
    (`--dist loadgroup`) while the other process takes the rest of the suite."""
    for item in items:
        if "live_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("fault"):
            item.add_marker(pytest.mark.xdist_group("fault"))


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database as pytest-django sets it up, plus the reference data loaded once for the session
    (kept aside in snapshot tables; see tests/reference_data.py)."""
    from tests.reference_data import reference_snapshot_build

    with django_db_blocker.unblock():
        reference_snapshot_build()


@pytest.fixture
def reference_data(db):
    """The shipped reference data (every country, content and missions), as `make run` loads it; returns the
    loader's report of the session's load."""
    from tests.reference_data import reference_snapshot_restore

    return reference_snapshot_restore()


@pytest.fixture(autouse=True)
def _clean_cache():
    """Each test starts with an empty cache (throttle counters, country packs live there)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def traveler(db):
    from tests.factories.travelers import TravelerFactory

    return TravelerFactory()


@pytest.fixture
def traveler_client(traveler) -> TravelerAPIClient:
    """An API client signed in as `traveler` with a real bearer token."""
    from travelers.services import token_pair_issue

    client = TravelerAPIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair_issue(traveler=traveler).access}")
    client.traveler = traveler
    return client


@pytest.fixture
def sms_outbox(settings):
    settings.SMS_BACKEND = "locmem"
    sms.reset_backends()
    sms_locmem.outbox.clear()
    yield sms_locmem.outbox
    sms_locmem.outbox.clear()
    sms.reset_backends()


@pytest.fixture
def broker_queue(settings):
    queue = BrokerQueue(settings.CELERY_BROKER_URL)
    queue.purge()
    yield queue
    queue.purge()


# --- the fake providers on loopback (FCM, APNs, SMS.ru): the real client code runs against them ---------


@pytest.fixture
def fake_fcm(settings, tmp_path):
    with FakeFCM() as fcm:
        fcm.configure_settings(settings, tmp_path)
        settings.PUSH_BACKEND = "providers"
        settings.PUSH_TIMEOUT_SECONDS = 1
        push.reset_backends()
        yield fcm
        push.reset_backends()


@pytest.fixture
def fake_apns(settings, tmp_path):
    with FakeAPNs(cert_dir=tmp_path / "certs") as apns:
        apns.configure_settings(settings, tmp_path)
        settings.PUSH_BACKEND = "providers"
        settings.PUSH_TIMEOUT_SECONDS = 1
        push.reset_backends()
        yield apns
        push.reset_backends()


@pytest.fixture
def fake_smsru(settings):
    with FakeSmsRu(api_id="secret-api-id") as fake:
        settings.SMS_BACKEND = "smsru"
        settings.SMS_PROVIDER_URL = fake.url
        settings.SMS_PROVIDER_API_KEY = "secret-api-id"
        settings.SMS_SENDER = "MIDRF"
        settings.SMS_PROVIDER_TIMEOUT_SECONDS = 1.0
        sms.reset_backends()
        yield fake
    sms.reset_backends()
