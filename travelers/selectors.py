"""Reads that carry a rule."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from travelers.models import Device, DeviceSubscription, TripLeg, TripLegCity


def audience_devices(
    *, country_code: str, cities: list[str] | None = None, at: datetime | None = None
) -> QuerySet[Device]:
    """Which active devices should hear about `country_code` (optionally only `cities`) at moment `at`.

    Devices of travelers with a trip leg in the country whose dates cover `at` (or start within
    AUDIENCE_UPCOMING_DAYS), plus devices subscribed to the country. Each device once: the queryset is a
    plain filter over Device with EXISTS subqueries, so it can feed an INSERT ... SELECT without DISTINCT.
    """
    at = at or timezone.now()
    day = timezone.localdate(at)
    horizon = day + timedelta(days=settings.AUDIENCE_UPCOMING_DAYS)
    legs = TripLeg.objects.filter(
        trip__traveler_id=OuterRef("traveler_id"),
        country_id=country_code.upper(),
        start_date__lte=horizon,
        end_date__gte=day,
    )
    if cities:
        names = [city.casefold() for city in cities]
        legs = legs.filter(Exists(TripLegCity.objects.filter(leg_id=OuterRef("pk"), name__in=names)))
    subscribed = DeviceSubscription.objects.filter(device_id=OuterRef("pk"), country_id=country_code.upper())
    return Device.objects.filter(is_active=True).filter(Exists(legs) | Exists(subscribed))
