"""The fan-out: ranges, claims, idempotency, outcomes, retries and token pruning. Provider behaviour comes from
the fake FCM and APNs servers over real HTTP/2; the pure bookkeeping tests use the locmem backend."""

import datetime as dt
import json
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.models import Alert, AlertStatus, Delivery, DeliveryStatus
from alerts.services import (
    alert_audience_freeze,
    alert_cancel,
    alert_create,
    alert_fanout_start,
    alert_publish,
    alert_supersede,
    delivery_batch_send,
    delivery_ranges,
)
from alerts.services.fanout import retry_delay
from tests.alerts.conftest import freeze_lock_held_elsewhere as _freeze_lock_held_elsewhere
from tests.alerts.conftest import publish_frozen, travelers_in
from tests.factories.travelers import DeviceFactory, TravelerFactory, TripFactory
from travelers.models import Device

pytestmark = pytest.mark.django_db


_FIELDS = {
    "severity": "warning",
    "title_ru": "Перекрыты дороги",
    "title_en": "Roads closed",
    "text_ru": "Трасса M1 перекрыта из-за снегопада.",
    "text_en": "The M1 highway is closed because of snow.",
}


def _publish(staff, country, **kwargs):
    fields = _FIELDS | kwargs
    return publish_frozen(alert=alert_create(author=staff, country=country, **fields), user=staff)


def _whole(alert):
    ids = Delivery.objects.filter(alert=alert).values_list("id", flat=True)
    return alert.pk, min(ids), max(ids)


def _send_all(alert):
    alert_id, first, last = _whole(alert)
    return delivery_batch_send(alert_id=alert_id, first_id=first, last_id=last)


def _statuses(alert):
    return dict(Delivery.objects.filter(alert=alert).values_list("device__token", "status"))


def _make_due(alert):
    """Time passes: every waiting retry is due now."""
    Delivery.objects.filter(alert=alert, status=DeliveryStatus.RETRY).update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )


# --- ranges and kickoff -------------------------------------------------------------------------------------


def test_kickoff_enqueues_one_message_per_range_of_batch_size(settings, staff, armenia, broker_queue):
    settings.ALERT_BATCH_SIZE = 3
    travelers_in(armenia, 7)
    alert = _publish(staff, armenia)
    assert alert_fanout_start(alert_id=alert.pk) == 3
    batches = broker_queue.tasks("alerts.tasks.send_batch")
    ids = sorted(Delivery.objects.filter(alert=alert).values_list("id", flat=True))
    assert batches == [[alert.pk, ids[0], ids[2]], [alert.pk, ids[3], ids[5]], [alert.pk, ids[6], ids[6]]]
    alert.refresh_from_db()
    assert alert.fanout_started_at is not None


def test_kickoff_of_an_alert_not_sending_does_nothing(staff, armenia, broker_queue):
    travelers_in(armenia, 2)
    alert = _publish(staff, armenia)
    alert.status = AlertStatus.CANCELLED
    alert.save()
    assert alert_fanout_start(alert_id=alert.pk) == 0
    assert broker_queue.messages() == []


def test_kickoff_writes_the_audience_of_the_publication_moment_once(settings, staff, armenia, broker_queue):
    """The staff request only commits the alert; the kickoff writes the audience as it was at `published_at`
    (not as it is when the kickoff runs), and a second kickoff writes nothing twice."""
    today = timezone.localdate()
    back_then = TravelerFactory()
    TripFactory(
        traveler=back_then,
        leg__country=armenia,
        start_date=today - dt.timedelta(days=12),
        end_date=today - dt.timedelta(days=8),
    )
    DeviceFactory(traveler=back_then, token="there-ten-days-ago")
    travelers_in(armenia, 1, prefix="there-today")  # a trip from yesterday: not there ten days ago
    alert = alert_publish(alert=alert_create(author=staff, country=armenia, **_FIELDS), user=staff)
    assert not Delivery.objects.filter(alert=alert).exists()
    ten_days_ago = timezone.now() - dt.timedelta(days=10)
    Alert.objects.filter(pk=alert.pk).update(published_at=ten_days_ago)

    assert alert_fanout_start(alert_id=alert.pk) == 1
    assert _statuses(alert) == {"there-ten-days-ago": DeliveryStatus.PENDING}
    alert.refresh_from_db()
    assert (alert.audience_devices, alert.audience_travelers) == (1, 1)
    assert alert.fanout_started_at is not None

    assert alert_fanout_start(alert_id=alert.pk) == 1  # redelivered kickoff: the same range again, no new rows
    assert Delivery.objects.filter(alert=alert).count() == 1
    alert.refresh_from_db()
    assert alert.audience_devices == 1


def test_a_large_audience_is_written_in_slices_each_enqueued_as_it_commits(settings, staff, armenia, broker_queue):
    settings.ALERT_FREEZE_SLICE, settings.ALERT_BATCH_SIZE = 2, 10
    devices = travelers_in(armenia, 5)
    alert = alert_publish(alert=alert_create(author=staff, country=armenia, **_FIELDS), user=staff)
    assert alert_fanout_start(alert_id=alert.pk) == 3
    ids = sorted(Delivery.objects.filter(alert=alert).values_list("id", flat=True))
    assert broker_queue.tasks("alerts.tasks.send_batch") == [
        [alert.pk, ids[0], ids[1]],
        [alert.pk, ids[2], ids[3]],
        [alert.pk, ids[4], ids[4]],
    ]
    alert.refresh_from_db()
    assert (alert.audience_devices, alert.audience_frozen_through) == (5, max(d.pk for d in devices))


def test_an_alert_is_not_sent_before_its_whole_audience_is_written(settings, staff, armenia, outbox):
    settings.ALERT_FREEZE_SLICE = 2
    travelers_in(armenia, 4)
    alert = alert_publish(alert=alert_create(author=staff, country=armenia, **_FIELDS), user=staff)

    def workers_send_what_is_written() -> None:
        for first, last in delivery_ranges(alert_id=alert.pk):
            delivery_batch_send(alert_id=alert.pk, first_id=first, last_id=last)
        assert Alert.objects.get(pk=alert.pk).status == AlertStatus.SENDING  # more of its audience is coming

    assert alert_audience_freeze(alert_id=alert.pk, on_slice=workers_send_what_is_written)
    assert len(outbox) == 4
    assert alert_fanout_start(alert_id=alert.pk) == 0  # the kickoff's last word: nothing open, so sent
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.SENT


def test_kickoff_leaves_an_audience_being_written_by_another_kickoff_alone(staff, armenia, broker_queue):
    travelers_in(armenia, 2)
    alert = alert_publish(alert=alert_create(author=staff, country=armenia, **_FIELDS), user=staff)
    with _freeze_lock_held_elsewhere(alert.pk):
        assert alert_fanout_start(alert_id=alert.pk) == 0
        assert not Delivery.objects.filter(alert=alert).exists()
        assert broker_queue.messages() == []
    assert alert_fanout_start(alert_id=alert.pk) == 1
    assert Delivery.objects.filter(alert=alert).count() == 2


def test_kickoff_of_an_alert_whose_devices_all_went_away_marks_it_sent(staff, armenia, broker_queue):
    devices = travelers_in(armenia, 2)
    alert = alert_publish(alert=alert_create(author=staff, country=armenia, **_FIELDS), user=staff)
    Device.objects.filter(pk__in=[d.pk for d in devices]).update(is_active=False)
    assert alert_fanout_start(alert_id=alert.pk) == 0
    alert.refresh_from_db()
    assert (alert.status, alert.audience_devices) == (AlertStatus.SENT, 0)
    assert broker_queue.messages() == []


def test_kickoff_of_a_cancelled_alert_writes_no_audience(staff, armenia, broker_queue):
    travelers_in(armenia, 2)
    alert = alert_publish(alert=alert_create(author=staff, country=armenia, **_FIELDS), user=staff)
    alert_cancel(alert=alert, user=staff)
    assert alert_fanout_start(alert_id=alert.pk) == 0
    assert not Delivery.objects.filter(alert=alert).exists()


# --- one batch, locmem --------------------------------------------------------------------------------------


def test_batch_sends_every_device_once_in_its_own_language(staff, armenia, outbox):
    ru = travelers_in(armenia, 2, locale="ru")
    en = travelers_in(armenia, 1, locale="en", platform="ios")
    alert = _publish(staff, armenia)
    report = _send_all(alert)
    assert (report.claimed, report.sent) == (3, 3)
    by_token = {m.token: m for m in outbox}
    assert {by_token[d.token].title for d in ru} == {"Перекрыты дороги"}
    assert by_token[en[0].token].title == "Roads closed"
    assert by_token[en[0].token].body == "The M1 highway is closed because of snow."
    message = by_token[en[0].token]
    assert message.collapse_id == str(alert.pk)
    assert message.data == {"type": "alert", "alert_id": str(alert.pk), "severity": "warning", "category": "other"}
    assert set(_statuses(alert).values()) == {DeliveryStatus.SENT}
    alert.refresh_from_db()
    assert alert.status == AlertStatus.SENT
    assert alert.completed_at is not None


def test_running_a_batch_twice_sends_nothing_twice(staff, armenia, outbox):
    travelers_in(armenia, 4)
    alert = _publish(staff, armenia)
    assert _send_all(alert).sent == 4
    second = _send_all(alert)
    assert (second.claimed, second.sent) == (0, 0)
    assert len(outbox) == 4


def test_rows_leased_by_a_running_batch_are_not_taken(staff, armenia, outbox):
    devices = travelers_in(armenia, 3)
    alert = _publish(staff, armenia)
    held = Delivery.objects.get(alert=alert, device=devices[0])
    Delivery.objects.filter(pk=held.pk).update(leased_until=timezone.now() + dt.timedelta(seconds=60))
    assert _send_all(alert).sent == 2
    assert devices[0].token not in {m.token for m in outbox}
    alert.refresh_from_db()
    assert alert.status == AlertStatus.SENDING  # one delivery still open


def test_a_claim_clears_the_retry_time_of_the_rows_it_takes(staff, armenia, outbox):
    from alerts.services.fanout import _claim

    travelers_in(armenia, 1)
    alert = _publish(staff, armenia)
    alert_id, first, last = _whole(alert)
    past = timezone.now() - dt.timedelta(seconds=5)
    Delivery.objects.filter(alert=alert).update(status=DeliveryStatus.RETRY, next_attempt_at=past, attempts=1)
    assert len(_claim(alert_id=alert_id, first_id=first, last_id=last, now=timezone.now(), owner=None)) == 1
    row = Delivery.objects.get(alert=alert)
    assert (row.next_attempt_at, row.attempts) == (None, 2)
    assert row.leased_until is not None


def test_rows_of_a_lost_batch_are_taken_again_when_the_lease_runs_out(staff, armenia, outbox):
    devices = travelers_in(armenia, 2)
    alert = _publish(staff, armenia)
    Delivery.objects.filter(alert=alert).update(leased_until=timezone.now() - dt.timedelta(seconds=1), attempts=1)
    assert _send_all(alert).sent == 2
    assert sorted(m.token for m in outbox) == sorted(d.token for d in devices)
    assert set(Delivery.objects.filter(alert=alert).values_list("attempts", flat=True)) == {2}


def test_the_redelivered_message_of_a_killed_worker_takes_its_own_rows_back_at_once(staff, armenia, outbox):
    travelers_in(armenia, 3)
    alert = _publish(staff, armenia)
    alert_id, first, last = _whole(alert)
    message_id = "1b17aeca-bdf6-4e20-a07d-b3e9ade308d8"
    lease = timezone.now() + dt.timedelta(seconds=60)
    # The first run of this message claimed the rows, then its worker process was killed.
    Delivery.objects.filter(alert=alert).update(leased_until=lease, lease_owner=message_id, attempts=1)
    assert delivery_batch_send(alert_id=alert_id, first_id=first, last_id=last, owner=None).claimed == 0
    other = delivery_batch_send(alert_id=alert_id, first_id=first, last_id=last, owner=str(uuid.uuid4()))
    assert other.claimed == 0  # another message must wait for the lease
    again = delivery_batch_send(alert_id=alert_id, first_id=first, last_id=last, owner=message_id)
    assert (again.claimed, again.sent) == (3, 3)
    assert Delivery.objects.filter(alert=alert, lease_owner__isnull=False).count() == 0


def test_batch_of_a_cancelled_alert_sends_nothing(staff, armenia, outbox):
    travelers_in(armenia, 2)
    alert = _publish(staff, armenia)
    ids = _whole(alert)
    alert.status = AlertStatus.CANCELLED
    alert.save()
    assert delivery_batch_send(alert_id=ids[0], first_id=ids[1], last_id=ids[2]).claimed == 0
    assert outbox == []


def test_device_deactivated_since_publication_is_not_sent_to(staff, armenia, outbox):
    devices = travelers_in(armenia, 2)
    alert = _publish(staff, armenia)
    Device.objects.filter(pk=devices[0].pk).update(is_active=False)
    report = _send_all(alert)
    assert (report.sent, report.invalid_token) == (1, 1)
    assert [m.token for m in outbox] == [devices[1].token]


def test_batch_uses_a_fixed_number_of_queries(staff, armenia, outbox):
    travelers_in(armenia, 30)
    alert = _publish(staff, armenia)
    alert_id, first, last = _whole(alert)
    with CaptureQueriesContext(connection) as captured:
        delivery_batch_send(alert_id=alert_id, first_id=first, last_id=last)
    queries = [q["sql"] for q in captured if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    # alert, claim, devices, one UPDATE for all sent rows, progress/completion: independent of the batch size
    assert len(queries) == 5, queries


def test_retry_delay_grows_exponentially_is_capped_and_honours_retry_after(settings):
    settings.ALERT_RETRY_BASE_SECONDS, settings.ALERT_RETRY_MAX_SECONDS = 2, 60
    assert 1 <= retry_delay(attempts=1, retry_after=None) <= 2
    assert 8 <= retry_delay(attempts=4, retry_after=None) <= 16
    assert retry_delay(attempts=30, retry_after=None) <= 60
    assert retry_delay(attempts=1, retry_after=30) >= 30


# --- against the fake FCM over HTTP/2 -----------------------------------------------------------------------


def _device(country, token, **kwargs):
    traveler = TravelerFactory()
    TripFactory(traveler=traveler, leg__country=country)
    return DeviceFactory(traveler=traveler, token=token, **kwargs)


def test_transient_fcm_failures_wait_with_backoff_then_get_through(settings, staff, armenia, fake_fcm, broker_queue):
    fake_fcm.app.faults.retry_after = 30
    tokens = ["ok-1", "flaky503-1", "quota-1", "slow-1", "garbled-1", "internal-1"]
    for token in tokens:
        _device(armenia, token)
    alert = _publish(staff, armenia)
    before = timezone.now()
    report = _send_all(alert)
    assert (report.sent, report.retry) == (1, 5)
    rows = {d.device.token: d for d in Delivery.objects.filter(alert=alert).select_related("device")}
    assert rows["quota-1"].next_attempt_at >= before + dt.timedelta(seconds=30)  # Retry-After honoured
    assert "QUOTA_EXCEEDED" in rows["quota-1"].last_error
    assert "timeout" in rows["slow-1"].last_error
    assert "malformed" in rows["garbled-1"].last_error
    assert not Device.objects.filter(is_active=False).exists()  # transient errors never prune
    follow_up = broker_queue.messages()
    assert [m.task for m in follow_up] == ["alerts.tasks.send_batch"]
    assert follow_up[0].eta is not None

    _make_due(alert)
    assert _send_all(alert).sent == 5
    assert set(_statuses(alert).values()) == {DeliveryStatus.SENT}
    stats = fake_fcm.stats()
    assert stats["delivered"] == 6
    assert stats["duplicates"] == 0
    assert stats["http_versions"].keys() == {"2"}
    alert.refresh_from_db()
    assert alert.status == AlertStatus.SENT


def test_dead_fcm_tokens_deactivate_their_devices_payload_errors_do_not(staff, armenia, fake_fcm, broker_queue):
    for token in ["ok-2", "unregistered-2", "badtoken-2", "mismatch-2", "payloadbad-2"]:
        _device(armenia, token)
    alert = _publish(staff, armenia)
    report = _send_all(alert)
    assert (report.sent, report.invalid_token, report.failed, report.deactivated) == (1, 3, 1, 3)
    statuses = _statuses(alert)
    assert statuses["payloadbad-2"] == DeliveryStatus.FAILED
    assert {statuses[t] for t in ("unregistered-2", "badtoken-2", "mismatch-2")} == {DeliveryStatus.INVALID_TOKEN}
    active = dict(Device.objects.values_list("token", "is_active"))
    assert active == {
        "ok-2": True,
        "unregistered-2": False,
        "badtoken-2": False,
        "mismatch-2": False,
        "payloadbad-2": True,
    }
    assert Device.objects.get(token="unregistered-2").deactivated_reason

    # A later alert is never sent to a pruned device.
    second = _publish(staff, armenia)
    assert set(Delivery.objects.filter(alert=second).values_list("device__token", flat=True)) == {
        "ok-2",
        "payloadbad-2",
    }


def test_gives_up_after_the_attempt_cap_with_the_reason(settings, staff, armenia, fake_fcm, broker_queue):
    settings.ALERT_MAX_ATTEMPTS = 3
    _device(armenia, "down-3")
    alert = _publish(staff, armenia)
    for _ in range(3):
        _send_all(alert)
        _make_due(alert)
    delivery = Delivery.objects.get(alert=alert)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 3
    assert delivery.last_error.startswith("gave up after 3 attempts: fcm 503 UNAVAILABLE")
    assert _send_all(alert).claimed == 0
    assert fake_fcm.stats()["requests"] == 3
    alert.refresh_from_db()
    assert alert.status == AlertStatus.SENT  # every delivery settled


def test_android_and_web_messages_carry_the_collapse_id_where_each_platform_reads_it(staff, armenia, fake_fcm):
    _device(armenia, "android-4", platform="android")
    _device(armenia, "web-4", platform="web")
    expires = timezone.now() + dt.timedelta(hours=6)
    alert = _publish(staff, armenia, expires_at=expires)
    _send_all(alert)
    messages = {r["token"]: r["message"] for r in fake_fcm.delivered}
    android, web = messages["android-4"], messages["web-4"]
    assert android["android"]["collapse_key"] == str(alert.pk)
    assert android["android"]["notification"]["tag"] == str(alert.pk)
    assert android["android"]["priority"] == "HIGH"
    assert 6 * 3600 - 60 <= int(android["android"]["ttl"].rstrip("s")) <= 6 * 3600
    assert web["webpush"]["headers"]["Topic"] == str(alert.pk)
    assert android["data"]["collapse_id"] == str(alert.pk)


# --- against the fake APNs over HTTP/2 with TLS -------------------------------------------------------------


def test_apns_headers_and_410_handling(staff, armenia, fake_apns, broker_queue):
    _device(armenia, "ok-5", platform="ios", locale="en")
    _device(armenia, "unregistered-5", platform="ios")
    _device(armenia, "unregold-5", platform="ios")  # APNs learnt of it in 2020; the device registered it later
    _device(armenia, "baddevice-5", platform="ios")
    _device(armenia, "throttle-5", platform="ios")
    expires = timezone.now() + dt.timedelta(hours=2)
    alert = _publish(staff, armenia, expires_at=expires)
    report = _send_all(alert)
    assert (report.sent, report.invalid_token, report.failed, report.retry) == (1, 2, 1, 1)
    active = dict(Device.objects.values_list("token", "is_active"))
    assert active == {
        "ok-5": True,
        "unregistered-5": False,
        "unregold-5": True,
        "baddevice-5": False,
        "throttle-5": True,
    }
    assert "re-registered" in Delivery.objects.get(device__token="unregold-5").last_error

    record = fake_apns.delivered[0]
    assert record["token"] == "ok-5"
    assert record["headers"]["apns-push-type"] == "alert"
    assert record["headers"]["apns-priority"] == "10"
    assert record["headers"]["apns-topic"] == fake_apns.app.topic
    assert record["headers"]["apns-collapse-id"] == str(alert.pk)
    assert int(record["headers"]["apns-expiration"]) == int(expires.timestamp())
    assert record["payload"]["aps"]["alert"] == {
        "title": "Roads closed",
        "body": "The M1 highway is closed because of snow.",
    }
    assert fake_apns.stats()["http_versions"].keys() == {"2"}

    _make_due(alert)
    assert _send_all(alert).sent == 1  # the throttled one


# --- payloads ------------------------------------------------------------------------------------------------


def test_no_personal_data_reaches_the_providers(staff, armenia, fake_fcm, fake_apns, broker_queue):
    people = []
    for i, platform in enumerate(["android", "ios", "web"]):
        traveler = TravelerFactory(
            full_name=f"Ivan Petrovich Sidorov{i}",
            email=f"ivan{i}@example.org",
            emergency_contact_name=f"Maria Sidorova{i}",
            emergency_contact_phone=f"+7916000000{i}",
        )
        TripFactory(
            traveler=traveler, leg__country=armenia, leg__cities=["Dilijan"], accommodation="Hotel Dilijan Resort"
        )
        DeviceFactory(traveler=traveler, platform=platform, token=f"pii-{platform}")
        people.append(traveler)
    alert = _publish(staff, armenia)
    correction = publish_frozen(alert=alert_supersede(alert=alert, user=staff, text_en="Roads open again."), user=staff)
    _send_all(correction)
    recorded = json.dumps(fake_fcm.delivered + fake_apns.delivered, ensure_ascii=False)
    assert len(fake_fcm.delivered) == 2
    assert len(fake_apns.delivered) == 1
    for traveler in people:
        for value in (
            str(traveler.phone),
            traveler.phone.national_number,
            traveler.full_name,
            traveler.email,
            traveler.emergency_contact_name,
            str(traveler.emergency_contact_phone),
            str(traveler.pk),
            "Hotel Dilijan Resort",
        ):
            assert str(value) not in recorded
    assert {r["collapse_id"] for r in fake_fcm.delivered + fake_apns.delivered} == {str(alert.pk)}
    data_keys = {key for r in fake_fcm.delivered for key in r["data"]}
    assert data_keys == {"type", "alert_id", "severity", "category", "collapse_id"}
