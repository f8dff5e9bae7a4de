"""Fixtures of the alerts tests: countries and missions, staff of each, travelers with devices in a country,
the real broker queue (to see what was enqueued). The fake FCM and APNs fixtures are in tests/conftest.py."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model

from alerts.services import alert_audience_freeze, alert_publish
from core.push.backends import locmem
from tests.broker import broker_unreachable  # noqa: F401 — the alerts tests import it from here
from tests.factories.alerts import AlertStaffFactory
from tests.factories.countries import CountryFactory, MissionFactory
from tests.factories.travelers import DeviceFactory, TravelerFactory, TripFactory


@pytest.fixture
def armenia(db):
    return CountryFactory(code="AM")


@pytest.fixture
def georgia(db):
    return CountryFactory(code="GE", capital_en="Tbilisi", capital_ru="Тбилиси", time_zones=["Asia/Tbilisi"])


@pytest.fixture
def embassy(armenia):
    return MissionFactory(country=armenia)


@pytest.fixture
def staff(embassy):
    """Staff of the embassy in Armenia."""
    return AlertStaffFactory(missions=[embassy])


@pytest.fixture
def colleague(embassy):
    """A second staff member of the same embassy (the four-eyes approver)."""
    return AlertStaffFactory(missions=[embassy])


@pytest.fixture
def georgia_staff(georgia):
    return AlertStaffFactory(missions=[MissionFactory(country=georgia, city_en="Tbilisi", time_zone="Asia/Tbilisi")])


@pytest.fixture
def duty_officer(db):
    """A crisis-centre superuser: every country."""
    return get_user_model().objects.create_superuser("crisis-centre", "cc@example.org", "pw")


def travelers_in(country, count: int, *, platform="android", locale="ru", prefix="tok", cities=None):
    """`count` travelers on a trip in `country` today, one device each. Returns the devices."""
    devices = []
    for i in range(count):
        traveler = TravelerFactory.create()
        TripFactory.create(traveler=traveler, leg__country=country, leg__cities=cities or [])
        devices.append(
            DeviceFactory.create(
                traveler=traveler, platform=platform, locale=locale, token=f"{prefix}-{traveler.pk}-{i}"
            )
        )
    return devices


def publish_frozen(*, alert, user):
    """Publish as staff do, then run what the kickoff task runs first: the freeze of the audience of the
    publication moment into Delivery rows. Returns the alert as it is then."""
    alert = alert_publish(alert=alert, user=user)
    alert_audience_freeze(alert_id=alert.pk)
    alert.refresh_from_db()
    return alert


@contextmanager
def freeze_lock_held_elsewhere(alert_id: int):
    """Another database session (a kickoff busy writing this alert's audience) holds its freeze lock."""
    import psycopg
    from django.db import connection

    from alerts.services.audience import FREEZE_LOCK_CLASS

    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", (FREEZE_LOCK_CLASS, alert_id))
        try:
            yield
        finally:
            other.execute("SELECT pg_advisory_unlock(%s, %s)", (FREEZE_LOCK_CLASS, alert_id))


@pytest.fixture
def outbox():
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()
