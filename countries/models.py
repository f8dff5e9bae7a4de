"""Countries, their advisories and content, and the diplomatic missions in them.

Texts that the app shows come in pairs of fields, `<name>_ru` and `<name>_en`; the API picks one by the
request's language (Russian by default).
"""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField


class AdvisoryLevel(models.IntegerChoices):
    NORMAL = 1, _("Exercise normal precautions")
    INCREASED_CAUTION = 2, _("Exercise increased caution")
    RECONSIDER = 3, _("Reconsider travel")
    DO_NOT_TRAVEL = 4, _("Do not travel")


class AdvisoryIndicator(models.TextChoices):
    CRIME = "C", _("Crime")
    TERRORISM = "T", _("Terrorism")
    CIVIL_UNREST = "U", _("Civil unrest")
    HEALTH = "H", _("Health")
    NATURAL_DISASTER = "N", _("Natural disaster")
    TIME_LIMITED_EVENT = "E", _("Time-limited event")
    KIDNAPPING = "K", _("Kidnapping or hostage taking")
    WRONGFUL_DETENTION = "D", _("Wrongful detention")
    OTHER = "O", _("Other")


def validate_indicators(value) -> None:
    allowed = set(AdvisoryIndicator.values)
    if not isinstance(value, list) or any(code not in allowed for code in value):
        raise ValidationError(_("Indicator codes must be a list of: %(codes)s") % {"codes": ", ".join(allowed)})


class Country(models.Model):
    """One ISO 3166-1 country. `code` is the upper-case alpha-2 code and the primary key."""

    code = CountryField(primary_key=True, verbose_name=_("Country"))
    capital_ru = models.CharField(max_length=100, blank=True, verbose_name=_("Capital (Russian)"))
    capital_en = models.CharField(max_length=100, blank=True, verbose_name=_("Capital (English)"))
    calling_code = models.CharField(
        max_length=8, blank=True, help_text=_("Without '+', e.g. 374"), verbose_name=_("Calling code")
    )
    currency = models.CharField(max_length=3, blank=True, help_text=_("ISO 4217 code"), verbose_name=_("Currency"))
    time_zones = models.JSONField(
        default=list, blank=True, help_text=_("IANA names, e.g. ['Asia/Yerevan']"), verbose_name=_("Time zones")
    )

    # Empty until the country's advisory has been assessed: "not assessed" is not "normal precautions".
    advisory_level = models.PositiveSmallIntegerField(
        choices=AdvisoryLevel.choices, null=True, blank=True, verbose_name=_("Advisory level")
    )
    advisory_summary_ru = models.TextField(blank=True, verbose_name=_("Advisory summary (Russian)"))
    advisory_summary_en = models.TextField(blank=True, verbose_name=_("Advisory summary (English)"))
    advisory_indicators = models.JSONField(
        default=list, blank=True, validators=[validate_indicators], verbose_name=_("Risk indicators")
    )
    reviewed_at = models.DateField(null=True, blank=True, verbose_name=_("Reviewed on"))

    emergency_police = models.CharField(max_length=20, blank=True, verbose_name=_("Police"))
    emergency_ambulance = models.CharField(max_length=20, blank=True, verbose_name=_("Ambulance"))
    emergency_fire = models.CharField(max_length=20, blank=True, verbose_name=_("Fire service"))
    emergency_single = models.CharField(
        max_length=20,
        blank=True,
        help_text=_("Single emergency number, e.g. 112"),
        verbose_name=_("Single emergency number"),
    )

    callbacks_enabled = models.BooleanField(default=False, verbose_name=_("Call-backs enabled"))
    # Moves whenever anything in the country's offline pack changes (see services.country_pack_invalidate).
    updated_at = models.DateTimeField(auto_now=True, db_index=True, verbose_name=_("Updated at"))
    # This country's entry in the reference data as last loaded, for the loader's three-way merge
    # (countries/reference.py): a field the file did not change keeps the value staff gave it.
    reference_snapshot = models.JSONField(
        null=True, blank=True, editable=False, verbose_name=_("Reference data snapshot")
    )

    class Meta:
        verbose_name = _("country")
        verbose_name_plural = _("countries")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(advisory_level__gte=1, advisory_level__lte=4), name="country_advisory_level_1_4"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.code.name}"  # type: ignore[attr-defined]  # a CountryField is a Country


class RegionalAdvisory(models.Model):
    """A region of a country with its own advisory level (as STEP and FCDO publish)."""

    country = models.ForeignKey(
        Country, on_delete=models.CASCADE, related_name="regional_advisories", verbose_name=_("Country")
    )
    region_ru = models.CharField(max_length=200, verbose_name=_("Region (Russian)"))
    region_en = models.CharField(max_length=200, verbose_name=_("Region (English)"))
    level = models.PositiveSmallIntegerField(
        choices=AdvisoryLevel.choices,
        validators=[MinValueValidator(1), MaxValueValidator(4)],
        verbose_name=_("Advisory level"),
    )
    summary_ru = models.TextField(blank=True, verbose_name=_("Summary (Russian)"))
    summary_en = models.TextField(blank=True, verbose_name=_("Summary (English)"))
    indicators = models.JSONField(
        default=list, blank=True, validators=[validate_indicators], verbose_name=_("Risk indicators")
    )
    reviewed_at = models.DateField(null=True, blank=True, verbose_name=_("Reviewed on"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("Updated at"))

    class Meta:
        verbose_name = _("regional advisory")
        verbose_name_plural = _("regional advisories")
        ordering = ["country", "region_en"]
        constraints = [
            models.UniqueConstraint(fields=["country", "region_en"], name="regional_advisory_unique_region"),
            models.CheckConstraint(condition=models.Q(level__gte=1, level__lte=4), name="regional_advisory_level_1_4"),
        ]

    def __str__(self) -> str:
        return f"{self.country_id}: {self.region_en} ({self.level})"


class SectionKind(models.TextChoices):
    ENTRY = "entry", _("Entry and visa rules")
    SAFETY = "safety", _("Safety and security")
    HEALTH = "health", _("Health")
    LAWS = "laws", _("Local laws and customs")
    MONEY = "money", _("Money")
    TRANSPORT = "transport", _("Transport")


class CountrySection(models.Model):
    """One content section of a country page, in both languages."""

    country = models.ForeignKey(Country, on_delete=models.CASCADE, related_name="sections", verbose_name=_("Country"))
    kind = models.CharField(max_length=20, choices=SectionKind.choices, verbose_name=_("Section"))
    title_ru = models.CharField(max_length=200, verbose_name=_("Title (Russian)"))
    title_en = models.CharField(max_length=200, verbose_name=_("Title (English)"))
    body_ru = models.TextField(verbose_name=_("Text (Russian)"))
    body_en = models.TextField(verbose_name=_("Text (English)"))
    reviewed_at = models.DateField(null=True, blank=True, verbose_name=_("Reviewed on"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("Updated at"))

    class Meta:
        verbose_name = _("country page section")
        verbose_name_plural = _("country page sections")
        ordering = ["country", "kind"]
        constraints = [models.UniqueConstraint(fields=["country", "kind"], name="country_section_unique_kind")]

    def __str__(self) -> str:
        return f"{self.country_id}: {self.kind}"


class MissionKind(models.TextChoices):
    EMBASSY = "embassy", _("Embassy")
    CONSULATE_GENERAL = "consulate_general", _("Consulate general")
    CONSULATE = "consulate", _("Consulate")
    CONSULAR_SECTION = "consular_section", _("Consular section")


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


_CLOCK = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")


def validate_opening_hours(value) -> None:
    """{"mon": [["09:00", "13:00"], ["14:00", "18:00"]], ..., "sun": []} in the mission's own time zone.

    Each span opens before it closes on the same local day; "24:00" closes at midnight.
    """
    if not isinstance(value, dict) or set(value) - set(WEEKDAYS):
        raise ValidationError(_("Opening hours must be an object keyed by mon..sun."))
    for day, spans in value.items():
        if not isinstance(spans, list):
            raise ValidationError(_("Opening hours of %(day)s must be a list of [opens, closes].") % {"day": day})
        for span in spans:
            if (
                not isinstance(span, list | tuple)
                or len(span) != 2
                or not all(isinstance(t, str) and _CLOCK.match(t) for t in span)
                or span[0] == "24:00"
                or not span[0] < span[1]
            ):
                raise ValidationError(_("Invalid opening hours span on %(day)s: %(span)s") % {"day": day, "span": span})


_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def validate_e164(value) -> None:
    if value and not (isinstance(value, str) and _E164.match(value)):
        raise ValidationError(_("Enter the number in international format, e.g. +37410567427."))


def validate_phone_list(value) -> None:
    if not isinstance(value, list):
        raise ValidationError(_("Phones must be a list of numbers in international format."))
    for number in value:
        validate_e164(number)


class Mission(models.Model):
    """A Russian diplomatic mission abroad: embassy, consulate general, consulate or consular section."""

    # Stable key of the mission in the reference data (e.g. "am-yerevan-embassy"); empty for missions added
    # in the staff panel only.
    ref = models.SlugField(
        max_length=64, unique=True, null=True, blank=True, editable=False, verbose_name=_("Reference key")
    )
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="missions", verbose_name=_("Country"))
    kind = models.CharField(max_length=20, choices=MissionKind.choices, verbose_name=_("Type of mission"))
    name_ru = models.CharField(max_length=200, verbose_name=_("Name (Russian)"))
    name_en = models.CharField(max_length=200, verbose_name=_("Name (English)"))
    city_ru = models.CharField(max_length=100, verbose_name=_("City (Russian)"))
    city_en = models.CharField(max_length=100, verbose_name=_("City (English)"))
    address_ru = models.CharField(max_length=300, verbose_name=_("Address (Russian)"))
    address_en = models.CharField(max_length=300, verbose_name=_("Address (English)"))
    latitude = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)], verbose_name=_("Latitude"))
    longitude = models.FloatField(
        validators=[MinValueValidator(-180), MaxValueValidator(180)], verbose_name=_("Longitude")
    )
    phones = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_phone_list],
        help_text=_("E.164 numbers"),
        verbose_name=_("Phone numbers"),
    )
    duty_phone = models.CharField(
        max_length=32,
        blank=True,
        validators=[validate_e164],
        help_text=_("24/7 duty phone, E.164"),
        verbose_name=_("Duty phone"),
    )
    email = models.EmailField(blank=True, verbose_name=_("Email"))
    website = models.URLField(blank=True, verbose_name=_("Website"))
    time_zone = models.CharField(
        max_length=64, help_text=_("IANA time zone of the mission, e.g. Asia/Yerevan"), verbose_name=_("Time zone")
    )
    opening_hours = models.JSONField(
        default=dict, blank=True, validators=[validate_opening_hours], verbose_name=_("Opening hours")
    )
    serves_regions = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Cities or regions this mission serves (English names); empty: all"),
        verbose_name=_("Consular district"),
    )
    is_active = models.BooleanField(default=True, verbose_name=_("Active"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("Updated at"))
    reference_snapshot = models.JSONField(
        null=True, blank=True, editable=False, verbose_name=_("Reference data snapshot")
    )

    class Meta:
        verbose_name = _("mission")
        verbose_name_plural = _("missions")
        ordering = ["country", "kind", "name_en"]
        indexes = [models.Index(fields=["country", "is_active"])]

    def __str__(self) -> str:
        """The name in the active language (English on request, Russian otherwise)."""
        return self.name_en if (get_language() or "").startswith("en") else self.name_ru

    def clean(self) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError({"time_zone": _("Unknown time zone.")}) from exc


class StaffMembership(models.Model):
    """A staff user works for a mission; in the staff panel they see only their missions' countries."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="mission_memberships",
        verbose_name=_("Staff member"),
    )
    mission = models.ForeignKey(
        Mission, on_delete=models.CASCADE, related_name="staff_memberships", verbose_name=_("Mission")
    )

    class Meta:
        verbose_name = _("staff membership")
        verbose_name_plural = _("staff memberships")
        constraints = [models.UniqueConstraint(fields=["user", "mission"], name="staff_membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.mission}"
