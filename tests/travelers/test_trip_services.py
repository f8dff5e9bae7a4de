"""Trip rules, one test per rule, against the services (the API tests check the codes reach the client)."""

import datetime as dt

import pytest
from django.utils import timezone

from core.exceptions import ApplicationError
from travelers.models import TripLeg, TripLegCity
from travelers.services import CompanionInput, LegInput, trip_delete, trip_register, trip_update


def day(offset: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=offset)


def leg(country="AM", start=1, end=5, cities=()):
    return LegInput(country=country, start_date=day(start), end_date=day(end), cities=list(cities))


def error_of(call) -> ApplicationError:
    with pytest.raises(ApplicationError) as info:
        call()
    return info.value


@pytest.fixture
def register(traveler, countries):
    def _register(legs, **kwargs):
        return trip_register(traveler=traveler, legs=legs, **kwargs)

    return _register


def test_register_writes_trip_legs_and_case_folded_cities(register):
    trip = register(
        [leg("am", 1, 4, ["Yerevan", " yerevan ", "Gyumri"]), leg("GE", 4, 9, ["Tbilisi"])],
        accommodation=" Hotel Ani, Yerevan ",
        companions=[CompanionInput(name="Anna", relation="wife")],
        notes="business",
    )
    assert (trip.start_date, trip.end_date) == (day(1), day(9))
    assert trip.accommodation == "Hotel Ani, Yerevan"
    assert trip.companions == [{"name": "Anna", "relation": "wife"}]
    legs = list(trip.legs.order_by("position"))
    assert [(x.country_id, x.cities) for x in legs] == [("AM", ["Yerevan", "Gyumri"]), ("GE", ["Tbilisi"])]
    assert sorted(TripLegCity.objects.filter(leg__trip=trip).values_list("name", flat=True)) == [
        "gyumri",
        "tbilisi",
        "yerevan",
    ]


@pytest.mark.parametrize(
    ("legs", "code", "field"),
    [
        ([], "legs_required", "legs"),
        ([leg(start=5, end=4)], "end_before_start", "legs[0].end_date"),
        ([leg(start=1, end=5), leg("GE", 4, 8)], "legs_out_of_order", "legs[1].start_date"),
        ([leg(start=6, end=8), leg("GE", 1, 3)], "legs_out_of_order", "legs[1].start_date"),
        ([leg(start=-10, end=-1)], "trip_in_past", "legs[0].end_date"),
        ([leg(start=0, end=366)], "trip_too_long", "legs[0].end_date"),
        ([leg("ZZ")], "unknown_country", "legs[0].country"),
        ([leg("AM", 1, 2), leg("armenia", 2, 3)], "unknown_country", "legs[1].country"),
    ],
)
def test_register_rejects_broken_rules(register, legs, code, field):
    err = error_of(lambda: register(legs))
    assert (err.code, err.field, err.status_code) == (code, field, 400)


def test_same_day_transfer_between_legs_is_allowed(register):
    trip = register([leg(start=1, end=5), leg("GE", 5, 8)])
    assert trip.legs.count() == 2


def test_a_year_is_the_longest_trip(register):
    assert register([leg(start=0, end=365)]).end_date == day(365)


def test_a_trip_ending_today_is_not_in_the_past(register):
    assert register([leg(start=-3, end=0)]).end_date == day(0)


def test_at_most_twenty_legs(register):
    legs = [leg("AM", 2 * i, 2 * i + 1) for i in range(21)]
    assert error_of(lambda: register(legs)).code == "too_many_legs"
    assert register(legs[:20]).legs.count() == 20


def test_at_most_twenty_companions(register):
    people = [CompanionInput(name=f"P{i}") for i in range(21)]
    err = error_of(lambda: register([leg()], companions=people))
    assert (err.code, err.field) == ("too_many_companions", "companions")
    assert len(register([leg()], companions=people[:20]).companions) == 20


def test_update_replaces_legs_and_keeps_city_rows_in_sync(register):
    trip = register([leg("AM", 1, 4, ["Yerevan"])], notes="n")
    trip_update(trip=trip, legs=[leg("GE", 2, 6, ["Batumi"])])
    trip.refresh_from_db()
    assert (trip.start_date, trip.end_date, trip.notes) == (day(2), day(6), "n")
    assert list(TripLeg.objects.filter(trip=trip).values_list("country_id", flat=True)) == ["GE"]
    assert list(TripLegCity.objects.filter(leg__trip=trip).values_list("name", flat=True)) == ["batumi"]


def test_update_without_legs_changes_only_given_parts(register):
    trip = register([leg()], accommodation="A", notes="N")
    trip_update(trip=trip, notes="M")
    trip.refresh_from_db()
    assert (trip.accommodation, trip.notes) == ("A", "M")


def test_update_applies_the_rules(register):
    trip = register([leg()])
    assert error_of(lambda: trip_update(trip=trip, legs=[leg(start=3, end=2)])).code == "end_before_start"


def test_delete_removes_legs_and_cities(register):
    trip = register([leg(cities=["Yerevan"])])
    trip_delete(trip=trip)
    assert not TripLeg.objects.exists()
    assert not TripLegCity.objects.exists()
