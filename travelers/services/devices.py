"""Push devices and their country subscriptions.

A device is identified by (platform, SHA-256 of its push token): the token is the device's secret, so
whoever presents it may update or unregister the device. A device registered or signed in with a traveler
belongs to that traveler (and hears about their trips); an anonymous device hears only its subscriptions.
A push provider's "this token is dead" deactivates the device (`device_token_is_dead`, then
`devices_deactivate_dead`), whoever pushed: alerts and call-backs alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import NotFoundError
from core.push import PushResult, PushStatus
from travelers.models import Device, DeviceSubscription, Language, Traveler
from travelers.services.trips import country_codes_check

MAX_SUBSCRIPTIONS = 50
DEACTIVATED_BY_PROVIDER = "push provider: token unregistered or invalid"


def device_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def locale_language(locale: str) -> str:
    """ "ru", "ru-RU", "en_GB" -> the language we have texts in; anything else -> the default (Russian)."""
    primary = locale.replace("_", "-").split("-", 1)[0].strip().lower()
    return primary if primary in Language.values else settings.LANGUAGE_CODE


def _subscriptions_replace(*, device: Device, codes: list[str]) -> None:
    DeviceSubscription.objects.filter(device=device).exclude(country_id__in=codes).delete()
    DeviceSubscription.objects.bulk_create(
        [DeviceSubscription(device=device, country_id=code) for code in dict.fromkeys(codes)], ignore_conflicts=True
    )


@transaction.atomic
def device_register(
    *,
    platform: str,
    token: str,
    locale: str | None = None,
    app_version: str | None = None,
    subscriptions: Sequence[str] | None = None,
    traveler: Traveler | None = None,
) -> tuple[Device, bool]:
    """Create or update the device with this platform and token; returns (device, created).

    Given subscriptions replace the device's set (unknown codes: 400 `unknown_country`); omitted ones stay
    as they are. A traveler (a signed-in request) takes the device over; an anonymous update leaves the
    owner alone. Registering marks the device active and seen now (a token the provider had rejected works
    again when the app presents it again).
    """
    codes = None if subscriptions is None else country_codes_check(codes=subscriptions, field_name="subscriptions")
    changes: dict = {"token": token, "is_active": True, "deactivated_reason": "", "last_seen_at": timezone.now()}
    if locale is not None:
        changes["locale"] = locale_language(locale)
    if app_version is not None:
        changes["app_version"] = app_version
    if traveler is not None:
        changes["traveler"] = traveler
    device, created = Device.objects.update_or_create(
        platform=platform,
        token_hash=device_token_hash(token),
        defaults=changes,
        create_defaults={"locale": settings.LANGUAGE_CODE, **changes},
    )
    if codes is not None:
        _subscriptions_replace(device=device, codes=codes)
    return device, created


def _device_get(*, platform: str, token: str) -> Device:
    device = Device.objects.select_for_update().filter(platform=platform, token_hash=device_token_hash(token)).first()
    if device is None:
        raise NotFoundError(_("No device is registered with this token."), code="device_not_found")
    return device


@transaction.atomic
def device_unregister(*, platform: str, token: str) -> None:
    """Forget the device and its subscriptions (404 `device_not_found` when unknown)."""
    _device_get(platform=platform, token=token).delete()


@transaction.atomic
def device_attach(*, traveler: Traveler, platform: str, token: str) -> Device:
    """Signing in on a device: it now belongs to the traveler (registered on the spot if unknown)."""
    device, _created = Device.objects.update_or_create(
        platform=platform,
        token_hash=device_token_hash(token),
        defaults={"traveler": traveler, "last_seen_at": timezone.now()},
        create_defaults={"traveler": traveler, "token": token, "locale": traveler.language},
    )
    return device


@transaction.atomic
def device_detach(*, traveler: Traveler, platform: str, token: str) -> None:
    """Signing out on a device: it becomes anonymous (keeps its subscriptions). Another's device is left alone."""
    Device.objects.filter(traveler=traveler, platform=platform, token_hash=device_token_hash(token)).update(
        traveler=None
    )


def device_token_is_dead(*, result: PushResult, last_seen_at: datetime | None) -> bool:
    """Whether a push provider's answer for a device means its token is dead and the device must stop.

    Only `INVALID_TOKEN` (FCM UNREGISTERED / INVALID_ARGUMENT on the token, APNs 410 / BadDeviceToken) kills a
    token; a transient or a payload failure never does. APNs 410 says since when the token was dead
    (`invalid_since`): a device that registered (`last_seen_at`) at or after that moment presented the token
    again and is kept. `last_seen_at` is None for a device that no longer exists."""
    if result.status != PushStatus.INVALID_TOKEN:
        return False
    return result.invalid_since is None or last_seen_at is None or last_seen_at < result.invalid_since


def devices_deactivate_dead(*, device_ids: Iterable[int]) -> int:
    """Deactivate the devices whose token `device_token_is_dead` judged dead (inactive, with the reason); they
    hear nothing more until the app registers the token again (`device_register`). Returns how many were
    active. Part of the caller's transaction when there is one."""
    ids = set(device_ids)
    if not ids:
        return 0
    return Device.objects.filter(pk__in=ids, is_active=True).update(
        is_active=False, deactivated_reason=DEACTIVATED_BY_PROVIDER
    )
