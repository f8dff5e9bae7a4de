"""Reads that carry a rule."""

from __future__ import annotations

from django.db.models import QuerySet

from countries.models import Mission, StaffMembership


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
