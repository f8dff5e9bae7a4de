"""The dead-token rule (travelers.services.devices), which both the alert fan-out and the call-back notices
apply to the providers' answers: what a push answer means for the device."""

import datetime as dt

import pytest
from django.utils import timezone

from core.push import PushResult, PushStatus
from tests.factories.travelers import DeviceFactory
from travelers.models import Device
from travelers.services import (
    DEACTIVATED_BY_PROVIDER,
    device_register,
    device_token_is_dead,
    devices_deactivate_dead,
)

SEEN = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("result", "dead"),
    [
        (PushResult(PushStatus.INVALID_TOKEN, error="UNREGISTERED"), True),  # FCM: no moment given
        (PushResult(PushStatus.INVALID_TOKEN, invalid_since=SEEN + dt.timedelta(seconds=1)), True),  # died after
        (PushResult(PushStatus.INVALID_TOKEN, invalid_since=SEEN), False),  # registered again at that moment
        (PushResult(PushStatus.INVALID_TOKEN, invalid_since=SEEN - dt.timedelta(days=1)), False),  # and after
        (PushResult(PushStatus.RETRY, retry_after=5), False),
        (PushResult(PushStatus.FAILED, error="payload too large"), False),  # a payload error never kills a token
        (PushResult(PushStatus.SENT), False),
    ],
)
def test_only_an_invalid_token_answer_from_before_the_last_registration_kills_the_token(result, dead):
    assert device_token_is_dead(result=result, last_seen_at=SEEN) is dead


def test_a_device_that_no_longer_exists_counts_as_dead():
    answer = PushResult(PushStatus.INVALID_TOKEN, invalid_since=SEEN)
    assert device_token_is_dead(result=answer, last_seen_at=None) is True


@pytest.mark.django_db
def test_dead_devices_are_deactivated_with_the_reason_and_the_others_are_left_alone():
    dead, alive = DeviceFactory(), DeviceFactory()
    already = DeviceFactory(is_active=False, deactivated_reason="earlier")
    assert devices_deactivate_dead(device_ids=[dead.pk, already.pk, dead.pk, 10**9]) == 1  # only the active one
    states = {d.pk: (d.is_active, d.deactivated_reason) for d in Device.objects.all()}
    assert states == {dead.pk: (False, DEACTIVATED_BY_PROVIDER), already.pk: (False, "earlier"), alive.pk: (True, "")}
    assert devices_deactivate_dead(device_ids=[]) == 0


@pytest.mark.django_db
def test_registering_the_token_again_revives_the_device_and_a_later_410_from_before_keeps_it():
    device = DeviceFactory(platform="ios", token="apns-1")
    devices_deactivate_dead(device_ids=[device.pk])
    died_at = timezone.now()
    revived, created = device_register(platform="ios", token="apns-1")
    assert (revived.pk, created, revived.is_active, revived.deactivated_reason) == (device.pk, False, True, "")
    late_answer = PushResult(PushStatus.INVALID_TOKEN, invalid_since=died_at)  # about the registration before
    assert device_token_is_dead(result=late_answer, last_seen_at=revived.last_seen_at) is False
