"""Tasks: the sign-in SMS goes through the real broker after commit (and a real worker sends it), and the
retention purge at its boundaries with a frozen clock."""

import base64
import datetime as dt
import json
import logging
import time

import pytest
import redis
import time_machine
from django.conf import settings
from django.utils import timezone, translation

from core.sms import SmsError
from tests.factories.travelers import DeviceFactory, TravelerFactory, TripFactory
from tests.workers import celery_worker
from travelers.models import AuthToken, Device, DeviceSubscription, OneTimeCode, Trip, TripLeg, TripLegCity
from travelers.services import otp_request, token_pair_issue
from travelers.tasks import retention_purge, sms_send

PHONE = "+37410123456"


@pytest.fixture
def broker():
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("celery")
    yield client
    client.delete("celery")


def queued(client) -> list[dict]:
    out = []
    for raw in reversed(client.lrange("celery", 0, -1)):
        message = json.loads(raw)
        _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        out.append({"task": message["headers"]["task"], "kwargs": kwargs, "expires": message["headers"]["expires"]})
    return out


def test_code_sms_is_enqueued_after_commit_and_expires_with_the_code(
    api_client, db, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert api_client.post("/api/v1/auth/otp/", {"phone": PHONE}, format="json").status_code == 202
    assert queued(broker) == []  # nothing before the commit
    for callback in callbacks:
        callback()
    (message,) = queued(broker)
    assert message["task"] == "travelers.tasks.sms_send"
    assert message["kwargs"]["to"] == PHONE
    code = message["kwargs"]["body"].split(": ")[1][:6]
    assert code.isdigit()
    expires = dt.datetime.fromisoformat(message["expires"])
    assert dt.timedelta(seconds=290) < expires - timezone.now() <= dt.timedelta(seconds=300)
    response = api_client.post("/api/v1/auth/token/", {"phone": PHONE, "code": code}, format="json")
    assert response.status_code == 200


def test_the_code_text_follows_the_request_language(api_client, db, broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post("/api/v1/auth/otp/", {"phone": PHONE}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert queued(broker)[0]["kwargs"]["body"].startswith("Foreign Assistant sign-in code")


@pytest.mark.parametrize(("ttl", "minutes"), [(60, "1 мин."), (300, "5 мин."), (1320, "22 мин."), (5940, "99 мин.")])
def test_the_russian_code_text_fits_one_ucs2_sms_segment(
    db, broker, django_capture_on_commit_callbacks, settings, ttl, minutes
):
    """Cyrillic goes as UCS-2: 70 characters a segment. Two segments would double the cost and may arrive split."""
    settings.OTP_TTL_SECONDS = ttl
    with translation.override("ru"), django_capture_on_commit_callbacks(execute=True):
        code = otp_request(phone=PHONE)
    body = queued(broker)[0]["kwargs"]["body"]
    assert len(body) <= 70, body
    assert body.split(": ")[1][:6] == code
    assert minutes in body


@pytest.mark.parametrize(("ttl", "text"), [(60, "valid for 1 minute."), (600, "valid for 10 minutes.")])
def test_the_english_code_text_counts_minutes_in_the_plural(
    db, broker, django_capture_on_commit_callbacks, settings, ttl, text
):
    settings.OTP_TTL_SECONDS = ttl
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        otp_request(phone=PHONE)
    assert text in queued(broker)[0]["kwargs"]["body"]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_code_sms(api_client, broker, tmp_path):
    """The request returns at once; a Celery worker process on the real broker sends the SMS (file backend)."""
    sms_dir = tmp_path / "sms"
    worker_log = tmp_path / "worker.log"
    with celery_worker(
        worker_log, pool="solo", concurrency=1, DJANGO_SECRET_KEY=settings.SECRET_KEY, REDIS_URL=settings.REDIS_URL,
        SMS_BACKEND="file", SMS_FILE_PATH=str(sms_dir),
    ):  # fmt: skip
        started = time.monotonic()
        assert api_client.post("/api/v1/auth/otp/", {"phone": PHONE}, format="json").status_code == 202
        assert time.monotonic() - started < 2  # the request does not wait for the provider
        deadline = time.monotonic() + 30
        lines: list[dict] = []
        while time.monotonic() < deadline and not lines:
            files = list(sms_dir.glob("*.jsonl")) if sms_dir.exists() else []
            lines = [json.loads(line) for f in files for line in f.read_text().splitlines()]
            time.sleep(0.2)
        assert len(lines) == 1, "no SMS in 30 s"  # the worker's log is appended
        assert lines[0]["to"] == PHONE
        code = lines[0]["body"].split(": ")[1][:6]
        response = api_client.post("/api/v1/auth/token/", {"phone": PHONE, "code": code}, format="json")
        assert response.status_code == 200


# --- retention ------------------------------------------------------------------------------------------

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def ended(days_ago: int) -> Trip:
    end = NOW.date() - dt.timedelta(days=days_ago)
    return TripFactory.create(start_date=end - dt.timedelta(days=5), end_date=end, leg__cities=["Yerevan"])


def test_trips_go_thirty_days_after_they_end(db, frozen):
    kept = [ended(29), ended(0), ended(-3)]
    gone = [ended(30), ended(31), ended(400)]
    result = retention_purge()
    assert result["trips"] == 3
    assert set(Trip.objects.values_list("pk", flat=True)) == {t.pk for t in kept}
    assert not TripLeg.objects.filter(trip_id__in=[t.pk for t in gone]).exists()
    assert TripLegCity.objects.count() == 3


def test_trip_retention_days_is_a_setting(db, frozen, settings):
    settings.TRIP_RETENTION_DAYS = 14
    trip_13, trip_14 = ended(13), ended(14)
    retention_purge()
    assert list(Trip.objects.values_list("pk", flat=True)) == [trip_13.pk]
    assert not Trip.objects.filter(pk=trip_14.pk).exists()


def test_devices_unseen_for_270_days_go(db, frozen):
    recent = DeviceFactory(last_seen_at=NOW - dt.timedelta(days=269, hours=23), subscriptions=["AM"])
    old = DeviceFactory(last_seen_at=NOW - dt.timedelta(days=270), subscriptions=["AM"])
    assert retention_purge()["devices"] == 1
    assert list(Device.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not DeviceSubscription.objects.filter(device_id=old.pk).exists()


def test_expired_codes_and_tokens_go(db, frozen):
    traveler = TravelerFactory()
    with time_machine.travel(NOW - dt.timedelta(seconds=301), tick=False):
        otp_request(phone="+37410000001")
        old_pair = token_pair_issue(traveler=traveler)
    otp_request(phone="+37410000002")
    fresh_pair = token_pair_issue(traveler=traveler)
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):  # old and fresh access tokens expired
        result = retention_purge()
    assert result["codes"] == 2  # both codes: the second expired at NOW + 5 min
    remaining = set(AuthToken.objects.values_list("kind", flat=True))
    assert remaining == {"refresh"}
    assert AuthToken.objects.count() == 2  # the two refresh tokens live 60 days
    assert old_pair.access != fresh_pair.access


def test_a_code_is_kept_until_it_expires(db, frozen):
    otp_request(phone="+37410000001")
    with time_machine.travel(NOW + dt.timedelta(seconds=299), tick=False):
        assert retention_purge()["codes"] == 0
    with time_machine.travel(NOW + dt.timedelta(seconds=300), tick=False):
        assert retention_purge()["codes"] == 1
    assert not OneTimeCode.objects.exists()


def test_purge_is_idempotent_and_batched(db, frozen, monkeypatch):
    from travelers.services import retention

    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    for _ in range(5):
        ended(40)
    assert retention_purge()["trips"] == 5
    assert retention_purge() == {"trips": 0, "devices": 0, "codes": 0, "tokens": 0}


def test_the_task_is_in_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["travelers-retention-purge"]
    assert entry["task"] == retention_purge.name == "travelers.tasks.retention_purge"


# --- sms_send against the fake SMS.ru -------------------------------------------------------------------


def test_task_sends(fake_smsru):
    sms_send.run(to=PHONE, body="code")
    assert [m["to"] for m in fake_smsru.messages] == ["37410123456"]


def test_task_drops_a_permanent_refusal(fake_smsru, caplog):
    fake_smsru.mode = "stop_list"
    with caplog.at_level(logging.ERROR):
        sms_send.run(to=PHONE, body="code")  # no exception: retrying cannot help
    assert "refused" in caplog.text
    assert PHONE not in caplog.text  # the log does not keep the whole number


def test_task_retries_a_transient_failure(fake_smsru):
    fake_smsru.mode = "busy"
    # Called directly (not by a worker) Celery's retry() re-raises the error instead of re-queueing.
    with pytest.raises(SmsError):
        sms_send.run(to=PHONE, body="code")
