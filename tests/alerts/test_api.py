"""The traveler API of alerts: current alerts per country, one alert, my alerts, replies."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import AlertStatus, SafetyReply
from alerts.services import alert_cancel, alert_create
from tests.alerts.conftest import publish_frozen, travelers_in
from tests.factories.alerts import AlertFactory
from tests.factories.travelers import DeviceFactory, TravelerFactory, TripFactory
from tests.problems import assert_problem
from travelers.services import token_pair_issue

pytestmark = pytest.mark.django_db


def _publish(staff, country, **kwargs):
    fields = {
        "severity": "warning",
        "title_ru": "Эвакуация",
        "title_en": "Evacuation",
        "text_ru": "Покиньте район аэропорта.",
        "text_en": "Leave the airport area.",
    } | kwargs
    return publish_frozen(alert=alert_create(author=staff, country=country, **fields), user=staff)


def _client_for(traveler) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair_issue(traveler=traveler).access}")
    return client


@pytest.fixture
def me(traveler, armenia):
    """The signed-in traveler on a trip in Armenia with one phone."""
    TripFactory(traveler=traveler, leg__country=armenia, leg__cities=["Yerevan"])
    DeviceFactory(traveler=traveler, token="my-phone")
    return traveler


# --- GET /api/v1/alerts/?country= --------------------------------------------------------------------------


def test_country_is_required(api_client):
    response = api_client.get("/api/v1/alerts/")
    body = assert_problem(response, 400, "country_required")
    assert body["errors"][0]["field"] == "country"


def test_malformed_country_is_refused(api_client):
    body = api_client.get("/api/v1/alerts/?country=ARM").json()
    assert (body["status"], body["code"]) == (400, "invalid_country")


def test_lists_only_current_alerts_of_the_country_in_the_requests_language(
    staff, armenia, georgia, api_client, django_assert_num_queries
):
    travelers_in(armenia, 1)
    current = _publish(staff, armenia)
    cancelled = _publish(staff, armenia)
    alert_cancel(alert=cancelled, user=staff)
    expired = _publish(staff, armenia, expires_at=timezone.now() + dt.timedelta(minutes=1))
    type(expired).objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    AlertFactory(country=armenia, author=staff)  # draft
    AlertFactory(country=armenia, author=staff, status=AlertStatus.SCHEDULED)
    AlertFactory(country=georgia, author=staff, status=AlertStatus.SENT)
    second = _publish(staff, armenia, severity="info", title_ru="Инфо", title_en="Info")

    with django_assert_num_queries(2):  # page count + page
        response = api_client.get("/api/v1/alerts/?country=am")
    assert response.status_code == 200
    body = response.json()
    assert [a["id"] for a in body["results"]] == [second.pk, current.pk]
    first = body["results"][1]
    assert first["title"] == "Эвакуация"
    assert first["text"] == "Покиньте район аэропорта."
    assert first["country"] == "AM"
    assert first["is_active"]
    assert first["collapse_id"] == str(current.pk)
    assert set(first) == {
        "id",
        "country",
        "cities",
        "severity",
        "category",
        "title",
        "text",
        "status",
        "is_active",
        "published_at",
        "expires_at",
        "collapse_id",
        "supersedes",
    }
    english = api_client.get("/api/v1/alerts/?country=AM", HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["results"][1]["title"] == "Evacuation"


def test_public_endpoints_ignore_a_bad_bearer_token(staff, armenia):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert client.get("/api/v1/alerts/?country=AM").status_code == 200


# --- GET /api/v1/alerts/{id}/ ------------------------------------------------------------------------------


def test_published_alert_is_public_drafts_and_scheduled_are_not(staff, armenia, api_client, django_assert_num_queries):
    travelers_in(armenia, 1)
    alert = _publish(staff, armenia)
    with django_assert_num_queries(1):
        response = api_client.get(f"/api/v1/alerts/{alert.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response.json()["title"] == "Evacuation"
    for status in (AlertStatus.DRAFT, AlertStatus.SCHEDULED):
        hidden = AlertFactory(country=armenia, author=staff, status=status)
        response = api_client.get(f"/api/v1/alerts/{hidden.pk}/")
        assert_problem(response, 404, "alert_not_found")
    assert api_client.get("/api/v1/alerts/999999/").status_code == 404


def test_cancelled_alert_stays_readable_but_not_active(staff, armenia, api_client):
    alert = _publish(staff, armenia)
    alert_cancel(alert=alert, user=staff)
    body = api_client.get(f"/api/v1/alerts/{alert.pk}/").json()
    assert (body["status"], body["is_active"]) == ("cancelled", False)


# --- GET /api/v1/me/alerts/ ---------------------------------------------------------------------------------


def test_my_alerts_needs_sign_in(api_client):
    response = api_client.get("/api/v1/me/alerts/")
    assert_problem(response, 401, "not_authenticated")


def test_my_alerts_are_those_sent_to_my_devices_with_my_reply(
    staff, duty_officer, armenia, georgia, me, traveler_client, django_assert_num_queries
):
    mine = _publish(staff, armenia)
    others = TravelerFactory()
    TripFactory(traveler=others, leg__country=georgia)
    DeviceFactory(traveler=others, token="their-phone")
    theirs = _publish(duty_officer, georgia)
    older = _publish(staff, armenia, severity="info")
    SafetyReply.objects.create(alert=mine, traveler=me, status="safe", people=2)
    SafetyReply.objects.create(alert=theirs, traveler=others, status="need_help")

    with django_assert_num_queries(4):  # token, count, page, my replies
        response = traveler_client.get("/api/v1/me/alerts/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [a["id"] for a in results] == [older.pk, mine.pk]
    assert results[0]["reply"] is None
    assert results[1]["reply"]["status"] == "safe"
    assert results[1]["reply"]["people"] == 2
    assert theirs.pk not in [a["id"] for a in results]


# --- POST /api/v1/alerts/{id}/reply/ -----------------------------------------------------------------------


def test_reply_once_per_alert_a_new_reply_replaces_the_last(staff, armenia, me, traveler_client):
    alert = _publish(staff, armenia)
    url = f"/api/v1/alerts/{alert.pk}/reply/"
    first = traveler_client.post(
        url, {"status": "need_help", "message": "Stuck at the airport", "people": 3}, format="json"
    )
    assert first.status_code == 200
    assert first.json() | {"created_at": None, "updated_at": None} == {
        "alert": alert.pk,
        "status": "need_help",
        "message": "Stuck at the airport",
        "people": 3,
        "created_at": None,
        "updated_at": None,
    }
    second = traveler_client.post(url, {"status": "safe"}, format="json")
    assert second.status_code == 200
    reply = SafetyReply.objects.get(alert=alert, traveler=me)
    assert (reply.status, reply.message, reply.people) == ("safe", "", 1)
    assert SafetyReply.objects.count() == 1
    mine = traveler_client.get("/api/v1/me/alerts/").json()["results"][0]
    assert mine["reply"]["status"] == "safe"


def test_cannot_reply_to_an_alert_that_did_not_reach_me(staff, duty_officer, armenia, georgia, me, traveler_client):
    someone = TravelerFactory()
    TripFactory(traveler=someone, leg__country=georgia)
    DeviceFactory(traveler=someone, token="someone-phone")
    their_alert = _publish(duty_officer, georgia)
    response = traveler_client.post(f"/api/v1/alerts/{their_alert.pk}/reply/", {"status": "safe"}, format="json")
    assert_problem(response, 404, "alert_not_found")
    assert traveler_client.post("/api/v1/alerts/999999/reply/", {"status": "safe"}, format="json").status_code == 404
    draft = AlertFactory(country=armenia, author=staff)
    assert (
        traveler_client.post(f"/api/v1/alerts/{draft.pk}/reply/", {"status": "safe"}, format="json").status_code == 404
    )
    assert not SafetyReply.objects.exists()


def test_traveler_b_cannot_reply_to_travelers_a_alert(staff, armenia, me):
    alert = _publish(staff, armenia)  # reached `me` (A) only
    b = TravelerFactory()
    response = _client_for(b).post(f"/api/v1/alerts/{alert.pk}/reply/", {"status": "need_help"}, format="json")
    assert response.status_code == 404


def test_reply_needs_sign_in_and_valid_fields(staff, armenia, me, traveler_client, api_client):
    alert = _publish(staff, armenia)
    url = f"/api/v1/alerts/{alert.pk}/reply/"
    assert api_client.post(url, {"status": "safe"}, format="json").status_code == 401
    bad = traveler_client.post(url, {"status": "fine"}, format="json")
    assert assert_problem(bad, 400, "invalid_choice")["errors"][0]["field"] == "status"
    zero = traveler_client.post(url, {"status": "safe", "people": 0}, format="json").json()
    assert zero["errors"][0]["field"] == "people"
    long = traveler_client.post(url, {"status": "safe", "message": "x" * 1001}, format="json").json()
    assert long["errors"][0]["field"] == "message"
    assert not SafetyReply.objects.exists()
