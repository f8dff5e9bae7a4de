"""Staff scoping for the staff panel, built once and reused by every app's admin.

A staff user sees and edits only rows of the countries (or missions) of their missions; superusers see all.
Subclasses name the lookup from their model to a country code (`scope_country_lookup`, e.g. "country" or
"legs__country") or to a mission (`scope_mission_lookup`, e.g. "mission").
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from core.errors import ForbiddenError
from countries.selectors import staff_country_codes, staff_mission_ids


def require_mission_staff(*, user, mission=None, country=None) -> None:
    """The one staff-scope guard of the services: `user` works for `mission` (or for a mission in `country`, a
    code or a Country); superusers (the crisis centre) for all. Otherwise 403 `not_mission_staff`."""
    if mission is not None:
        ids = staff_mission_ids(user=user)
        if ids is not None and mission.pk not in ids:
            raise ForbiddenError(_("You do not work for this mission."), code="not_mission_staff")
        return
    codes = staff_country_codes(user=user)
    if codes is not None and str(getattr(country, "pk", country)) not in codes:
        raise ForbiddenError(_("You can act only for the countries of your missions."), code="not_mission_staff")


class StaffScopedAdminMixin(admin.ModelAdmin):  # a ModelAdmin for the type checker: it calls its methods
    scope_country_lookup: str | None = None
    scope_mission_lookup: str | None = None
    # Lookups through multi-valued relations (legs__country) can repeat rows: set this to de-duplicate.
    scope_distinct: bool = False

    def scope_queryset(self, request, qs: QuerySet) -> QuerySet:
        user = request.user
        if self.scope_mission_lookup:
            ids = staff_mission_ids(user=user)
            if ids is None:
                return qs
            qs = qs.filter(**{f"{self.scope_mission_lookup}__in": ids})
        elif self.scope_country_lookup:
            codes = staff_country_codes(user=user)
            if codes is None:
                return qs
            qs = qs.filter(**{f"{self.scope_country_lookup}__in": codes})
        else:
            return qs if user.is_superuser else qs.none()
        return qs.distinct() if self.scope_distinct else qs

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """Foreign-key choices (country, mission) are limited to what the staff member may act in."""
        from countries.models import Country, Mission

        if db_field.related_model is Country:
            codes = staff_country_codes(user=request.user)
            if codes is not None:
                kwargs["queryset"] = Country.objects.filter(code__in=codes)
        elif db_field.related_model is Mission:
            ids = staff_mission_ids(user=request.user)
            if ids is not None:
                kwargs["queryset"] = Mission.objects.filter(pk__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class StaffScopedModelAdmin(StaffScopedAdminMixin, admin.ModelAdmin):
    pass
