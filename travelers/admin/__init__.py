"""Staff panel for travelers, trips and devices: read-only, scoped to the staff member's countries.

A traveler or trip is visible to staff whose mission's country has one of the trip legs; superusers (the
crisis centre) see all. Sign-in codes and bearer tokens are never shown, push tokens only masked. The crisis
list (people in a country or city on a day, as CSV) comes from `travelers.selectors.crisis_list`.
"""

from __future__ import annotations

import csv
import logging

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.http import HttpResponse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from core.errors import ForbiddenError
from countries.scoping import StaffScopedModelAdmin, require_mission_staff
from countries.selectors import staff_country_codes
from travelers.admin.filters import (
    CityLegFilter,
    CountryLegFilter,
    OnDayLegFilter,
    TripCityFilter,
    TripCountryFilter,
    TripOnDayFilter,
    leg_params,
)
from travelers.models import Device, DeviceSubscription, Traveler, Trip, TripLeg
from travelers.selectors import crisis_list, leg_exists
from travelers.services import traveler_erase

logger = logging.getLogger(__name__)

CRISIS_CSV_HEADER = (
    ("phone", _("Phone")),
    ("full_name", _("Name")),
    ("country", _("Country")),
    ("cities", _("Cities")),
    ("start_date", _("From")),
    ("end_date", _("To")),
    ("accommodation", _("Accommodation")),
    ("companions", _("Companions")),
    ("emergency_contact_name", _("Emergency contact")),
    ("emergency_contact_phone", _("Emergency contact phone")),
    ("emergency_contact_relation", _("Emergency contact relation")),
    ("language", _("Language")),
)


def csv_cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (text from travelers is untrusted)."""
    if isinstance(value, list):
        value = "; ".join(
            " ".join(filter(None, (item.get("name"), f"({item['relation']})" if item.get("relation") else "")))
            if isinstance(item, dict)
            else str(item)
            for item in value
        )
    text = "" if value is None else str(value)
    if text[:1] in {"=", "-", "@", "\t", "\r"} or (text[:1] == "+" and not text[1:].isdigit()):
        return "'" + text
    return text


class ReadOnlyMixin:
    """Staff look; changes go through the traveler's own API (and its rules), never through the panel."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class TripLegInline(admin.TabularInline):
    model = TripLeg
    fields = ("position", "country", "cities", "start_date", "end_date")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("position",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class TripInline(admin.TabularInline):
    model = Trip
    fields = ("start_date", "end_date", "legs_summary", "accommodation")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(Prefetch("legs", TripLeg.objects.order_by("position")))

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("legs"))
    def legs_summary(self, trip: Trip) -> str:
        return legs_text(trip)


def legs_text(trip: Trip) -> str:
    return "; ".join(
        f"{leg.country_id} {', '.join(leg.cities)} {leg.start_date:%d.%m}–{leg.end_date:%d.%m.%Y}".replace("  ", " ")
        for leg in trip.legs.all()
    )


@admin.register(Traveler)
class TravelerAdmin(ReadOnlyMixin, StaffScopedModelAdmin):
    list_display = ("full_name", "phone", "language", "created_at")
    list_filter = (CountryLegFilter, CityLegFilter, OnDayLegFilter)
    search_fields = ("=phone", "full_name")
    fields = (
        "id",
        "phone",
        "full_name",
        "email",
        "language",
        "emergency_contact_name",
        "emergency_contact_phone",
        "emergency_contact_relation",
        "created_at",
        "last_seen_at",
    )
    readonly_fields = fields
    inlines = (TripInline,)
    actions = ("export_crisis_list",)
    show_full_result_count = False  # a second COUNT over the scoped table is not worth it
    list_per_page = 100

    def scope_queryset(self, request, qs):
        """EXISTS over the traveler's legs instead of a JOIN + DISTINCT (no duplicate rows, index-friendly)."""
        codes = staff_country_codes(user=request.user)
        return qs if codes is None else qs.filter(leg_exists(country_codes=codes))

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def get_deleted_objects(self, objs, request):
        """Erasure takes everything of the traveler (the service decides what); the per-model delete rights of
        trips, devices and other apps' rows, which the panel otherwise never deletes, do not apply."""
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_model(self, request, obj: Traveler) -> None:
        traveler_erase(traveler=obj)

    def delete_queryset(self, request, queryset) -> None:
        for traveler in queryset:
            traveler_erase(traveler=traveler)

    @admin.action(description=_("Export the crisis list (people in the filtered country or city) as CSV"))
    def export_crisis_list(self, request, queryset):
        params = leg_params(request)
        country = params["country"]
        if not country:
            self.message_user(
                request, _("Choose a country in the filter first: the crisis list is per country."), messages.ERROR
            )
            return None
        try:
            require_mission_staff(user=request.user, country=country)
        except ForbiddenError:
            self.message_user(request, _("Your missions do not cover this country."), messages.ERROR)
            return None
        day = params["on"] or timezone.localdate()
        rows = crisis_list(country_code=country, city=params["city"], on=day, travelers=queryset.values("pk"))
        logger.info(
            "crisis list: user=%s country=%s city=%s day=%s rows=%d",
            request.user.pk,
            country,
            params["city"],
            day,
            len(rows),
        )
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        place = f"{country}-{params['city']}" if params["city"] else country
        response["Content-Disposition"] = f'attachment; filename="crisis-list-{place}-{day:%Y-%m-%d}.csv"'
        response.write("\ufeff")  # so that spreadsheet programs read the UTF-8 (Cyrillic) correctly
        writer = csv.writer(response)
        writer.writerow([str(title) for _key, title in CRISIS_CSV_HEADER])
        for row in rows:
            writer.writerow([csv_cell(row[key]) for key, _title in CRISIS_CSV_HEADER])
        return response


@admin.register(Trip)
class TripAdmin(ReadOnlyMixin, StaffScopedModelAdmin):
    list_display = ("id", "traveler", "start_date", "end_date", "legs_summary")
    list_filter = (TripCountryFilter, TripCityFilter, TripOnDayFilter)
    list_select_related = ("traveler",)
    search_fields = ("=traveler__phone", "traveler__full_name")
    fields = ("traveler", "start_date", "end_date", "accommodation", "companions", "notes", "created_at", "updated_at")
    readonly_fields = fields
    inlines = (TripLegInline,)
    show_full_result_count = False
    list_per_page = 100

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(Prefetch("legs", TripLeg.objects.order_by("position")))

    def scope_queryset(self, request, qs):
        codes = staff_country_codes(user=request.user)
        return qs if codes is None else qs.filter(leg_exists(link="trip_id", country_codes=codes))

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("legs"))
    def legs_summary(self, trip: Trip) -> str:
        return legs_text(trip)


@admin.register(Device)
class DeviceAdmin(ReadOnlyMixin, StaffScopedModelAdmin):
    list_display = ("id", "platform", "masked_token", "locale", "app_version", "is_active", "traveler", "last_seen_at")
    list_filter = ("platform", "is_active", "locale")
    list_select_related = ("traveler",)
    fields = (
        "platform",
        "masked_token",
        "traveler",
        "locale",
        "app_version",
        "is_active",
        "deactivated_reason",
        "subscribed_countries",
        "created_at",
        "last_seen_at",
    )
    readonly_fields = fields
    show_full_result_count = False
    list_per_page = 100

    def scope_queryset(self, request, qs):
        """Devices of travelers with a leg in the staff member's countries, or subscribed to one of them."""
        codes = staff_country_codes(user=request.user)
        if codes is None:
            return qs
        subscribed = DeviceSubscription.objects.filter(device_id=OuterRef("pk"), country_id__in=codes)
        return qs.filter(Q(leg_exists(outer="traveler_id", country_codes=codes)) | Q(Exists(subscribed)))

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("push token"))
    def masked_token(self, device: Device) -> str:
        return f"…{device.token[-6:]}" if len(device.token) > 12 else "…"

    @admin.display(description=_("subscriptions"))
    def subscribed_countries(self, device: Device) -> str:
        return format_html_join(
            ", ", "{}", ((code,) for code in device.subscriptions.values_list("country_id", flat=True))
        )
