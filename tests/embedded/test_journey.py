"""The traveler's API journey and the staff panel's crisis flows on the embedded default (`make run` with
nothing configured: SQLite, tasks run in-process, local-memory cache, push and SMS to the locmem outboxes).

Transactional tests: commits really happen, so what is enqueued "after the commit" runs, eagerly, as it does
under `make run`.
"""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import Alert, AlertStatus, Delivery
from callbacks.models import CallbackRequest, Status
from core.push.backends import locmem as push_outbox
from core.sms.backends import locmem as sms_outbox
from countries.models import Mission
from countries.services import staff_user_upsert

PHONE = "+37410123456"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _empty_outboxes():
    sms_outbox.outbox.clear()
    push_outbox.outbox.clear()
    yield
    sms_outbox.outbox.clear()
    push_outbox.outbox.clear()


def _signed_in_traveler() -> APIClient:
    client = APIClient()
    assert client.post("/api/v1/auth/otp/", {"phone": PHONE}, format="json").status_code == 202
    (message,) = [m for m in sms_outbox.outbox if m.to == PHONE]
    code = next(word for word in message.body.split() if word.strip(".:").isdigit()).strip(".:")
    response = client.post("/api/v1/auth/token/", {"phone": PHONE, "code": code}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


def _staff_client(username: str, *, superuser: bool, missions=()) -> Client:
    staff_user_upsert(username=username, password="embedded-pass-1", superuser=superuser, missions=missions)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post(
        reverse("admin:login"), {"username": username, "password": "embedded-pass-1", "next": "/admin/"}
    )
    assert response.status_code == 302, "staff sign-in on the embedded default"
    return client


def test_the_traveler_journey_and_the_call_back_queue(reference_data):
    traveler = _signed_in_traveler()
    today = timezone.localdate()
    trip = traveler.post(
        "/api/v1/trips/",
        {"legs": [{"country": "AM", "cities": ["Yerevan"], "start_date": str(today), "end_date": str(today)}]},
        format="json",
    )
    assert trip.status_code == 201, trip.content
    device = traveler.post(
        "/api/v1/devices/", {"platform": "android", "token": "embedded-fcm-1", "locale": "ru-RU"}, format="json"
    )
    assert device.status_code in (200, 201), device.content
    assert traveler.get("/api/v1/countries/AM/").status_code == 200

    # The call-back queue: create (the figures are computed on SQLite too), list, a second one is a 409.
    created = traveler.post("/api/v1/callbacks/", {"country": "AM", "topic": "lost_documents"}, format="json")
    assert created.status_code == 201, created.content
    request_id = created.json()["id"]
    assert created.json()["position"] == 0
    listed = traveler.get("/api/v1/callbacks/")
    assert listed.status_code == 200, listed.content
    assert [item["id"] for item in listed.json()["results"]] == [request_id]
    again = traveler.post("/api/v1/callbacks/", {"country": "AM", "topic": "lost_documents"}, format="json")
    assert again.status_code == 409, again.content
    assert again.json()["code"] == "callback_already_open"
    cancelled = traveler.post(f"/api/v1/callbacks/{request_id}/cancel/")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled"

    # Staff take the next request of the embassy's queue in the panel.
    queued = traveler.post("/api/v1/callbacks/", {"country": "AM", "topic": "lost_documents"}, format="json")
    assert queued.status_code == 201, queued.content
    embassy = Mission.objects.get(ref="am-yerevan-embassy")
    staff = _staff_client("staff-am", superuser=False, missions=(embassy,))
    changelist = staff.get(reverse("admin:callbacks_callbackrequest_changelist"))
    assert changelist.status_code == 200
    taken = staff.post(reverse("admin:callbacks_callbackrequest_take_next", args=[embassy.pk]))
    assert taken.status_code == 302
    assert taken["Location"] == reverse("admin:callbacks_callbackrequest_change", args=[queued.json()["id"]])
    claimed = CallbackRequest.objects.get(pk=queued.json()["id"])
    assert claimed.status == Status.IN_PROGRESS
    assert traveler.get(f"/api/v1/callbacks/{claimed.pk}/").json()["status"] == "in_progress"
    # The traveler's phone heard about it (the notice is sent in-process after the commit).
    assert any(m.data.get("callback_id") == str(claimed.pk) for m in push_outbox.outbox)
    nothing_left = staff.post(reverse("admin:callbacks_callbackrequest_take_next", args=[embassy.pk]))
    assert nothing_left.status_code == 302
    assert nothing_left["Location"] == reverse("admin:callbacks_callbackrequest_changelist")


def test_an_alert_composed_approved_and_published_in_the_panel_reaches_the_phone(reference_data):
    traveler = _signed_in_traveler()
    today = timezone.localdate()
    traveler.post(
        "/api/v1/trips/",
        {
            "legs": [
                {
                    "country": "AM",
                    "cities": ["Yerevan"],
                    "start_date": str(today),
                    "end_date": str(today + dt.timedelta(days=3)),
                }
            ]
        },
        format="json",
    )
    traveler.post(
        "/api/v1/devices/", {"platform": "android", "token": "embedded-fcm-2", "locale": "en-GB"}, format="json"
    )
    embassy = Mission.objects.get(ref="am-yerevan-embassy")
    author = _staff_client("staff-am", superuser=False, missions=(embassy,))
    approver = _staff_client("crisis-centre", superuser=True)

    added = author.post(
        reverse("admin:alerts_alert_add"),
        {
            "country": "AM",
            "cities_text": "Yerevan",
            "severity": "warning",
            "category": "weather",
            "title_ru": "Снегопад",
            "title_en": "Snowfall",
            "text_ru": "Перевалы закрыты.",
            "text_en": "Mountain passes are closed.",
        },
    )
    assert added.status_code == 302, added.content[:2000]
    alert = Alert.objects.get()
    assert author.get(reverse("admin:alerts_alert_changelist")).status_code == 200
    assert author.get(reverse("admin:alerts_alert_preview", args=[alert.pk])).status_code == 200
    approve = approver.post(reverse("admin:alerts_alert_action", args=[alert.pk, "approve"]))
    assert approve.status_code == 302
    publish = author.post(reverse("admin:alerts_alert_action", args=[alert.pk, "publish"]))
    assert publish.status_code == 302
    alert.refresh_from_db()
    assert alert.status == AlertStatus.SENT, alert.status
    assert Delivery.objects.filter(alert=alert).count() == 1
    assert [m.title for m in push_outbox.outbox if m.token == "embedded-fcm-2"] == ["Snowfall"]
    mine = traveler.get("/api/v1/me/alerts/")
    assert mine.status_code == 200
    assert [item["id"] for item in mine.json()["results"]] == [alert.pk]
    assert author.get(reverse("admin:alerts_alert_change", args=[alert.pk])).status_code == 200
