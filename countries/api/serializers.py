"""Input validation of query parameters, and the output shapes for the OpenAPI schema.

The documents themselves are built by `countries/representation.py` (the pack is cached as rendered bytes);
the output serializers below describe them field by field for the mobile team, and tests validate real
responses against the generated schema.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from django_countries import countries as iso_countries
from rest_framework import serializers

from countries.models import AdvisoryIndicator, MissionKind, SectionKind

_TRAILING_OFFSET = re.compile(r" (\d{2}(?::?\d{2})?)$")
_COORDINATES = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


class CountryListQuerySerializer(serializers.Serializer):
    updated_since = serializers.CharField(required=False)

    def validate_updated_since(self, value: str):
        # An unencoded "+" of the offset arrives as a space ("...T10:00:00 03:00"): take it back.
        value = _TRAILING_OFFSET.sub(r"+\1", value.strip())
        try:
            parsed = parse_datetime(value)
            if parsed is not None:
                # As an instant in UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts.
                parsed = (parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
        except (ValueError, OverflowError):
            parsed = None
        if parsed is None:
            raise serializers.ValidationError(
                _("Give updated_since as an ISO 8601 date and time, e.g. 2026-05-01T12:00:00+03:00."),
                code="invalid_updated_since",
            )
        return parsed


class MissionListQuerySerializer(serializers.Serializer):
    country = serializers.CharField(required=False)
    near = serializers.CharField(required=False)

    def validate_country(self, value: str) -> str:
        code = value.strip().upper()
        if code not in iso_countries:
            raise serializers.ValidationError(_("Unknown country code."), code="invalid_country")
        return code

    def validate_near(self, value: str) -> tuple[float, float]:
        match = _COORDINATES.match(value)
        if match:
            lat, lon = float(match.group(1)), float(match.group(2))
            if math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180:
                return lat, lon
        raise serializers.ValidationError(
            _("Give near as latitude,longitude in degrees, e.g. 40.18,44.51."), code="invalid_coordinates"
        )


# --- Output shapes (schema only)


class CountryListItemOutputSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="ISO 3166-1 alpha-2, upper case")
    name = serializers.CharField(help_text="In the request's language")
    advisory_level = serializers.IntegerField(
        allow_null=True, min_value=1, max_value=4, help_text="1-4; null: not assessed"
    )
    callbacks_enabled = serializers.BooleanField()
    updated_at = serializers.DateTimeField(help_text="Moves whenever anything in the country's pack changes")


class RegionalAdvisoryOutputSerializer(serializers.Serializer):
    region = serializers.CharField()
    level = serializers.IntegerField(min_value=1, max_value=4)
    level_label = serializers.CharField()
    summary = serializers.CharField(allow_blank=True)
    indicators = serializers.ListField(child=serializers.ChoiceField(choices=AdvisoryIndicator.choices))
    reviewed_at = serializers.DateField(allow_null=True)


class CountryAdvisoryOutputSerializer(serializers.Serializer):
    level = serializers.IntegerField(allow_null=True, min_value=1, max_value=4, help_text="null: not assessed")
    level_label = serializers.CharField(allow_null=True)
    summary = serializers.CharField(allow_blank=True)
    indicators = serializers.ListField(child=serializers.ChoiceField(choices=AdvisoryIndicator.choices))
    reviewed_at = serializers.DateField(allow_null=True)
    regions = RegionalAdvisoryOutputSerializer(many=True)


class EmergencyNumbersOutputSerializer(serializers.Serializer):
    police = serializers.CharField(allow_null=True)
    ambulance = serializers.CharField(allow_null=True)
    fire = serializers.CharField(allow_null=True)
    single = serializers.CharField(allow_null=True, help_text="Single emergency number, e.g. 112")


class CountrySectionOutputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SectionKind.choices)
    title = serializers.CharField()
    body = serializers.CharField()
    reviewed_at = serializers.DateField(allow_null=True)
    updated_at = serializers.DateTimeField()


class OpeningHoursOutputSerializer(serializers.Serializer):
    mon = serializers.ListField(child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2))
    tue = serializers.ListField(child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2))
    wed = serializers.ListField(child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2))
    thu = serializers.ListField(child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2))
    fri = serializers.ListField(child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2))
    sat = serializers.ListField(child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2))
    sun = serializers.ListField(child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2))


class MissionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    ref = serializers.CharField(allow_null=True, help_text="Stable key from the reference data")
    country = serializers.CharField()
    kind = serializers.ChoiceField(choices=MissionKind.choices)
    kind_label = serializers.CharField()
    name = serializers.CharField()
    city = serializers.CharField()
    address = serializers.CharField()
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    distance_km = serializers.FloatField(allow_null=True, help_text="From `near`; null without it")
    phones = serializers.ListField(child=serializers.CharField(), help_text="E.164")
    duty_phone = serializers.CharField(allow_null=True, help_text="24/7, E.164")
    email = serializers.EmailField(allow_null=True)
    website = serializers.URLField(allow_null=True)
    time_zone = serializers.CharField(help_text="IANA name")
    opening_hours = OpeningHoursOutputSerializer(help_text="Local [opens, closes] spans per weekday")
    open_now = serializers.BooleanField(allow_null=True, help_text="null: no published hours")
    opens_at = serializers.DateTimeField(allow_null=True, help_text="Next opening, local time with offset")
    opens_at_utc = serializers.DateTimeField(allow_null=True)
    closes_at = serializers.DateTimeField(allow_null=True, help_text="End of the current opening, local time")
    closes_at_utc = serializers.DateTimeField(allow_null=True)
    serves_regions = serializers.ListField(child=serializers.CharField(), help_text="Empty: the whole country")
    updated_at = serializers.DateTimeField()


class CountryPackOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    language = serializers.CharField(help_text="`ru` or `en`: the language of the texts")
    capital = serializers.CharField(allow_null=True)
    calling_code = serializers.CharField(allow_null=True, help_text="Without '+'")
    currency = serializers.CharField(allow_null=True, help_text="ISO 4217")
    time_zones = serializers.ListField(child=serializers.CharField())
    callbacks_enabled = serializers.BooleanField()
    advisory = CountryAdvisoryOutputSerializer()
    emergency_numbers = EmergencyNumbersOutputSerializer()
    sections = CountrySectionOutputSerializer(many=True)
    missions = MissionOutputSerializer(many=True)
    updated_at = serializers.DateTimeField()

    def get_fields(self):
        """Plus the keys other apps add to the pack (e.g. `alerts`): each contributor declares their shape in
        its `schema_fields` attribute, {key: callable returning a serializer field}."""
        from countries.services import PACK_CONTRIBUTORS

        fields = super().get_fields()
        for contributor in PACK_CONTRIBUTORS:
            for name, make_field in getattr(contributor, "schema_fields", {}).items():
                fields[name] = make_field()
        return fields
