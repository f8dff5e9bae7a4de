"""The staff panel: scoped lists, the progress bar in one query, compose through the services, preview,
four eyes, publish/cancel/correct, read-only published alerts, the replies roster."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alerts.models import Alert, AlertStatus, Delivery, DeliveryStatus, SafetyReply
from alerts.services import alert_create
from tests.alerts.conftest import publish_frozen, travelers_in
from tests.factories.alerts import AlertFactory
from tests.factories.travelers import DeviceFactory, TravelerFactory, TripFactory

pytestmark = pytest.mark.django_db


def _login(user) -> Client:
    """A signed-in staff panel session in English (the panel speaks the browser's language; Russian is the
    default) so that the assertions below read the English source strings."""
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def _draft(staff, country, **kwargs):
    fields = {
        "severity": "warning",
        "title_ru": "Протесты",
        "title_en": "Protests",
        "text_ru": "Избегайте центра города.",
        "text_en": "Avoid the city centre.",
    } | kwargs
    return alert_create(author=staff, country=country, **fields)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_changelist_shows_only_the_staff_members_countries(staff, armenia, georgia, duty_officer):
    mine = AlertFactory(country=armenia, author=staff, title_en="Armenian alert")
    AlertFactory(country=georgia, author=duty_officer, title_en="Georgian alert")
    page = _login(staff).get(reverse("admin:alerts_alert_changelist"))
    assert page.status_code == 200
    assert "Armenian alert" in page.text
    assert "Georgian alert" not in page.text
    assert _login(staff).get(reverse("admin:alerts_alert_change", args=[mine.pk])).status_code == 200
    other = Alert.objects.get(title_en="Georgian alert")
    assert _login(staff).get(reverse("admin:alerts_alert_change", args=[other.pk])).status_code == 302  # not found
    assert _login(staff).get(reverse("admin:alerts_alert_preview", args=[other.pk])).status_code == 404
    both = _login(duty_officer).get(reverse("admin:alerts_alert_changelist"))
    assert "Armenian alert" in both.text
    assert "Georgian alert" in both.text


def test_progress_bar_is_computed_in_one_aggregate_query_per_page(staff, armenia):
    client = _login(staff)
    travelers_in(armenia, 3)
    alert = publish_frozen(alert=_draft(staff, armenia), user=staff)
    Delivery.objects.filter(pk=Delivery.objects.filter(alert=alert).first().pk).update(status=DeliveryStatus.SENT)
    Delivery.objects.filter(pk=Delivery.objects.filter(alert=alert).last().pk).update(status=DeliveryStatus.FAILED)
    client.get(reverse("admin:alerts_alert_changelist"))  # warm the session and content types

    with CaptureQueriesContext(connection) as one:
        page = client.get(reverse("admin:alerts_alert_changelist"))
    assert "1 / 3 sent · 1 failed · 1 pending" in re.sub(r"\s+", " ", page.text)
    for _ in range(4):
        publish_frozen(alert=_draft(staff, armenia), user=staff)
    with CaptureQueriesContext(connection) as five:
        client.get(reverse("admin:alerts_alert_changelist"))
    assert len(five) == len(one)  # no query per alert
    counting = [q["sql"] for q in five if 'COUNT("alerts_delivery"."id")' in q["sql"]]
    assert len(counting) == 1


def test_compose_through_the_staff_panel_uses_the_service(staff, armenia):
    client = _login(staff)
    response = client.post(
        reverse("admin:alerts_alert_add"),
        {
            "country": "AM",
            "cities_text": "Yerevan, Gyumri",
            "severity": "warning",
            "category": "weather",
            "title_ru": "Снегопад",
            "title_en": "Snowfall",
            "text_ru": "Перевалы закрыты.",
            "text_en": "Mountain passes are closed.",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    alert = Alert.objects.get()
    assert (alert.author, alert.status, alert.collapse_id) == (staff, AlertStatus.DRAFT, str(alert.pk))
    assert alert.cities == ["Yerevan", "Gyumri"]


def test_compose_for_another_country_shows_the_error_on_the_form(staff, armenia, georgia):
    response = _login(staff).post(
        reverse("admin:alerts_alert_add"),
        {
            "country": "GE",
            "severity": "info",
            "category": "other",
            "title_ru": "Т",
            "title_en": "T",
            "text_ru": "Т",
            "text_en": "T",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert not Alert.objects.exists()


def test_published_alert_is_read_only_in_the_panel(staff, armenia):
    travelers_in(armenia, 1)
    alert = publish_frozen(alert=_draft(staff, armenia), user=staff)
    client = _login(staff)
    page = client.get(reverse("admin:alerts_alert_change", args=[alert.pk]))
    assert page.status_code == 200
    assert 'name="title_en"' not in page.text
    response = client.post(reverse("admin:alerts_alert_change", args=[alert.pk]), {"title_en": "Hacked"})
    assert response.status_code == 403
    assert Alert.objects.get(pk=alert.pk).title_en == "Protests"


def test_status_is_never_a_form_field(staff, armenia):
    alert = _draft(staff, armenia)
    page = _login(staff).get(reverse("admin:alerts_alert_change", args=[alert.pk]))
    assert 'name="title_en"' in page.text
    publish_url = reverse("admin:alerts_alert_action", args=[alert.pk, "publish"])
    assert f'<form id="alert-publish" method="post" action="{publish_url}">' in page.text
    assert 'form="alert-publish"' in page.text
    change_form, publish_form = page.text.index('id="alert_form"'), page.text.index('id="alert-publish"')
    assert page.text.rfind("</form>", 0, publish_form) > change_form  # not nested in the change form
    assert 'name="status"' not in page.text
    assert 'name="approver"' not in page.text


def test_preview_shows_devices_and_travelers_before_publishing(staff, armenia):
    two_phones = TravelerFactory()
    TripFactory(traveler=two_phones, leg__country=armenia)
    DeviceFactory(traveler=two_phones, token="a-1")
    DeviceFactory(traveler=two_phones, token="a-2", platform="ios")
    travelers_in(armenia, 1)
    alert = _draft(staff, armenia, severity="emergency")
    page = _login(staff).get(reverse("admin:alerts_alert_preview", args=[alert.pk]))
    text = re.sub(r"\s+", " ", page.text)
    assert "reaches <strong>3</strong> devices of <strong>2</strong> travelers" in text
    assert "must approve this alert" in text


def test_four_eyes_and_publish_buttons(staff, colleague, armenia):
    travelers_in(armenia, 2)
    alert = _draft(staff, armenia, severity="emergency")
    author = _login(staff)
    publish = reverse("admin:alerts_alert_action", args=[alert.pk, "publish"])
    approve = reverse("admin:alerts_alert_action", args=[alert.pk, "approve"])

    response = author.post(publish, follow=True)
    assert any("approval of a second staff member" in m for m in _messages(response))
    response = author.post(approve, follow=True)
    assert any("cannot approve" in m for m in _messages(response))
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.DRAFT

    assert "The alert is approved." in _messages(_login(colleague).post(approve, follow=True))
    assert "The alert is published." in _messages(author.post(publish, follow=True))
    alert.refresh_from_db()
    assert (alert.status, alert.approver, alert.publisher) == (AlertStatus.SENDING, colleague, staff)
    assert author.get(publish).status_code == 405


def test_actions_on_the_changelist_call_the_services(staff, colleague, armenia):
    travelers_in(armenia, 1)
    alerts = [_draft(staff, armenia), _draft(staff, armenia)]
    client = _login(staff)
    url = reverse("admin:alerts_alert_changelist")
    client.post(url, {"action": "publish_selected", "_selected_action": [a.pk for a in alerts]})
    assert set(Alert.objects.values_list("status", flat=True)) == {AlertStatus.SENDING}
    client.post(url, {"action": "cancel_selected", "_selected_action": [alerts[0].pk]})
    assert Alert.objects.get(pk=alerts[0].pk).status == AlertStatus.CANCELLED
    assert Alert.objects.get(pk=alerts[0].pk).cancelled_by == staff


def test_other_missions_staff_cannot_act_on_the_alert(staff, georgia_staff, armenia):
    alert = _draft(staff, armenia)
    response = _login(georgia_staff).post(reverse("admin:alerts_alert_action", args=[alert.pk, "publish"]))
    assert response.status_code == 404
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.DRAFT


def test_correct_drafts_a_replacement_with_the_same_collapse_id(staff, armenia):
    travelers_in(armenia, 1)
    alert = publish_frozen(alert=_draft(staff, armenia), user=staff)
    response = _login(staff).post(reverse("admin:alerts_alert_action", args=[alert.pk, "correct"]))
    correction = Alert.objects.exclude(pk=alert.pk).get()
    assert response["Location"] == reverse("admin:alerts_alert_change", args=[correction.pk])
    assert (correction.status, correction.collapse_id, correction.supersedes) == (
        AlertStatus.DRAFT,
        str(alert.pk),
        alert,
    )


def test_replies_roster_need_help_first_then_safe_then_no_answer(staff, armenia):
    people = {}
    for name, city in [("helpme", "Gyumri"), ("fine", "Yerevan"), ("silent", "Dilijan")]:
        traveler = TravelerFactory(phone=f"+3749100000{len(people)}")
        TripFactory(traveler=traveler, leg__country=armenia, leg__cities=[city])
        DeviceFactory(traveler=traveler, token=f"tok-{name}")
        people[name] = traveler
    alert = publish_frozen(alert=_draft(staff, armenia), user=staff)
    SafetyReply.objects.create(alert=alert, traveler=people["fine"], status="safe")
    SafetyReply.objects.create(
        alert=alert, traveler=people["helpme"], status="need_help", message="Broken leg", people=2
    )
    page = _login(staff).get(reverse("admin:alerts_alert_replies", args=[alert.pk]))
    assert page.status_code == 200
    text = page.text
    order = [text.index(str(people[name].phone)) for name in ("helpme", "fine", "silent")]
    assert order == sorted(order)
    assert "Gyumri" in text
    assert "Broken leg" in text
    summary = re.sub(r"\s+", " ", text)
    assert "Need help: <strong>1</strong> · safe: 1 · no answer: 1 · reached: 3 travelers." in summary


def test_stuck_alert_is_flagged_in_the_list(staff, armenia):
    from django.utils import timezone

    alert = AlertFactory(country=armenia, author=staff, status=AlertStatus.SENDING, stuck_since=timezone.now())
    page = _login(staff).get(reverse("admin:alerts_alert_changelist"))
    assert 'alt="True"' in page.text
    change = _login(staff).get(reverse("admin:alerts_alert_change", args=[alert.pk]))
    assert "Stuck since" in change.text
