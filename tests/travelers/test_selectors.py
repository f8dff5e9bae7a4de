"""The alert audience: who hears about country X (city Y) at moment T."""

import datetime as dt

import pytest
import time_machine
from django.db import connection

from tests.factories.travelers import DeviceFactory, TravelerFactory, TripFactory
from travelers.selectors import audience_devices, audience_size_upto

NOW = dt.datetime(2026, 12, 10, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


def on(days: int) -> dt.date:
    return TODAY + dt.timedelta(days=days)


def traveler_in(country="AM", start=-1, end=3, cities=(), devices=1, **device_kwargs):
    traveler = TravelerFactory()
    TripFactory(
        traveler=traveler, start_date=on(start), end_date=on(end), leg__country=country, leg__cities=list(cities)
    )
    made = [DeviceFactory(traveler=traveler, **device_kwargs) for _ in range(devices)]
    return made[0] if devices == 1 else made


def audience(**kwargs) -> set[int]:
    kwargs.setdefault("country_code", "AM")
    kwargs.setdefault("at", NOW)
    return set(audience_devices(**kwargs).values_list("id", flat=True))


@pytest.fixture(autouse=True)
def _countries(countries):
    return countries


def test_dates_covering_upcoming_and_past(settings):
    settings.AUDIENCE_UPCOMING_DAYS = 3
    covering = traveler_in(start=-2, end=2)
    starts_today = traveler_in(start=0, end=5)
    ends_today = traveler_in(start=-5, end=0)
    upcoming = traveler_in(start=3, end=6)  # within the window
    later = traveler_in(start=4, end=9)  # outside it
    ended = traveler_in(start=-9, end=-1)
    assert audience() == {covering.pk, starts_today.pk, ends_today.pk, upcoming.pk}
    settings.AUDIENCE_UPCOMING_DAYS = 4
    assert later.pk in audience()
    assert ended.pk not in audience()


def test_other_countries_do_not_hear(settings):
    traveler_in("GE")
    assert audience() == set()


def test_country_code_in_any_case():
    device = traveler_in()
    assert audience(country_code="am") == {device.pk}


def test_multi_leg_trip_matches_only_the_leg_in_the_country():
    traveler = TravelerFactory()
    TripFactory(
        traveler=traveler,
        legs=[
            {"country": "GE", "start_date": on(-3), "end_date": on(1)},
            {"country": "AM", "start_date": on(1), "end_date": on(9)},
        ],
    )
    device = DeviceFactory(traveler=traveler)
    assert audience(country_code="GE") == {device.pk}
    assert audience(country_code="AM") == {device.pk}  # starts within the window
    assert audience(country_code="AM", at=NOW - dt.timedelta(days=5)) == set()


def test_cities_case_insensitive():
    yerevan = traveler_in(cities=["Yerevan"])
    gyumri = traveler_in(cities=["GYUMRI", "Dilijan"])
    no_city = traveler_in()
    assert audience(cities=["yerevan"]) == {yerevan.pk}
    assert audience(cities=["Gyumri", "YEREVAN"]) == {yerevan.pk, gyumri.pk}
    assert audience(cities=["dilijan "]) == {gyumri.pk}
    assert audience(cities=[]) == {yerevan.pk, gyumri.pk, no_city.pk}


def test_city_spacing_does_not_matter(traveler):
    from travelers.services import LegInput, trip_register

    trip_register(
        traveler=traveler,
        legs=[LegInput(country="AM", start_date=TODAY, end_date=on(2), cities=["  Nor   Nork "])],
    )
    device = DeviceFactory(traveler=traveler)
    with time_machine.travel(NOW, tick=False):
        assert audience(cities=["nor nork"]) == {device.pk}
        assert audience(cities=["NOR  NORK"]) == {device.pk}


def test_subscriptions_hear_their_country_whatever_the_city():
    anonymous = DeviceFactory(traveler=None, subscriptions=["AM", "US"])
    DeviceFactory(traveler=None, subscriptions=["GE"])
    assert audience() == {anonymous.pk}
    assert audience(cities=["Yerevan"]) == {anonymous.pk}


def test_inactive_devices_are_excluded():
    traveler_in(is_active=False)
    DeviceFactory(traveler=None, subscriptions=["AM"], is_active=False)
    assert audience() == set()


def test_each_device_once():
    """Two matching trips, two matching legs and a subscription: still one row."""
    traveler = TravelerFactory()
    TripFactory(traveler=traveler, start_date=on(-1), end_date=on(1), leg__country="AM", leg__cities=["Yerevan"])
    TripFactory(traveler=traveler, start_date=on(2), end_date=on(4), leg__country="AM", leg__cities=["Yerevan"])
    phone, tablet = DeviceFactory(traveler=traveler, subscriptions=["AM"]), DeviceFactory(traveler=traveler)
    rows = list(audience_devices(country_code="AM", cities=["yerevan"], at=NOW).values_list("id", flat=True))
    assert sorted(rows) == sorted([phone.pk, tablet.pk])


def test_one_query_whatever_the_audience(django_assert_num_queries):
    for _ in range(5):
        traveler_in(cities=["Yerevan"], devices=2)
        DeviceFactory(traveler=None, subscriptions=["AM"])
    with django_assert_num_queries(1):
        devices = list(audience_devices(country_code="AM", cities=["Yerevan"], at=NOW))
    assert len(devices) == 15


def test_usable_as_the_select_of_an_insert():
    """What the alerts fan-out does: INSERT ... SELECT with the compiled `.values("id")` query."""
    expected = {traveler_in().pk, DeviceFactory(traveler=None, subscriptions=["AM"]).pk}
    sql, params = audience_devices(country_code="AM", at=NOW).values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE delivery_probe (device_id bigint PRIMARY KEY)")
        cursor.execute(f"INSERT INTO delivery_probe (device_id) {sql}", params)
        cursor.execute("SELECT device_id FROM delivery_probe")
        assert {row[0] for row in cursor.fetchall()} == expected


def test_default_moment_is_now():
    device = traveler_in(start=-1, end=1)
    with time_machine.travel(NOW, tick=False):
        assert set(audience_devices(country_code="AM").values_list("id", flat=True)) == {device.pk}
    with time_machine.travel(NOW + dt.timedelta(days=2), tick=False):
        assert not audience_devices(country_code="AM").exists()


# --- the bounded count of the four-eyes rule -----------------------------------------------------------------


def _mixed_audience() -> int:
    """Repeats of every kind: a traveler with two matching trips and a subscribed device, subscribed-only
    devices, inactive ones, another country. Returns the true audience size."""
    traveler = TravelerFactory()
    TripFactory(traveler=traveler, start_date=on(-1), end_date=on(1), leg__country="AM", leg__cities=["Yerevan"])
    TripFactory(traveler=traveler, start_date=on(2), end_date=on(4), leg__country="AM", leg__cities=["Gyumri"])
    DeviceFactory(traveler=traveler, subscriptions=["AM"])
    DeviceFactory(traveler=traveler)
    traveler_in(cities=["Yerevan"], devices=2)
    traveler_in(is_active=False)
    DeviceFactory(traveler=None, subscriptions=["AM"])
    DeviceFactory(traveler=None, subscriptions=["AM"], is_active=False)
    traveler_in(country="GE")
    return len(audience())


@pytest.mark.parametrize("cities", [None, ["yerevan"], ["Gyumri"], ["Vanadzor"]])
@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5, 6, 50])
def test_the_bounded_count_is_the_audience_size_capped_at_the_limit(limit, cities):
    _mixed_audience()
    size = len(audience(cities=cities))
    assert audience_size_upto(country_code="am", cities=cities, at=NOW, limit=limit) == min(size, limit)


def test_the_bounded_count_counts_a_device_once_however_often_it_repeats(django_assert_num_queries):
    """Devices behind many matching legs fill the first LIMIT of rows with repeats: the exact count is asked
    instead of stopping at a wrong answer."""
    devices = []
    for k in range(3):  # each traveler's legs share dates: however the rows are read, a traveler's come together
        traveler = TravelerFactory()
        for _ in range(6):
            TripFactory(traveler=traveler, start_date=on(-1 + k), end_date=on(1 + k), leg__country="AM")
        devices.append(DeviceFactory(traveler=traveler).pk)
    assert audience() == set(devices)
    with django_assert_num_queries(3):  # two bounded reads, each full of repeats, then the exact count
        assert audience_size_upto(country_code="AM", at=NOW, limit=3) == 3
    assert audience_size_upto(country_code="AM", at=NOW, limit=4) == 3


def test_the_bounded_count_reads_at_most_two_small_queries_when_the_audience_is_large(django_assert_num_queries):
    for _ in range(6):
        traveler_in()
    with django_assert_num_queries(2):
        assert audience_size_upto(country_code="AM", at=NOW, limit=3) == 3
