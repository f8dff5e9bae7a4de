"""The country pack carries the current alerts, and its ETag changes when one is published, cancelled or
expires (the alerts app registers a pack contributor and invalidates the pack)."""

import datetime as dt

import pytest
from django.utils import timezone

from alerts.services import alert_cancel, alert_create, alert_expire_due, alert_publish

pytestmark = pytest.mark.django_db


def _pack(client, language="ru"):
    response = client.get("/api/v1/countries/AM/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200, response.content
    return response["ETag"], response.json()


def test_pack_etag_follows_the_current_alerts(staff, armenia, api_client, django_capture_on_commit_callbacks):
    etag, pack = _pack(api_client)
    assert pack["alerts"] == []

    with django_capture_on_commit_callbacks(execute=True):
        alert = alert_create(
            author=staff,
            country=armenia,
            severity="warning",
            title_ru="Сель",
            title_en="Mudflow",
            text_ru="Дорога на Дилижан закрыта.",
            text_en="The road to Dilijan is closed.",
            expires_at=timezone.now() + dt.timedelta(hours=1),
        )
    assert _pack(api_client)[0] == etag  # a draft is not in the pack

    with django_capture_on_commit_callbacks(execute=True):
        alert_publish(alert=alert, user=staff)
    published_etag, pack = _pack(api_client)
    assert published_etag != etag
    assert [(a["id"], a["title"]) for a in pack["alerts"]] == [(alert.pk, "Сель")]
    assert _pack(api_client, "en")[1]["alerts"][0]["title"] == "Mudflow"

    with django_capture_on_commit_callbacks(execute=True):
        alert_cancel(alert=alert, user=staff)
    cancelled_etag, pack = _pack(api_client)
    assert cancelled_etag != published_etag
    assert pack["alerts"] == []


def test_pack_etag_changes_when_an_alert_expires(staff, armenia, api_client, django_capture_on_commit_callbacks):
    soon = timezone.now() + dt.timedelta(minutes=10)
    with django_capture_on_commit_callbacks(execute=True):
        alert = alert_create(
            author=staff,
            country=armenia,
            severity="info",
            title_ru="Жара",
            title_en="Heat",
            text_ru="До +42.",
            text_en="Up to 42 degrees.",
            expires_at=soon,
        )
        alert_publish(alert=alert, user=staff)
    etag, pack = _pack(api_client)
    assert len(pack["alerts"]) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert alert_expire_due(now=soon) == [alert.pk]
    new_etag, pack = _pack(api_client)
    assert new_etag != etag
    assert pack["alerts"] == []
