"""The public countries API: contract, languages, ETag/304, delta sync, errors, pinned query counts."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from countries.models import Country, Mission
from countries.services import country_pack_invalidate
from tests.problems import assert_problem

LIST = "/api/v1/countries/"
PACK = "/api/v1/countries/{}/"
MISSIONS = "/api/v1/missions/"
# Monday 23 November 2026, 10:30 in Yerevan (UTC+4): the embassy is open.
MONDAY_MORNING_YEREVAN = dt.datetime(2026, 11, 23, 6, 30, tzinfo=dt.UTC)

pytestmark = pytest.mark.django_db


# --- GET /countries/


def test_the_list_has_every_country_in_russian_by_default(reference_data, api_client, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = api_client.get(LIST)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    items = response.json()
    assert len(items) == 249
    assert all(set(item) == {"code", "name", "advisory_level", "callbacks_enabled", "updated_at"} for item in items)
    by_code = {item["code"]: item for item in items}
    assert by_code["AM"]["name"] == "Армения"
    assert (by_code["AM"]["advisory_level"], by_code["AM"]["callbacks_enabled"]) == (1, True)
    assert (by_code["FR"]["advisory_level"], by_code["FR"]["callbacks_enabled"]) == (None, False)
    assert [item["name"] for item in items] == sorted(item["name"] for item in items)
    assert response["Content-Language"] == "ru"


def test_the_list_speaks_english_on_request(reference_data, api_client):
    response = api_client.get(LIST, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    by_code = {item["code"]: item for item in response.json()}
    assert by_code["AM"]["name"] == "Armenia"
    assert by_code["US"]["name"] == "United States of America"
    assert "Accept-Language" in response["Vary"]


def test_the_list_answers_304_to_its_etag_and_a_new_etag_after_a_change(
    reference_data, api_client, django_assert_num_queries
):
    first = api_client.get(LIST)
    etag = first["ETag"]
    assert etag.startswith('"')
    assert len(etag) == 34
    with django_assert_num_queries(1):
        again = api_client.get(LIST, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert api_client.get(LIST, HTTP_IF_NONE_MATCH=f'"other", W/{etag}').status_code == 304
    assert api_client.get(LIST, HTTP_IF_NONE_MATCH="*").status_code == 304
    assert api_client.get(LIST, HTTP_ACCEPT_LANGUAGE="en", HTTP_IF_NONE_MATCH=etag).status_code == 200

    Country.objects.filter(code="KH").update(advisory_level=3)
    changed = api_client.get(LIST, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_delta_sync_returns_only_countries_changed_since(reference_data, api_client):
    synced = max(item["updated_at"] for item in api_client.get(LIST).json())
    assert api_client.get(LIST, {"updated_since": synced}).json() == []

    country_pack_invalidate(code="JO")
    changed = api_client.get(LIST, {"updated_since": synced}).json()
    assert [item["code"] for item in changed] == ["JO"]
    assert changed[0]["updated_at"] > synced


def test_updated_since_accepts_offsets_a_plus_lost_to_url_decoding_and_naive_utc(reference_data, api_client):
    Country.objects.filter(code="SI").update(updated_at=timezone.now() + dt.timedelta(days=1))
    tomorrow = (timezone.now() + dt.timedelta(hours=20)).astimezone(dt.timezone(dt.timedelta(hours=3)))
    for value in (
        tomorrow.isoformat(),
        tomorrow.isoformat().replace("+", " "),  # "+03:00" sent unencoded arrives as " 03:00"
        tomorrow.astimezone(dt.UTC).replace(tzinfo=None).isoformat(),
    ):
        assert [item["code"] for item in api_client.get(LIST, {"updated_since": value}).json()] == ["SI"], value


@pytest.mark.parametrize(
    "value", ["yesterday", "2026-13-01T00:00:00Z", "2026-05-01T25:00", "1714557600", "2026-05-01T10:00:00+99:00"]
)
def test_a_bad_updated_since_is_a_400_problem(reference_data, api_client, value):
    body = assert_problem(api_client.get(LIST, {"updated_since": value}), 400, "invalid_updated_since")
    assert body["errors"][0]["field"] == "updated_since"


def test_an_updated_since_with_an_offset_postgresql_cannot_store_still_works(reference_data, api_client):
    """Found by schemathesis: -16:37 is a valid ISO offset but beyond PostgreSQL's range; it is compared in UTC."""
    response = api_client.get(LIST, {"updated_since": "0516-09-03T15:48:29-16:37"})
    assert response.status_code == 200
    assert len(response.json()) == 249


def test_only_get_is_allowed_on_the_list(api_client):
    response = api_client.post(LIST, {}, format="json")
    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


# --- GET /countries/{code}/


@time_machine.travel(MONDAY_MORNING_YEREVAN, tick=False)
def test_the_pack_has_everything_for_offline_use(reference_data, api_client, no_pack_contributors):
    response = api_client.get(PACK.format("AM"))
    assert response.status_code == 200
    pack = response.json()
    assert set(pack) == {
        "code",
        "name",
        "language",
        "capital",
        "calling_code",
        "currency",
        "time_zones",
        "callbacks_enabled",
        "advisory",
        "emergency_numbers",
        "sections",
        "missions",
        "updated_at",
    }
    assert (pack["code"], pack["name"], pack["language"], pack["capital"]) == ("AM", "Армения", "ru", "Ереван")
    assert (pack["calling_code"], pack["currency"], pack["time_zones"]) == ("374", "AMD", ["Asia/Yerevan"])
    assert pack["advisory"]["level"] == 1
    assert pack["advisory"]["regions"][0]["level"] == 2
    assert pack["emergency_numbers"] == {"police": "102", "ambulance": "103", "fire": "101", "single": "112"}
    assert [s["kind"] for s in pack["sections"]] == ["entry", "safety", "health", "laws", "money", "transport"]
    assert pack["sections"][0]["title"] == "Въезд и визы"
    embassy, consulate = pack["missions"]
    assert (embassy["ref"], embassy["kind"], consulate["kind"]) == (
        "am-yerevan-embassy",
        "embassy",
        "consulate_general",
    )
    assert embassy["open_now"] is True
    assert embassy["closes_at"] == "2026-11-23T13:00:00+04:00"
    assert embassy["closes_at_utc"] == "2026-11-23T09:00:00Z"
    assert embassy["opens_at"] == "2026-11-23T14:00:00+04:00"
    assert embassy["opens_at_utc"] == "2026-11-23T10:00:00Z"
    assert embassy["opening_hours"]["sat"] == []


def test_the_pack_speaks_english_on_request_with_its_own_etag(reference_data, api_client):
    russian = api_client.get(PACK.format("am"))
    english = api_client.get(PACK.format("am"), HTTP_ACCEPT_LANGUAGE="en")
    pack = english.json()
    assert (pack["name"], pack["language"], pack["capital"]) == ("Armenia", "en", "Yerevan")
    assert pack["sections"][0]["title"] == "Entry and visas"
    assert pack["missions"][0]["name"] == "Embassy of Russia in Armenia"
    assert english["ETag"] != russian["ETag"]
    assert english["Vary"] == "Accept-Language"
    assert english["Content-Language"] == "en"


@pytest.mark.parametrize("code", ["am", "Am", "AM", "aM"])
def test_the_country_code_is_accepted_in_any_case(reference_data, api_client, code):
    assert api_client.get(PACK.format(code)).json()["code"] == "AM"


@pytest.mark.parametrize("code", ["ZZ", "xx", "ARM", "1", "a"])
def test_an_unknown_code_is_a_404_country_not_found(reference_data, api_client, code):
    assert_problem(api_client.get(PACK.format(code)), 404, "country_not_found")


def test_the_pack_is_built_with_four_queries_then_served_from_the_cache_with_none(
    reference_data, api_client, no_pack_contributors, django_assert_num_queries
):
    with django_assert_num_queries(4):
        first = api_client.get(PACK.format("US"))
    with django_assert_num_queries(0):
        cached = api_client.get(PACK.format("US"))
    assert cached.content == first.content
    assert cached["ETag"] == first["ETag"]


def test_if_none_match_gets_a_304_with_no_body_and_no_query(reference_data, api_client, django_assert_num_queries):
    etag = api_client.get(PACK.format("TH"))["ETag"]
    with django_assert_num_queries(0):
        response = api_client.get(PACK.format("th"), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"] == "public, no-cache"
    assert response["Vary"] == "Accept-Language"


def test_the_etag_changes_when_a_mission_changes(reference_data, api_client, django_capture_on_commit_callbacks):
    etag = api_client.get(PACK.format("EG"))["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        Mission.objects.filter(ref="eg-hurghada-consulate-general").update(duty_phone="+201000000000")
        country_pack_invalidate(code="EG")
    response = api_client.get(PACK.format("EG"), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag
    assert "+201000000000" in response.content.decode()


def test_only_get_is_allowed_on_the_pack(reference_data, api_client):
    assert_problem(api_client.delete(PACK.format("AM")), 405, "method_not_allowed")


def test_the_pack_matches_the_published_schema(reference_data, api_client, openapi):
    for code, language in (("AM", "ru"), ("US", "en"), ("FR", "en")):
        openapi.validate("CountryPackOutput", api_client.get(PACK.format(code), HTTP_ACCEPT_LANGUAGE=language).json())


# --- GET /missions/


def test_missions_of_a_country_embassy_first(reference_data, api_client, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = api_client.get(MISSIONS, {"country": "us"}, HTTP_ACCEPT_LANGUAGE="en")
    missions = response.json()
    assert [m["ref"] for m in missions] == [
        "us-washington-embassy",
        "us-houston-consulate-general",
        "us-new-york-consulate-general",
    ]
    assert missions[0]["name"] == "Embassy of Russia in the United States"
    assert missions[0]["distance_km"] is None


def test_missions_near_a_point_are_sorted_by_distance(reference_data, api_client, django_assert_num_queries):
    with django_assert_num_queries(1):
        missions = api_client.get(MISSIONS, {"near": "40.7128,-74.0060"}).json()  # Manhattan
    assert len(missions) == Mission.objects.count()
    assert missions[0]["ref"] == "us-new-york-consulate-general"
    assert 7 < missions[0]["distance_km"] < 10
    assert missions[1]["ref"] == "us-washington-embassy"
    assert 320 < missions[1]["distance_km"] < 340
    distances = [m["distance_km"] for m in missions]
    assert distances == sorted(distances)


def test_near_and_country_combine(reference_data, api_client):
    missions = api_client.get(MISSIONS, {"near": "36.55,32.0", "country": "TR"}).json()  # Alanya
    assert next(m["ref"] for m in missions) == "tr-antalya-consulate-general"
    assert {m["country"] for m in missions} == {"TR"}


def test_inactive_missions_are_not_listed(reference_data, api_client):
    Mission.objects.filter(ref="th-phuket-consulate-general").update(is_active=False)
    refs = [m["ref"] for m in api_client.get(MISSIONS, {"country": "TH"}).json()]
    assert refs == ["th-bangkok-embassy"]
    assert [m["ref"] for m in api_client.get(PACK.format("TH")).json()["missions"]] == ["th-bangkok-embassy"]


def test_all_missions_without_filters(reference_data, api_client, openapi):
    missions = api_client.get(MISSIONS).json()
    assert len(missions) == Mission.objects.count()
    openapi.validate("MissionOutput", missions[0])


@pytest.mark.parametrize("near", ["foo", "91,0", "0,181", "-90.5,10", "nan,0", "1,2,3", "40.1;44.5", "1e3,2"])
def test_bad_coordinates_are_a_400_invalid_coordinates(reference_data, api_client, near):
    body = assert_problem(api_client.get(MISSIONS, {"near": near}), 400, "invalid_coordinates")
    assert body["errors"] == [{"field": "near", "code": "invalid_coordinates", "detail": body["detail"]}]


def test_an_unknown_country_filter_is_a_400(reference_data, api_client):
    assert_problem(api_client.get(MISSIONS, {"country": "XX"}), 400, "invalid_country")
