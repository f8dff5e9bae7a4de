"""Reads that carry a rule."""

from __future__ import annotations

import datetime as dt
import math

from django.db.models import Prefetch, QuerySet

from countries.models import Country, Mission, StaffMembership
from countries.representation import mission_sort_key


def staff_mission_ids(*, user) -> set[int] | None:
    """The missions a staff user works for; None means all (superusers: the crisis centre)."""
    if user.is_superuser:
        return None
    cache_attr = "_fa_mission_ids"
    if not hasattr(user, cache_attr):
        setattr(user, cache_attr, set(StaffMembership.objects.filter(user=user).values_list("mission_id", flat=True)))
    return getattr(user, cache_attr)


def staff_country_codes(*, user) -> set[str] | None:
    """The countries a staff user may see and act in; None means all countries (superusers)."""
    if user.is_superuser:
        return None
    cache_attr = "_fa_country_codes"
    if not hasattr(user, cache_attr):
        codes = set(
            Mission.objects.filter(staff_memberships__user=user).values_list("country_id", flat=True).distinct()
        )
        setattr(user, cache_attr, codes)
    return getattr(user, cache_attr)


def staff_missions(*, user) -> QuerySet[Mission]:
    ids = staff_mission_ids(user=user)
    qs = Mission.objects.select_related("country")
    return qs if ids is None else qs.filter(pk__in=ids)


# --- Public reads (API)


def country_list(*, updated_since: dt.datetime | None = None) -> QuerySet:
    """Every country as `values()` rows for the list endpoint; only those changed after `updated_since`."""
    qs = Country.objects.values("code", "advisory_level", "callbacks_enabled", "updated_at").order_by()
    return qs if updated_since is None else qs.filter(updated_at__gt=updated_since)


def country_for_pack(*, code: str) -> Country | None:
    """One country with everything its offline pack shows (4 queries), or None."""
    return (
        Country.objects.filter(code=code)
        .prefetch_related(
            "sections",
            "regional_advisories",
            Prefetch("missions", queryset=Mission.objects.filter(is_active=True)),
        )
        .first()
    )


EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres (mean Earth radius; error well under 1% for our purpose)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def missions_list(
    *, country: str | None = None, near: tuple[float, float] | None = None
) -> list[tuple[Mission, float | None]]:
    """Active missions (of one country, if given) with their distance from `near`, nearest first.

    One query. Distances are computed in Python: the whole directory of Russian missions abroad is a few
    hundred rows, so this costs well under a millisecond, works the same on SQLite and PostgreSQL and needs
    no PostGIS or earthdistance extension. Past tens of thousands of rows it would move into SQL.
    """
    qs = Mission.objects.filter(is_active=True)
    if country is not None:
        qs = qs.filter(country_id=country)
    missions = list(qs)
    if near is None:
        return [(mission, None) for mission in sorted(missions, key=mission_sort_key)]
    lat, lon = near
    pairs = [(mission, haversine_km(lat, lon, mission.latitude, mission.longitude)) for mission in missions]
    return sorted(pairs, key=lambda pair: (pair[1], mission_sort_key(pair[0])))
