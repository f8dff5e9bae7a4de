"""List filters of the staff panel: country, city and "in the country on day D".

The three describe one trip leg together: "Armenia, Gyumri, 10 December" selects people with a leg in
Armenia that names Gyumri and covers that day, not one leg in Armenia and another in Gyumri. So the filter
that comes first among those in use (country, then city, then day) applies a single EXISTS with all of them
and the others do nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from countries.models import Country
from countries.selectors import staff_country_codes
from travelers.selectors import leg_exists

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

ORDER = ("country", "city", "on")


def parse_day(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def leg_params(request) -> dict:
    """The country, city and day the staff member filtered on (None when not given or unusable)."""
    return {
        "country": (request.GET.get("country") or "").strip().upper() or None,
        "city": (request.GET.get("city") or "").strip() or None,
        "on": parse_day(request.GET.get("on")),
    }


class LegFilterMixin:
    """`leg_link`: the path from TripLeg to the admin's object ("trip__traveler_id" or "trip_id")."""

    parameter_name: str | None

    def _apply(self, request, queryset):
        params = leg_params(request)
        active = [name for name in ORDER if params[name]]
        if not active or active[0] != self.parameter_name:
            return queryset
        link = getattr(self, "leg_link", "trip__traveler_id")
        return queryset.filter(
            leg_exists(link=link, country_code=params["country"], city=params["city"], on=params["on"])
        )


class CountryLegFilter(LegFilterMixin, admin.SimpleListFilter):
    title = _("country of a trip leg")
    parameter_name = "country"

    def lookups(self, request, model_admin):
        codes = staff_country_codes(user=request.user)
        countries = Country.objects.all() if codes is None else Country.objects.filter(code__in=codes)
        # CountryField gives a django_countries Country; django-stubs types every CharField as str.
        codes_of = [country.code for country in countries]
        return [(code.code, f"{code.code} — {code.name}") for code in codes_of]  # type: ignore[attr-defined]

    def queryset(self, request, queryset):
        return self._apply(request, queryset)


class InputFilter(LegFilterMixin, admin.SimpleListFilter):
    """A filter with a text or date box instead of a list of choices."""

    template = "admin/travelers/input_filter.html"
    input_type = "text"
    placeholder: StrOrPromise = ""

    def lookups(self, request, model_admin):
        return ()

    def has_output(self) -> bool:
        return True

    def queryset(self, request, queryset):
        return self._apply(request, queryset)

    def choices(self, changelist):
        keep = parse_qsl(changelist.get_query_string(remove=[self.parameter_name, "p"]).lstrip("?"))
        yield {
            "parameter_name": self.parameter_name,
            "value": self.value() or "",
            "input_type": self.input_type,
            "placeholder": self.placeholder,
            "hidden": keep,
            "clear_query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "selected": self.value() is not None,
        }


class CityLegFilter(InputFilter):
    title = _("city of a trip leg")
    parameter_name = "city"
    placeholder = _("e.g. Yerevan")


class OnDayLegFilter(InputFilter):
    title = _("in the country on day")
    parameter_name = "on"
    input_type = "date"


class TripCountryFilter(CountryLegFilter):
    leg_link = "trip_id"


class TripCityFilter(CityLegFilter):
    leg_link = "trip_id"


class TripOnDayFilter(OnDayLegFilter):
    leg_link = "trip_id"
