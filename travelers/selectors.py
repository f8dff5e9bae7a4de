"""Reads that carry a rule: the alert audience, the crisis list, trip listings."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from travelers.models import Device, DeviceSubscription, Traveler, Trip, TripLeg, TripLegCity


def _normalised_cities(cities: list[str] | None) -> list[str]:
    return sorted({city.strip().casefold() for city in cities or [] if city and city.strip()})


def legs_in_country(*, country_code: str, first_day: date, last_day: date, cities: list[str] | None = None):
    """Legs in `country_code` (optionally in one of `cities`, case-insensitive) overlapping [first_day, last_day]."""
    legs = TripLeg.objects.filter(country_id=country_code.upper(), start_date__lte=last_day, end_date__gte=first_day)
    names = _normalised_cities(cities)
    if names:
        legs = legs.filter(Exists(TripLegCity.objects.filter(leg_id=OuterRef("pk"), name__in=names)))
    return legs


def audience_devices(
    *, country_code: str, cities: list[str] | None = None, at: datetime | None = None
) -> QuerySet[Device]:
    """Which active devices should hear about `country_code` (optionally only `cities`) at moment `at`.

    Devices of travelers with a trip leg in the country (and in one of `cities`, compared case-insensitively,
    when given) whose dates cover `at` or start within AUDIENCE_UPCOMING_DAYS, plus devices subscribed to
    the country (a subscription is to the whole country). Each device once.

    Shape, chosen from EXPLAIN ANALYZE at a million devices (travelers-architecture.md): the two candidate
    sets are a UNION of index-only scans (`leg_audience`, `subscription_country_device`, the device
    traveler FK), and is_active is probed through the partial index `device_active_id`. The result is a
    plain Device queryset, so `.values("id").query` can feed `INSERT INTO delivery ... SELECT`.
    """
    day = timezone.localdate(at or timezone.now())
    horizon = day + timedelta(days=settings.AUDIENCE_UPCOMING_DAYS)
    code = country_code.upper()
    legs = legs_in_country(country_code=code, first_day=day, last_day=horizon, cities=cities)
    travelers_devices = Device.objects.filter(traveler_id__in=legs.values("trip__traveler_id")).values("id")
    subscribed = DeviceSubscription.objects.filter(country_id=code).values("device_id")
    return Device.objects.filter(is_active=True, pk__in=travelers_devices.union(subscribed))


def trip_list_for_traveler(*, traveler: Traveler) -> QuerySet[Trip]:
    """The caller's trips, newest last, legs prefetched in position order (one query for all legs)."""
    return Trip.objects.filter(traveler=traveler).prefetch_related(
        Prefetch("legs", queryset=TripLeg.objects.order_by("position"))
    )
