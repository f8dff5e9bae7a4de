import datetime as dt

import pytest
import time_machine
from rest_framework.test import APIClient

from callbacks.models import CallbackRequest, Outcome, Status, Topic
from callbacks.services import callback_attempt_record, callback_request_claim_next
from tests.factories.callbacks import CallbackRequestFactory
from tests.factories.travelers import TravelerFactory
from tests.problems import assert_problem
from travelers.services import token_pair_issue

pytestmark = pytest.mark.django_db
URL = "/api/v1/callbacks/"
OPEN_TUESDAY = dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC)  # 12:00 in Yerevan
CLOSED_TUESDAY = dt.datetime(2026, 3, 3, 16, 0, tzinfo=dt.UTC)  # 20:00 in Yerevan


def body(**kwargs):
    return {"country": "AM", "topic": "lost_documents", "message": "My passport was stolen.", "language": "ru"} | kwargs


def client_for(traveler) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair_issue(traveler=traveler).access}")
    return client


# --- create -------------------------------------------------------------------------------------------------------


def test_create_answers_201_with_the_queue_figures_and_the_mission(embassy, traveler_client):
    embassy.phones = ["+37410567427"]
    embassy.save()
    with time_machine.travel(OPEN_TUESDAY, tick=False):
        response = traveler_client.post(URL, body(country="am"), format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 201, response.content
    data = response.json()
    request = CallbackRequest.objects.get()
    assert data["id"] == request.pk
    assert data["status"] == "queued"
    assert data["position"] == 0
    assert data["estimated_wait_minutes"] == 0
    assert data["country"] == "AM"
    assert data["topic"] == "lost_documents"
    assert data["is_urgent"] is False
    assert data["language"] == "ru"
    assert data["mission"] == {
        "id": embassy.pk,
        "kind": "embassy",
        "name": "Embassy of Russia in Armenia",
        "city": "Yerevan",
        "phones": ["+37410567427"],
        "duty_phone": "",
        "time_zone": "Asia/Yerevan",
    }
    assert data["mission_open"] is True
    assert data["mission_opens_at"] is None
    assert data["mission_opens_at_utc"] is None
    assert data["queued_at"] == "2026-03-03T08:00:00Z"
    assert data["attempts"] == []
    assert data["outcome"] == ""


def test_create_when_the_mission_is_closed_gives_the_opening_in_local_time_and_utc(embassy, traveler_client):
    CallbackRequestFactory(mission=embassy, country=embassy.country, queued_at=CLOSED_TUESDAY - dt.timedelta(hours=1))
    with time_machine.travel(CLOSED_TUESDAY, tick=False):
        response = traveler_client.post(URL, body(topic="other"), format="json", HTTP_ACCEPT_LANGUAGE="ru")
    data = response.json()
    assert response.status_code == 201
    assert data["mission"]["name"] == "Посольство России в Армении"
    assert data["position"] == 1
    assert data["mission_open"] is False
    assert data["mission_opens_at"] == "2026-03-04T09:00:00+04:00"
    assert data["mission_opens_at_utc"] == "2026-03-04T05:00:00+00:00"
    assert data["estimated_wait_minutes"] == 13 * 60 + 10


def test_language_defaults_to_the_travelers_and_urgent_topics_are_flagged(embassy):
    client = client_for(TravelerFactory(language="en"))
    response = client.post(URL, {"country": "AM", "topic": "arrest_detention"}, format="json")
    assert response.status_code == 201
    assert (response.json()["language"], response.json()["is_urgent"]) == ("en", True)


def test_create_query_count_is_pinned(embassy, traveler_client, django_assert_num_queries):
    # auth; (savepoint: create and answer in one transaction) country, trip cities, missions, open+recent,
    # (savepoint) insert (2 releases); read back with the queue figures, its calls. The outer savepoint is
    # BEGIN/COMMIT outside the test transaction.
    with django_assert_num_queries(12):
        response = traveler_client.post(URL, body(), format="json")
    assert response.status_code == 201


# --- every error code reaches the client as problem+json ------------------------------------------------------


def test_unknown_country_is_400_country_not_found(launch_countries, traveler_client):
    problem = assert_problem(traveler_client.post(URL, body(country="zz"), format="json"), 400, "country_not_found")
    assert problem["errors"][0]["field"] == "country"


def test_country_without_callbacks_is_400_callback_not_available_naming_the_five(launch_countries, traveler_client):
    response = traveler_client.post(URL, body(country="fr"), format="json", HTTP_ACCEPT_LANGUAGE="en")
    problem = assert_problem(response, 400, "callback_not_available")
    assert problem["available_countries"] == ["AM", "JO", "KH", "SI", "US"]
    assert "Armenia" in problem["detail"]
    assert "Cambodia" in problem["detail"]
    response = traveler_client.post(URL, body(country="fr"), format="json", HTTP_ACCEPT_LANGUAGE="ru")
    assert "Камбоджа" in response.json()["detail"]


def test_another_phone_is_400_phone_not_verified(embassy, traveler_client):
    problem = assert_problem(
        traveler_client.post(URL, body(phone="+79990001122"), format="json"), 400, "phone_not_verified"
    )
    assert problem["errors"] == [{"field": "phone", "code": "phone_not_verified", "detail": problem["detail"]}]


def test_the_verified_phone_is_accepted(embassy, traveler_client):
    phone = str(traveler_client.traveler.phone)
    assert traveler_client.post(URL, body(phone=phone), format="json").status_code == 201


def test_second_open_request_is_409_callback_already_open_with_its_id(embassy, traveler_client):
    first = traveler_client.post(URL, body(), format="json").json()
    problem = assert_problem(traveler_client.post(URL, body(), format="json"), 409, "callback_already_open")
    assert problem["open_request_id"] == first["id"]


def test_fourth_request_in_a_day_is_429_with_retry_after(embassy, traveler_client):
    for minute in range(3):
        with time_machine.travel(OPEN_TUESDAY + dt.timedelta(minutes=minute), tick=False):
            created = traveler_client.post(URL, body(), format="json").json()
            assert traveler_client.post(f"{URL}{created['id']}/cancel/").status_code == 200
    with time_machine.travel(OPEN_TUESDAY + dt.timedelta(hours=1), tick=False):
        response = traveler_client.post(URL, body(), format="json")
    problem = assert_problem(response, 429, "callback_limit_reached")
    assert response["Retry-After"] == str(23 * 3600 + 1)
    assert problem["retry_after"] == 23 * 3600 + 1


def test_failed_requests_do_not_use_up_the_daily_limit(launch_countries, embassy, traveler_client):
    for _ in range(5):
        assert traveler_client.post(URL, body(country="FR"), format="json").status_code == 400
    assert traveler_client.post(URL, body(), format="json").status_code == 201


def test_message_over_1000_characters_is_400(embassy, traveler_client):
    problem = assert_problem(
        traveler_client.post(URL, body(message="x" * 1001), format="json"), 400, "validation_error"
    )
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("message", "max_length")]
    assert traveler_client.post(URL, body(message="x" * 1000), format="json").status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"country": "AM", "topic": "lunch"}, "topic"),
        ({"country": "AM"}, "topic"),
        ({"topic": "other"}, "country"),
        ({"country": "AM", "topic": "other", "language": "de"}, "language"),
    ],
)
def test_invalid_fields_are_400_with_the_field_named(embassy, traveler_client, payload, field):
    response = traveler_client.post(URL, payload, format="json")
    assert_problem(response, 400)
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_signed_out_is_401(embassy, api_client):
    assert_problem(api_client.post(URL, body(), format="json"), 401, "not_authenticated")
    assert_problem(api_client.get(URL), 401, "not_authenticated")


def test_cancel_while_being_called_is_409_callback_not_cancellable(embassy, staff, traveler_client):
    created = traveler_client.post(URL, body(), format="json").json()
    callback_request_claim_next(staff=staff, mission=embassy)
    problem = assert_problem(traveler_client.post(f"{URL}{created['id']}/cancel/"), 409, "callback_not_cancellable")
    assert problem["status"] == 409


# --- read and cancel: own requests only ---------------------------------------------------------------------------


def test_another_travelers_request_is_404_everywhere(embassy, traveler_client):
    other = CallbackRequestFactory(mission=embassy, country=embassy.country)
    assert_problem(traveler_client.get(f"{URL}{other.pk}/"), 404, "not_found")
    assert_problem(traveler_client.post(f"{URL}{other.pk}/cancel/"), 404, "not_found")
    assert traveler_client.get(URL).json()["results"] == []
    other.refresh_from_db()
    assert other.status == Status.QUEUED


def test_missing_request_is_404(embassy, traveler_client):
    assert_problem(traveler_client.get(f"{URL}999999/"), 404, "not_found")


def test_detail_shows_status_position_wait_calls_and_outcome(embassy, staff, traveler_client):
    with time_machine.travel(OPEN_TUESDAY, tick=False):
        created = traveler_client.post(URL, body(), format="json").json()
        taken = callback_request_claim_next(staff=staff, mission=embassy)
        detail = traveler_client.get(f"{URL}{created['id']}/").json()
        assert (detail["status"], detail["position"], detail["estimated_wait_minutes"]) == ("in_progress", None, None)
        assert detail["claimed_at"] == "2026-03-03T08:00:00Z"
    with time_machine.travel(OPEN_TUESDAY + dt.timedelta(minutes=3), tick=False):
        callback_attempt_record(request=taken, staff=staff, outcome=Outcome.NO_ANSWER, note="internal note")
        detail = traveler_client.get(f"{URL}{created['id']}/").json()
    assert detail["status"] == "no_answer"
    assert detail["position"] == 0
    assert detail["estimated_wait_minutes"] == 15
    assert detail["next_attempt_at"] == "2026-03-03T08:18:00Z"
    assert detail["attempts"] == [
        {"started_at": "2026-03-03T08:00:00Z", "ended_at": "2026-03-03T08:03:00Z", "outcome": "no_answer"}
    ]
    assert detail["outcome"] == "no_answer"
    assert "internal note" not in str(detail)
    assert str(staff.username) not in str(detail)


def test_detail_query_count_is_pinned(embassy, traveler_client, django_assert_num_queries):
    created = traveler_client.post(URL, body(), format="json").json()
    with django_assert_num_queries(3):  # auth, the request with mission and queue figures, its calls
        assert traveler_client.get(f"{URL}{created['id']}/").status_code == 200


def test_list_is_own_newest_first_paginated_with_a_fixed_number_of_queries(
    embassy, traveler_client, django_assert_num_queries
):
    me = traveler_client.traveler
    for day in range(5):
        CallbackRequestFactory(
            traveler=me,
            mission=embassy,
            country=embassy.country,
            status=Status.COMPLETED,
            queued_at=OPEN_TUESDAY - dt.timedelta(days=day + 1),
            closed_at=OPEN_TUESDAY,
        )
    CallbackRequestFactory(traveler=me, mission=embassy, country=embassy.country, queued_at=OPEN_TUESDAY)
    CallbackRequestFactory(mission=embassy, country=embassy.country)  # someone else's
    with django_assert_num_queries(4):  # auth, count, page (with figures), calls
        response = traveler_client.get(URL, {"page_size": 4})
    data = response.json()
    assert data["count"] == 6
    assert [r["status"] for r in data["results"]] == ["queued", "completed", "completed", "completed"]
    assert data["results"][0]["position"] == 0
    assert data["next"]


def test_cancel_answers_the_cancelled_request_and_is_idempotent(embassy, traveler_client):
    created = traveler_client.post(URL, body(), format="json").json()
    with time_machine.travel(OPEN_TUESDAY, tick=False):
        response = traveler_client.post(f"{URL}{created['id']}/cancel/")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["closed_at"]) == ("cancelled", "2026-03-03T08:00:00Z")
    assert traveler_client.post(f"{URL}{created['id']}/cancel/").status_code == 200
    assert traveler_client.post(URL, body(topic=Topic.OTHER.value), format="json").status_code == 201


def test_create_keeps_no_request_when_answering_fails_so_a_retry_succeeds(embassy, traveler_client, monkeypatch):
    """Anything failing after the insert (reading the queue figures did, on SQLite) leaves no row behind: the
    traveler's retry creates the request instead of meeting a 409 for a request they were never shown."""
    import callbacks.api.views

    def fail(request, pk):
        raise RuntimeError("the answer could not be built")

    with time_machine.travel(OPEN_TUESDAY, tick=False):
        with monkeypatch.context() as patched:
            patched.setattr(callbacks.api.views, "_one", fail)
            with pytest.raises(RuntimeError):
                traveler_client.post(URL, body(), format="json")
        assert not CallbackRequest.objects.exists()
        retried = traveler_client.post(URL, body(), format="json")
    assert retried.status_code == 201, retried.content
    assert CallbackRequest.objects.get().pk == retried.json()["id"]
