"""Composing and publishing alerts: the state machine, four eyes, staff scoping, the frozen audience."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.models import Alert, AlertStatus, Delivery, DeliveryStatus
from alerts.services import (
    alert_approve,
    alert_audience_freeze,
    alert_audience_preview,
    alert_cancel,
    alert_create,
    alert_expire_due,
    alert_publish,
    alert_publish_due,
    alert_supersede,
    alert_update,
)
from core.exceptions import ApplicationError, NotFoundError
from tests.alerts.conftest import publish_frozen, travelers_in
from tests.factories.alerts import AlertFactory, DeliveryFactory
from tests.factories.travelers import DeviceFactory, TravelerFactory, TripFactory
from travelers.models import DeviceSubscription

pytestmark = pytest.mark.django_db


def _draft(author, country, **kwargs):
    fields = {
        "severity": "warning",
        "title_ru": "Наводнение",
        "title_en": "Flood",
        "text_ru": "Уровень воды растёт. Избегайте берегов реки.",
        "text_en": "The water is rising. Keep away from the river banks.",
    } | kwargs
    return alert_create(author=author, country=country, **fields)


def _code(exc_info) -> str:
    return exc_info.value.code


# --- compose ------------------------------------------------------------------------------------------------


def test_create_sets_collapse_id_to_own_id_and_normalises_cities(staff, armenia):
    alert = _draft(staff, armenia, cities=[" Yerevan ", "yerevan", "", "Gyumri"])
    alert.refresh_from_db()
    assert alert.status == AlertStatus.DRAFT
    assert alert.collapse_id == str(alert.pk)
    assert alert.cities == ["Yerevan", "Gyumri"]
    assert alert.author == staff


def test_staff_cannot_create_for_another_missions_country(staff, georgia):
    with pytest.raises(ApplicationError) as exc:
        _draft(staff, georgia)
    assert _code(exc) == "not_mission_staff"
    assert exc.value.status_code == 403
    assert not Alert.objects.exists()


def test_superuser_creates_for_any_country(duty_officer, georgia):
    assert _draft(duty_officer, georgia).country_id == "GE"


def test_fields_are_validated_with_stable_codes(staff, armenia):
    with pytest.raises(ApplicationError) as exc:
        _draft(staff, armenia, severity="apocalyptic")
    assert (_code(exc), exc.value.field) == ("invalid_choice", "severity")
    with pytest.raises(ApplicationError) as exc:
        _draft(staff, armenia, text_en="x" * 1501)
    assert (_code(exc), exc.value.field) == ("max_length", "text_en")
    with pytest.raises(ApplicationError) as exc:
        _draft(staff, armenia, title_en="  ")
    assert (_code(exc), exc.value.field) == ("blank", "title_en")


def test_expiry_must_be_future_and_after_publication(staff, armenia):
    now = timezone.now()
    with pytest.raises(ApplicationError) as exc:
        _draft(staff, armenia, expires_at=now - dt.timedelta(minutes=1))
    assert _code(exc) == "expires_in_past"
    with pytest.raises(ApplicationError) as exc:
        _draft(staff, armenia, publish_at=now + dt.timedelta(hours=2), expires_at=now + dt.timedelta(hours=1))
    assert _code(exc) == "expires_before_publish"


def test_payload_larger_than_providers_accept_is_refused_before_any_send(staff, armenia):
    with pytest.raises(ApplicationError) as exc:
        _draft(staff, armenia, text_ru="🚨" * 1100)
    assert _code(exc) == "payload_too_large"
    assert exc.value.field in {"text_ru", "text_en"}


def test_update_edits_a_draft_and_voids_an_earlier_approval(staff, colleague, armenia):
    alert = _draft(staff, armenia)
    alert_approve(alert=alert, user=colleague)
    alert_update(alert=alert, user=staff, text_en="Updated text.", title_en="Flood")
    alert.refresh_from_db()
    assert alert.text_en == "Updated text."
    assert alert.approver is None
    alert_approve(alert=alert, user=colleague)
    alert_update(alert=alert, user=staff, expires_at=timezone.now() + dt.timedelta(days=1))
    alert.refresh_from_db()
    assert alert.approver == colleague  # the time frame is not what the approver vouched for


@pytest.mark.parametrize("status", [AlertStatus.SENDING, AlertStatus.SENT, AlertStatus.CANCELLED, AlertStatus.EXPIRED])
def test_published_alert_cannot_be_edited(staff, armenia, status):
    alert = AlertFactory(country=armenia, author=staff, status=status)
    with pytest.raises(ApplicationError) as exc:
        alert_update(alert=alert, user=staff, text_en="Changed")
    assert _code(exc) == "invalid_alert_status"
    assert exc.value.status_code == 409


def test_update_refuses_state_machine_fields(staff, armenia):
    alert = _draft(staff, armenia)
    with pytest.raises(ApplicationError):
        alert_update(alert=alert, user=staff, status=AlertStatus.SENT)


# --- four eyes ----------------------------------------------------------------------------------------------


def test_emergency_needs_a_second_staff_members_approval(staff, colleague, armenia):
    travelers_in(armenia, 2)
    alert = _draft(staff, armenia, severity="emergency")
    with pytest.raises(ApplicationError) as exc:
        alert_publish(alert=alert, user=staff)
    assert _code(exc) == "approval_required"
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.DRAFT
    assert not Delivery.objects.exists()

    with pytest.raises(ApplicationError) as exc:
        alert_approve(alert=alert, user=staff)
    assert _code(exc) == "cannot_approve_own_alert"

    alert_approve(alert=alert, user=colleague)
    alert = alert_publish(alert=alert, user=staff)
    assert alert.status == AlertStatus.SENDING
    assert alert.approver == colleague
    assert alert.publisher == staff


def test_large_audience_needs_approval_small_one_does_not(settings, staff, colleague, armenia):
    settings.ALERT_APPROVAL_THRESHOLD = 2
    travelers_in(armenia, 2)
    small = _draft(staff, armenia)
    assert alert_publish(alert=small, user=staff).status == AlertStatus.SENDING
    travelers_in(armenia, 1)
    large = _draft(staff, armenia)
    assert alert_audience_preview(alert=large).approval_required
    with pytest.raises(ApplicationError) as exc:
        alert_publish(alert=large, user=staff)
    assert _code(exc) == "approval_required"
    alert_approve(alert=large, user=colleague)
    assert alert_publish(alert=large, user=staff).status == AlertStatus.SENDING


def test_approver_must_work_for_the_alerts_country(staff, georgia_staff, armenia):
    alert = _draft(staff, armenia, severity="emergency")
    with pytest.raises(ApplicationError) as exc:
        alert_approve(alert=alert, user=georgia_staff)
    assert _code(exc) == "not_mission_staff"


def test_staff_publish_only_in_their_missions_countries(staff, georgia_staff, duty_officer, armenia):
    travelers_in(armenia, 1)
    alert = _draft(staff, armenia)
    with pytest.raises(ApplicationError) as exc:
        alert_publish(alert=alert, user=georgia_staff)
    assert _code(exc) == "not_mission_staff"
    assert alert_publish(alert=alert, user=duty_officer).status == AlertStatus.SENDING


# --- audience -----------------------------------------------------------------------------------------------


def test_preview_counts_devices_and_distinct_travelers(staff, armenia, georgia):
    two_phones = TravelerFactory()
    TripFactory(traveler=two_phones, leg__country=armenia)
    DeviceFactory(traveler=two_phones)
    DeviceFactory(traveler=two_phones, platform="ios", token="apns-1")
    travelers_in(armenia, 1)
    travelers_in(georgia, 3)
    anonymous = DeviceFactory(traveler=None, token="anon-1")
    DeviceSubscription.objects.create(device=anonymous, country=armenia)
    preview = alert_audience_preview(alert=_draft(staff, armenia))
    assert (preview.devices, preview.travelers, preview.approval_required) == (4, 2, False)


def test_the_kickoff_freezes_the_audience_into_one_delivery_per_device(staff, armenia, georgia):
    today = timezone.localdate()
    inside = travelers_in(armenia, 3)
    travelers_in(georgia, 2)  # another country
    past = TravelerFactory()
    TripFactory(
        traveler=past,
        leg__country=armenia,
        start_date=today - dt.timedelta(days=9),
        end_date=today - dt.timedelta(days=2),
    )
    DeviceFactory(traveler=past, token="past-trip")
    inactive = travelers_in(armenia, 1, prefix="dead")[0]
    inactive.is_active = False
    inactive.save()
    subscriber = DeviceFactory(traveler=None, token="anon-sub")
    DeviceSubscription.objects.create(device=subscriber, country=armenia)

    alert = _draft(staff, armenia)
    with CaptureQueriesContext(connection) as publishing:
        alert = alert_publish(alert=alert, user=staff)
    assert not [q for q in publishing if "alerts_delivery" in q["sql"]]  # the staff request writes no rows
    assert alert.status == AlertStatus.SENDING
    assert alert.audience_frozen_at is None
    with CaptureQueriesContext(connection) as queries:
        assert alert_audience_freeze(alert_id=alert.pk)
    alert.refresh_from_db()
    inserts = [q["sql"] for q in queries if q["sql"].startswith("INSERT INTO") and "alerts_delivery" in q["sql"]]
    assert len(inserts) == 1
    assert "ON CONFLICT" in inserts[0]
    assert "SELECT" in inserts[0]
    targeted = set(Delivery.objects.filter(alert=alert).values_list("device_id", flat=True))
    assert targeted == {d.pk for d in inside} | {subscriber.pk}
    assert set(Delivery.objects.filter(alert=alert).values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    assert (alert.audience_devices, alert.audience_travelers) == (4, 3)
    assert alert.audience_frozen_at is not None
    assert alert_audience_freeze(alert_id=alert.pk)  # a second kickoff writes nothing twice
    assert Delivery.objects.filter(alert=alert).count() == 4


def test_city_alert_reaches_only_travelers_in_those_cities(staff, armenia):
    gyumri = travelers_in(armenia, 2, cities=["Gyumri"])
    travelers_in(armenia, 2, cities=["Yerevan"])
    alert = publish_frozen(alert=_draft(staff, armenia, cities=["gyumri"]), user=staff)
    assert set(Delivery.objects.filter(alert=alert).values_list("device_id", flat=True)) == {d.pk for d in gyumri}


def test_alert_with_nobody_to_reach_is_sent_at_once(staff, armenia, broker_queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        alert = alert_publish(alert=_draft(staff, armenia), user=staff)
    assert alert.status == AlertStatus.SENT
    assert alert.audience_devices == 0
    assert broker_queue.messages() == []


def test_publish_enqueues_one_kickoff_after_commit(staff, armenia, broker_queue, django_capture_on_commit_callbacks):
    travelers_in(armenia, 3)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        alert = alert_publish(alert=_draft(staff, armenia), user=staff)
        assert broker_queue.messages() == []  # nothing is sent to the broker before the commit
    for callback in callbacks:
        callback()
    assert broker_queue.tasks("alerts.tasks.fanout_start") == [[alert.pk]]


# --- scheduled, cancelled, expired, corrected -----------------------------------------------------------------


def test_scheduled_alert_goes_out_when_due_with_the_audience_of_that_moment(staff, armenia):
    later = timezone.now() + dt.timedelta(hours=1)
    alert = alert_publish(alert=_draft(staff, armenia, publish_at=later), user=staff)
    assert alert.status == AlertStatus.SCHEDULED
    assert not Delivery.objects.exists()
    devices = travelers_in(armenia, 2)
    assert alert_publish_due(now=timezone.now()) == []
    assert alert_publish_due(now=later + dt.timedelta(seconds=1)) == [alert.pk]
    alert.refresh_from_db()
    assert alert.status == AlertStatus.SENDING
    assert alert.published_at == later + dt.timedelta(seconds=1)  # the audience moment
    assert alert_audience_freeze(alert_id=alert.pk)
    assert Delivery.objects.filter(alert=alert).count() == len(devices)
    assert alert_publish_due(now=later + dt.timedelta(seconds=2)) == []  # safe to run twice


def test_scheduled_alert_whose_audience_grew_past_the_threshold_goes_back_to_draft(settings, staff, armenia):
    settings.ALERT_APPROVAL_THRESHOLD = 1
    later = timezone.now() + dt.timedelta(hours=1)
    alert = alert_publish(alert=_draft(staff, armenia, publish_at=later), user=staff)
    travelers_in(armenia, 2)
    assert alert_publish_due(now=later + dt.timedelta(seconds=1)) == []
    alert.refresh_from_db()
    assert alert.status == AlertStatus.DRAFT
    assert not Delivery.objects.exists()


def test_cancel_stops_pending_deliveries(staff, armenia):
    travelers_in(armenia, 3)
    alert = publish_frozen(alert=_draft(staff, armenia), user=staff)
    sent = Delivery.objects.filter(alert=alert).first()
    Delivery.objects.filter(pk=sent.pk).update(status=DeliveryStatus.SENT)
    alert = alert_cancel(alert=alert, user=staff)
    assert alert.status == AlertStatus.CANCELLED
    assert alert.cancelled_by == staff
    statuses = dict(Delivery.objects.filter(alert=alert).values_list("pk", "status"))
    assert statuses.pop(sent.pk) == DeliveryStatus.SENT
    assert set(statuses.values()) == {DeliveryStatus.FAILED}
    with pytest.raises(ApplicationError) as exc:
        alert_cancel(alert=alert, user=staff)
    assert _code(exc) == "invalid_alert_status"


def test_cancel_is_scoped_to_the_staff_members_countries(staff, georgia_staff, armenia):
    alert = alert_publish(alert=_draft(staff, armenia), user=staff)
    with pytest.raises(ApplicationError) as exc:
        alert_cancel(alert=alert, user=georgia_staff)
    assert _code(exc) == "not_mission_staff"


def test_expire_due_expires_published_and_scheduled_alerts_and_drops_their_pending_deliveries(staff, armenia):
    travelers_in(armenia, 2)
    soon = timezone.now() + dt.timedelta(minutes=5)
    sending = publish_frozen(alert=_draft(staff, armenia, expires_at=soon), user=staff)
    scheduled = alert_publish(
        alert=_draft(staff, armenia, publish_at=soon - dt.timedelta(minutes=1), expires_at=soon), user=staff
    )
    lasting = alert_publish(alert=_draft(staff, armenia), user=staff)
    assert alert_expire_due(now=timezone.now()) == []
    assert sorted(alert_expire_due(now=soon)) == sorted([sending.pk, scheduled.pk])
    sending.refresh_from_db()
    assert sending.status == AlertStatus.EXPIRED
    assert set(Delivery.objects.filter(alert=sending).values_list("status", flat=True)) == {DeliveryStatus.FAILED}
    assert Alert.objects.get(pk=lasting.pk).status == AlertStatus.SENDING
    assert alert_expire_due(now=soon) == []


def test_correction_reuses_the_collapse_id_and_replaces_the_original_when_published(staff, armenia):
    travelers_in(armenia, 2)
    original = publish_frozen(alert=_draft(staff, armenia), user=staff)
    correction = alert_supersede(alert=original, user=staff, text_en="Correction: the river is the Hrazdan.")
    assert correction.status == AlertStatus.DRAFT
    assert correction.collapse_id == original.collapse_id == str(original.pk)
    assert correction.supersedes == original
    assert correction.title_ru == original.title_ru  # carried over unless changed
    publish_frozen(alert=correction, user=staff)
    original.refresh_from_db()
    assert original.status == AlertStatus.CANCELLED
    assert not Delivery.objects.filter(alert=original, status__in=["pending", "retry"]).exists()
    assert Delivery.objects.filter(alert=correction).count() == 2


def test_only_a_published_alert_can_be_corrected(staff, armenia):
    with pytest.raises(ApplicationError) as exc:
        alert_supersede(alert=_draft(staff, armenia), user=staff)
    assert _code(exc) == "invalid_alert_status"


def test_unknown_alert_is_not_found(staff):
    with pytest.raises(NotFoundError):
        alert_publish(alert=Alert(pk=999999), user=staff)


def test_publishing_twice_is_refused(staff, armenia):
    alert = alert_publish(alert=_draft(staff, armenia), user=staff)
    with pytest.raises(ApplicationError) as exc:
        alert_publish(alert=alert, user=staff)
    assert _code(exc) == "invalid_alert_status"


def test_a_freeze_that_died_half_way_resumes_without_writing_a_row_twice(staff, armenia):
    """A kickoff killed after committing a slice left its resume point; one killed inside a slice left nothing
    of it. Rows already there are not written twice (ON CONFLICT DO NOTHING) and the counts cover them all."""
    devices = sorted(travelers_in(armenia, 3), key=lambda d: d.pk)
    alert = AlertFactory(country=armenia, author=staff, status=AlertStatus.SENDING, published_at=timezone.now())
    DeliveryFactory(alert=alert, device=devices[0])
    DeliveryFactory(alert=alert, device=devices[1])
    Alert.objects.filter(pk=alert.pk).update(audience_frozen_through=devices[0].pk)
    assert alert_audience_freeze(alert_id=alert.pk)
    assert sorted(Delivery.objects.filter(alert=alert).values_list("device_id", flat=True)) == [d.pk for d in devices]
    alert.refresh_from_db()
    assert (alert.audience_devices, alert.audience_travelers, alert.audience_frozen_through) == (3, 3, devices[2].pk)
