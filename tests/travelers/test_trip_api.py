"""The trips API contract: the mobile team's exact shape, scoping to the caller, every error code."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories.travelers import TripFactory
from tests.problems import assert_problem
from travelers.models import Trip


def day(offset: int) -> str:
    return (timezone.localdate() + dt.timedelta(days=offset)).isoformat()


def body(**overrides):
    trip = {
        "legs": [{"country": "am", "cities": ["Yerevan"], "start_date": day(1), "end_date": day(8)}],
        "accommodation": "Hotel Ani, 19 Sayat-Nova Ave",
        "companions": [{"name": "Anna Petrova", "relation": "wife"}],
        "notes": "Conference",
    }
    return trip | overrides


@pytest.fixture(autouse=True)
def _countries(countries):
    return countries


def test_create_returns_the_shape_with_id_and_status(traveler_client):
    response = traveler_client.post("/api/v1/trips/", body(), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "upcoming"
    assert data["legs"] == [{"country": "AM", "cities": ["Yerevan"], "start_date": day(1), "end_date": day(8)}]
    assert data["accommodation"] == "Hotel Ani, 19 Sayat-Nova Ave"
    assert data["companions"] == [{"name": "Anna Petrova", "relation": "wife"}]
    assert data["notes"] == "Conference"
    assert Trip.objects.get(pk=data["id"]).traveler == traveler_client.traveler


def test_only_legs_are_required(traveler_client):
    response = traveler_client.post(
        "/api/v1/trips/", {"legs": [{"country": "US", "start_date": day(0), "end_date": day(0)}]}, format="json"
    )
    assert response.status_code == 201
    assert response.json() | {"id": 0, "created_at": "", "updated_at": ""} == {
        "id": 0,
        "status": "active",
        "legs": [{"country": "US", "cities": [], "start_date": day(0), "end_date": day(0)}],
        "accommodation": "",
        "companions": [],
        "notes": "",
        "created_at": "",
        "updated_at": "",
    }


@pytest.mark.parametrize(
    ("start", "end", "status"), [(1, 3, "upcoming"), (-1, 3, "active"), (0, 0, "active"), (-5, -1, "past")]
)
def test_status_follows_today(traveler_client, start, end, status):
    trip = TripFactory(
        traveler=traveler_client.traveler,
        start_date=timezone.localdate() + dt.timedelta(days=start),
        end_date=timezone.localdate() + dt.timedelta(days=end),
    )
    assert traveler_client.get(f"/api/v1/trips/{trip.pk}/").json()["status"] == status


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"legs": []}, "legs_required", "legs"),
        (
            {"legs": [{"country": "AM", "start_date": day(5), "end_date": day(4)}]},
            "end_before_start",
            "legs[0].end_date",
        ),
        (
            {
                "legs": [
                    {"country": "AM", "start_date": day(1), "end_date": day(5)},
                    {"country": "GE", "start_date": day(3), "end_date": day(6)},
                ]
            },
            "legs_out_of_order",
            "legs[1].start_date",
        ),
        (
            {"legs": [{"country": "AM", "start_date": day(0), "end_date": day(400)}]},
            "trip_too_long",
            "legs[0].end_date",
        ),
        ({"legs": [{"country": "AM", "start_date": day(-9), "end_date": day(-2)}]}, "trip_in_past", "legs[0].end_date"),
        ({"legs": [{"country": "XX", "start_date": day(1), "end_date": day(2)}]}, "unknown_country", "legs[0].country"),
        (
            {"legs": [{"country": "AM", "start_date": day(2 * i), "end_date": day(2 * i + 1)} for i in range(21)]},
            "too_many_legs",
            "legs",
        ),
        ({"companions": [{"name": f"P{i}"} for i in range(21)]}, "too_many_companions", "companions"),
    ],
)
def test_every_rule_reaches_the_client_as_problem_json(traveler_client, overrides, code, field):
    response = traveler_client.post("/api/v1/trips/", body(**overrides), format="json")
    problem = assert_problem(response, 400, code)
    assert problem["errors"][0]["field"] == field
    assert problem["errors"][0]["code"] == code
    assert not Trip.objects.exists()


def test_malformed_shapes_are_validation_errors(traveler_client):
    response = traveler_client.post(
        "/api/v1/trips/", {"legs": [{"country": "AM", "start_date": "soon", "end_date": day(1)}]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "legs[0].start_date"
    response = traveler_client.post("/api/v1/trips/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0] == {"field": "legs", "code": "required", "detail": response.json()["detail"]}


def test_list_is_scoped_paginated_and_prefetched(traveler_client, other_client, django_assert_num_queries):
    mine = TripFactory.create_batch(3, traveler=traveler_client.traveler, leg__country="AM", leg__cities=["Yerevan"])
    TripFactory(traveler=other_client.traveler)
    # token lookup, count, page of trips, all their legs
    with django_assert_num_queries(4):
        response = traveler_client.get("/api/v1/trips/")
    data = response.json()
    assert data["count"] == 3
    assert sorted(t["id"] for t in data["results"]) == sorted(t.pk for t in mine)
    assert data["results"][0]["legs"][0]["cities"] == ["Yerevan"]
    assert traveler_client.get("/api/v1/trips/?page_size=2").json()["next"]


def test_detail_query_count(traveler_client, django_assert_num_queries):
    trip = TripFactory(traveler=traveler_client.traveler)
    with django_assert_num_queries(3):  # token, trip, legs
        assert traveler_client.get(f"/api/v1/trips/{trip.pk}/").status_code == 200


def test_another_travelers_trip_is_404_for_every_method(traveler_client, other_client):
    theirs = TripFactory(traveler=other_client.traveler)
    url = f"/api/v1/trips/{theirs.pk}/"
    assert traveler_client.get(url).status_code == 404
    assert traveler_client.put(url, body(), format="json").status_code == 404
    assert traveler_client.patch(url, {"notes": "mine now"}, format="json").status_code == 404
    response = traveler_client.delete(url)
    assert_problem(response, 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.notes == ""


def test_anonymous_gets_401_everywhere(api_client, traveler):
    trip = TripFactory(traveler=traveler)
    for method, url in [
        ("get", "/api/v1/trips/"),
        ("post", "/api/v1/trips/"),
        ("get", f"/api/v1/trips/{trip.pk}/"),
        ("patch", f"/api/v1/trips/{trip.pk}/"),
        ("delete", f"/api/v1/trips/{trip.pk}/"),
    ]:
        response = getattr(api_client, method)(url, {}, format="json")
        assert_problem(response, 401, "not_authenticated")
    assert Trip.objects.filter(pk=trip.pk).exists()


def test_put_replaces_and_patch_changes_parts(traveler_client):
    trip_id = traveler_client.post("/api/v1/trips/", body(), format="json").json()["id"]
    url = f"/api/v1/trips/{trip_id}/"
    new = {"legs": [{"country": "GE", "cities": ["Tbilisi"], "start_date": day(2), "end_date": day(4)}]}
    data = traveler_client.put(url, new, format="json").json()
    assert data["legs"][0]["country"] == "GE"
    assert (data["accommodation"], data["companions"], data["notes"]) == ("", [], "")
    data = traveler_client.patch(url, {"notes": "changed"}, format="json").json()
    assert (data["notes"], data["legs"][0]["cities"]) == ("changed", ["Tbilisi"])
    response = traveler_client.patch(
        url, {"legs": [{"country": "GE", "start_date": day(4), "end_date": day(2)}]}, format="json"
    )
    assert_problem(response, 400, "end_before_start")


def test_delete(traveler_client):
    trip = TripFactory(traveler=traveler_client.traveler)
    assert traveler_client.delete(f"/api/v1/trips/{trip.pk}/").status_code == 204
    assert not Trip.objects.filter(pk=trip.pk).exists()
