"""Reads that carry a rule: the alert audience, the crisis list, trip listings."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from travelers.models import Device, DeviceSubscription, Traveler, Trip, TripLeg, TripLegCity


def _normalised_cities(cities: list[str] | None) -> list[str]:
    """The form TripLegCity stores: inner spaces collapsed, case-folded (as travelers.services.trips writes it)."""
    return sorted({" ".join(city.split()).casefold() for city in cities or [] if city and city.strip()})


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
    legs, code = _audience_legs(country_code=country_code, cities=cities, at=at)
    travelers_devices = Device.objects.filter(traveler_id__in=legs.values("trip__traveler_id")).values("id")
    subscribed = DeviceSubscription.objects.filter(country_id=code).values("device_id")
    return Device.objects.filter(is_active=True, pk__in=travelers_devices.union(subscribed))


def _audience_legs(*, country_code: str, cities: list[str] | None, at: datetime | None) -> tuple[QuerySet, str]:
    day = timezone.localdate(at or timezone.now())
    horizon = day + timedelta(days=settings.AUDIENCE_UPCOMING_DAYS)
    code = country_code.upper()
    return legs_in_country(country_code=code, first_day=day, last_day=horizon, cities=cities), code


def audience_size_upto(
    *, country_code: str, cities: list[str] | None = None, at: datetime | None = None, limit: int
) -> int:
    """min(size of `audience_devices(...)`, limit), in time bounded by `limit` rather than by the audience: the
    four-eyes rule at publication only asks "more than the threshold?", and a million-device audience must
    not make that staff request count a million rows (1.9 s at 1M devices for COUNT over the UNION, which
    PostgreSQL builds whole; ~15 ms this way).

    Each of the two candidate sets is read as a plain join with a LIMIT of 2 x limit rows (nested loops over
    the indexes, stopping early); a device seen twice (two legs, or a leg and a subscription) is counted once.
    A set read to its end gives the exact answer; only if a set is full of repeats does it fall back to the
    exact count."""
    legs, code = _audience_legs(country_code=country_code, cities=cities, at=at)
    cap = 2 * limit
    parts = (
        legs.order_by()
        .filter(trip__traveler__devices__is_active=True)
        .values_list("trip__traveler__devices__id", flat=True)[:cap],
        DeviceSubscription.objects.filter(country_id=code, device__is_active=True)
        .order_by()
        .values_list("device_id", flat=True)[:cap],
    )
    seen: set[int] = set()
    complete = True
    for part in parts:
        ids = list(part)
        seen.update(ids)
        complete = complete and len(ids) < cap
    if len(seen) >= limit or complete:
        return min(len(seen), limit)
    return audience_devices(country_code=country_code, cities=cities, at=at).values("id")[:limit].count()


def trip_list_for_traveler(*, traveler: Traveler) -> QuerySet[Trip]:
    """The caller's trips, newest last, legs prefetched in position order (one query for all legs)."""
    return Trip.objects.filter(traveler=traveler).prefetch_related(
        Prefetch("legs", queryset=TripLeg.objects.order_by("position"))
    )


CRISIS_LIST_COLUMNS = (
    ("trip__traveler__phone", "phone"),
    ("trip__traveler__full_name", "full_name"),
    ("country_id", "country"),
    ("cities", "cities"),
    ("start_date", "start_date"),
    ("end_date", "end_date"),
    ("trip__accommodation", "accommodation"),
    ("trip__companions", "companions"),
    ("trip__traveler__emergency_contact_name", "emergency_contact_name"),
    ("trip__traveler__emergency_contact_phone", "emergency_contact_phone"),
    ("trip__traveler__emergency_contact_relation", "emergency_contact_relation"),
    ("trip__traveler__language", "language"),
)


def crisis_list(
    *, country_code: str, city: str | None = None, on: date | None = None, travelers: QuerySet | None = None
) -> list[dict]:
    """The people in a country (or one of its cities) on a day (today by default): one row per trip leg there,
    with phone, name, dates, accommodation, companions and emergency contact. `travelers` narrows it to
    those travelers (a staff member's selection). One query."""
    day = on or timezone.localdate()
    legs = legs_in_country(country_code=country_code, first_day=day, last_day=day, cities=[city] if city else None)
    if travelers is not None:
        legs = legs.filter(trip__traveler__in=travelers)
    fields = [lookup for lookup, _name in CRISIS_LIST_COLUMNS]
    rows = legs.order_by("trip__traveler__full_name", "trip__traveler_id", "start_date").values(*fields)
    return [{name: row[lookup] for lookup, name in CRISIS_LIST_COLUMNS} for row in rows]


def leg_exists(
    *,
    link: str = "trip__traveler_id",
    outer: str = "pk",
    country_codes: set[str] | None = None,
    country_code: str | None = None,
    city: str | None = None,
    on: date | None = None,
) -> Exists:
    """EXISTS(a leg whose `link` equals OuterRef(`outer`), in these countries / this country, city and day).

    One EXISTS for all the conditions, so "in Armenia on 10 December" means one leg that is both. `link` is
    "trip__traveler_id" from a traveler, "trip_id" from a trip."""
    legs = TripLeg.objects.filter(**{link: OuterRef(outer)})
    if country_codes is not None:
        legs = legs.filter(country_id__in=country_codes)
    if country_code:
        legs = legs.filter(country_id=country_code.upper())
    if city:
        names = _normalised_cities([city])
        legs = legs.filter(Exists(TripLegCity.objects.filter(leg_id=OuterRef("pk"), name__in=names)))
    if on:
        legs = legs.filter(start_date__lte=on, end_date__gte=on)
    return Exists(legs)
