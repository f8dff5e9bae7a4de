"""Staff panel for countries and missions.

Staff see and edit only the countries and missions of their own missions (countries/scoping.py); the crisis
centre (superusers) sees everything. Every save or delete that changes what a country's offline pack shows
tells the pack service, here in the admin hooks (no signals).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_countries import countries as iso_countries

from countries.hours import hours_state
from countries.models import Country, CountrySection, Mission, RegionalAdvisory, StaffMembership
from countries.scoping import StaffScopedModelAdmin
from countries.services import countries_mark_reviewed, country_packs_invalidate


class MissionCountryFilter(admin.SimpleListFilter):
    """Countries that have missions the user may see (the related-model filter cannot handle ISO codes)."""

    title = _("country")
    parameter_name = "country"

    def lookups(self, request, model_admin):
        codes = model_admin.get_queryset(request).order_by().values_list("country", flat=True).distinct()
        return sorted((str(code), f"{code} {iso_countries.name(code)}") for code in codes)

    def queryset(self, request, queryset):
        return queryset.filter(country=self.value()) if self.value() else queryset


class PackInvalidatingAdminMixin(admin.ModelAdmin):
    """After a save (including inlines) or a delete, the packs of the affected countries are invalidated."""

    pack_country_field = "country_id"  # attribute of the object holding its country code

    def _pack_codes(self, obj) -> set[str]:
        return {str(getattr(obj, self.pack_country_field))}

    def save_model(self, request, obj, form, change):
        # A mission moved to another country changes the old country's pack too.
        obj._pack_codes_before = (
            {str(code) for code in type(obj).objects.filter(pk=obj.pk).values_list(self.pack_country_field, flat=True)}
            if change and self.pack_country_field != "pk"
            else set()
        )
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        country_packs_invalidate(codes=self._pack_codes(obj) | getattr(obj, "_pack_codes_before", set()))

    def delete_model(self, request, obj):
        codes = self._pack_codes(obj)
        super().delete_model(request, obj)
        country_packs_invalidate(codes=codes)

    def delete_queryset(self, request, queryset):
        lookup = "pk" if self.pack_country_field == "pk" else "country"
        codes = {str(code) for code in queryset.values_list(lookup, flat=True)}
        super().delete_queryset(request, queryset)
        country_packs_invalidate(codes=codes)


class CountrySectionInline(admin.StackedInline):
    model = CountrySection
    extra = 0
    fields = (("kind", "reviewed_at"), ("title_ru", "title_en"), "body_ru", "body_en")


class RegionalAdvisoryInline(admin.StackedInline):
    model = RegionalAdvisory
    extra = 0
    fields = (("region_ru", "region_en"), ("level", "indicators", "reviewed_at"), "summary_ru", "summary_en")


@admin.register(Country)
class CountryAdmin(PackInvalidatingAdminMixin, StaffScopedModelAdmin):
    scope_country_lookup = "code"
    pack_country_field = "pk"
    list_display = (
        "code",
        "country_name",
        "advisory_level",
        "callbacks_enabled",
        "reviewed_at",
        "active_missions",
        "updated_at",
    )
    list_display_links = ("code", "country_name")
    list_filter = ("advisory_level", "callbacks_enabled")
    search_fields = ("code", "capital_en", "capital_ru")
    search_help_text = _("Search by code, name (Russian or English) or capital.")
    list_per_page = 300
    ordering = ("code",)
    inlines = (RegionalAdvisoryInline, CountrySectionInline)
    actions = ("mark_reviewed_today",)
    readonly_fields = ("updated_at",)
    fieldsets = (
        (None, {"fields": ("code", ("capital_ru", "capital_en"), ("calling_code", "currency"), "time_zones")}),
        (
            _("Advisory"),
            {
                "fields": (
                    ("advisory_level", "reviewed_at"),
                    "advisory_indicators",
                    "advisory_summary_ru",
                    "advisory_summary_en",
                )
            },
        ),
        (
            _("Emergency numbers"),
            {"fields": (("emergency_police", "emergency_ambulance", "emergency_fire", "emergency_single"),)},
        ),
        (_("Call-backs"), {"fields": ("callbacks_enabled", "updated_at")}),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_active_missions=Count("missions", filter=Q(missions__is_active=True)))
        )

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "code") if obj is not None else self.readonly_fields

    @admin.display(description=_("Country name"))
    def country_name(self, obj: Country) -> str:
        return obj.code.name  # type: ignore[attr-defined]  # a CountryField is a Country

    @admin.display(description=_("Active missions"), ordering="_active_missions")
    def active_missions(self, obj: Country) -> int:
        return obj._active_missions  # type: ignore[attr-defined]  # annotated by get_queryset

    def get_search_results(self, request, queryset, search_term):
        """Country names live in django-countries, not in the table: match them in both languages too."""
        results, distinct = super().get_search_results(request, queryset, search_term)
        term = search_term.strip().casefold()
        if term:
            results = results | queryset.filter(code__in=_codes_named(term))
        return results, distinct

    def has_add_permission(self, request):
        return request.user.is_superuser  # the ISO list is loaded from the reference data

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    @admin.action(description=_("Mark the advisory as reviewed today"), permissions=["change"])
    def mark_reviewed_today(self, request, queryset):
        count = countries_mark_reviewed(codes=list(queryset.values_list("code", flat=True)), on=timezone.localdate())
        self.message_user(
            request,
            ngettext("%(count)d country marked as reviewed.", "%(count)d countries marked as reviewed.", count)
            % {"count": count},
            messages.SUCCESS,
        )


def _codes_named(term: str) -> set[str]:
    codes: set[str] = set()
    for language in ("ru", "en"):
        with translation.override(language):
            codes |= {code for code, name in iso_countries if term in str(name).casefold()}
    return codes


@admin.register(RegionalAdvisory)
class RegionalAdvisoryAdmin(PackInvalidatingAdminMixin, StaffScopedModelAdmin):
    scope_country_lookup = "country"
    list_display = ("country", "region_en", "level", "reviewed_at", "updated_at")
    list_filter = ("level",)
    list_select_related = ("country",)
    search_fields = ("region_en", "region_ru", "country__code")
    fields = ("country", ("region_ru", "region_en"), ("level", "indicators", "reviewed_at"), "summary_ru", "summary_en")


class StaffMembershipInline(admin.TabularInline):
    model = StaffMembership
    extra = 0
    autocomplete_fields = ("user",)

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Mission)
class MissionAdmin(PackInvalidatingAdminMixin, StaffScopedModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # a bare host is an https site
    scope_mission_lookup = "pk"
    list_display = ("name_en", "kind", "city_en", "country", "open_now", "duty_phone", "is_active", "updated_at")
    list_filter = ("kind", "is_active", MissionCountryFilter)
    list_select_related = ("country",)
    search_fields = ("name_en", "name_ru", "city_en", "city_ru", "address_en", "ref", "country__code")
    ordering = ("country", "kind", "name_en")
    inlines = (StaffMembershipInline,)
    readonly_fields = ("ref", "updated_at")
    fieldsets = (
        (None, {"fields": (("country", "kind", "ref"), ("name_ru", "name_en"), ("city_ru", "city_en"))}),
        (_("Address"), {"fields": ("address_ru", "address_en", ("latitude", "longitude"))}),
        (_("Contacts"), {"fields": ("phones", "duty_phone", "email", "website")}),
        (
            _("Hours and district"),
            {
                "fields": ("time_zone", "opening_hours", "serves_regions"),
                "description": _(
                    'Hours are local to the mission: {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], ..., '
                    '"sun": []}. "24:00" closes at midnight.'
                ),
            },
        ),
        (None, {"fields": ("is_active", "updated_at")}),
    )

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return self.readonly_fields
        return (*self.readonly_fields, "country", "kind")

    @admin.display(description=_("Open now"), boolean=True)
    def open_now(self, obj: Mission) -> bool | None:
        return hours_state(obj.opening_hours, obj.time_zone, timezone.now()).open_now

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(StaffMembership)
class StaffMembershipAdmin(StaffScopedModelAdmin):
    """Who works for which mission: assigned by the crisis centre; staff see their own missions' colleagues."""

    scope_mission_lookup = "mission"
    list_display = ("user", "mission", "mission_country")
    list_select_related = ("user", "mission")
    list_filter = (("mission", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("user__username", "user__email", "mission__name_en")
    autocomplete_fields = ("user",)

    @admin.display(description=_("Country"), ordering="mission__country")
    def mission_country(self, obj: StaffMembership) -> str:
        return obj.mission.country_id

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
