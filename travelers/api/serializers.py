"""Input and output shapes of the travelers API. Shapes only: the rules are in travelers.services."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from travelers.models import Device, Language, Platform, Traveler, Trip, TripStatus
from travelers.services.devices import MAX_SUBSCRIPTIONS


def phone_e164(raw: object) -> str | None:
    """The E.164 form of a phone number written with its country code ("+374 10 123456"), else None."""
    if not isinstance(raw, str) or len(raw) > 32:
        return None
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@extend_schema_field({"type": "string", "example": "+37410123456"})
class PhoneField(serializers.CharField):
    """A phone number in international form, normalised to E.164; else 400 `invalid_phone`."""

    default_error_messages = {
        "invalid_phone": _("Enter a valid phone number in international format, e.g. +37410123456.")
    }

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def run_validation(self, data=serializers.empty):
        if data == "" and not self.allow_blank:
            self.fail("invalid_phone")  # not "blank": the app switches on one code for any unusable number
        return super().run_validation(data)

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        if value == "" and self.allow_blank:
            return value
        e164 = phone_e164(value)
        if e164 is None:
            self.fail("invalid_phone")
        return e164

    def to_representation(self, value) -> str:
        return str(value) if value else ""


# --- sign-in ------------------------------------------------------------------------------------------


class OtpRequestInputSerializer(serializers.Serializer):
    phone = PhoneField()


class OtpRequestOutputSerializer(serializers.Serializer):
    expires_in = serializers.IntegerField(help_text="Seconds the code is valid for")


class DeviceRefSerializer(serializers.Serializer):
    platform = serializers.ChoiceField(choices=Platform.choices)
    token = serializers.CharField(max_length=4096)


class TokenObtainInputSerializer(serializers.Serializer):
    phone = PhoneField()
    code = serializers.CharField(max_length=16, trim_whitespace=True)
    device = DeviceRefSerializer(
        required=False, help_text="The push device signing in: it is attached to the traveler (registered if new)"
    )


class TokenPairOutputSerializer(serializers.Serializer):
    token_type = serializers.CharField(default="Bearer")
    access = serializers.CharField()
    refresh = serializers.CharField()
    access_expires_at = serializers.DateTimeField()
    refresh_expires_at = serializers.DateTimeField()


class TokenObtainOutputSerializer(TokenPairOutputSerializer):
    traveler_id = serializers.UUIDField()
    created = serializers.BooleanField(help_text="True on the first sign-in with this phone")


class TokenRefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=200)


class LogoutInputSerializer(serializers.Serializer):
    device = DeviceRefSerializer(required=False, help_text="This device stops belonging to the traveler")


# --- profile ------------------------------------------------------------------------------------------


class EmergencyContactSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, allow_blank=True, required=False)
    phone = PhoneField(allow_blank=True, required=False)
    relation = serializers.CharField(max_length=100, allow_blank=True, required=False)


class ProfileOutputSerializer(serializers.ModelSerializer):
    emergency_contact = serializers.SerializerMethodField()
    phone = PhoneField(read_only=True)
    email = serializers.CharField(read_only=True, help_text="An e-mail address, or empty")

    class Meta:
        model = Traveler
        fields = ["id", "phone", "full_name", "email", "language", "emergency_contact", "created_at"]
        read_only_fields = fields

    @extend_schema_field(EmergencyContactSerializer)
    def get_emergency_contact(self, traveler: Traveler) -> dict:
        return {
            "name": traveler.emergency_contact_name,
            "phone": str(traveler.emergency_contact_phone or ""),
            "relation": traveler.emergency_contact_relation,
        }


class ProfileUpdateInputSerializer(serializers.Serializer):
    """Only these fields can change; anything else in the body (id, phone, created_at...) is ignored."""

    full_name = serializers.CharField(max_length=200, allow_blank=True, required=False)
    email = serializers.EmailField(allow_blank=True, required=False)
    language = serializers.ChoiceField(choices=Language.choices, required=False)
    emergency_contact = EmergencyContactSerializer(required=False)


# --- trips --------------------------------------------------------------------------------------------


class TripLegSerializer(serializers.Serializer):
    country = serializers.CharField(max_length=8, help_text="ISO 3166-1 alpha-2, any case")
    cities = serializers.ListField(
        child=serializers.CharField(max_length=100, allow_blank=True), max_length=20, required=False, default=list
    )
    start_date = serializers.DateField()
    end_date = serializers.DateField()


class CompanionSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    relation = serializers.CharField(max_length=100, allow_blank=True, required=False, default="")


class TripInputSerializer(serializers.Serializer):
    legs = TripLegSerializer(many=True)
    accommodation = serializers.CharField(max_length=500, allow_blank=True, required=False, default="")
    companions = CompanionSerializer(many=True, required=False, default=list)
    notes = serializers.CharField(max_length=2000, allow_blank=True, required=False, default="")


class TripOutputSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    legs = serializers.SerializerMethodField()
    companions = CompanionSerializer(many=True)

    class Meta:
        model = Trip
        fields = ["id", "status", "legs", "accommodation", "companions", "notes", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=TripStatus.choices))
    def get_status(self, trip: Trip) -> str:
        return trip.status_on(self.context.get("today") or timezone.localdate())

    @extend_schema_field(TripLegSerializer(many=True))
    def get_legs(self, trip: Trip) -> list[dict]:
        legs = sorted(trip.legs.all(), key=lambda leg: leg.position)  # prefetched: no query per trip
        return [
            {
                "country": leg.country_id,
                "cities": leg.cities,
                "start_date": leg.start_date.isoformat(),
                "end_date": leg.end_date.isoformat(),
            }
            for leg in legs
        ]


# --- devices ------------------------------------------------------------------------------------------


class DeviceRegisterInputSerializer(serializers.Serializer):
    platform = serializers.ChoiceField(choices=Platform.choices)
    token = serializers.CharField(max_length=4096, help_text="The push token (FCM registration token, APNs token)")
    locale = serializers.CharField(
        max_length=35, required=False, help_text=f"e.g. ru-RU; texts in ru or en, else {settings.LANGUAGE_CODE}"
    )
    app_version = serializers.CharField(max_length=32, allow_blank=True, required=False)
    subscriptions = serializers.ListField(
        child=serializers.CharField(max_length=8),
        max_length=MAX_SUBSCRIPTIONS,
        required=False,
        help_text="Country codes; replaces the device's subscriptions. Omitted: unchanged.",
    )


class DeviceOutputSerializer(serializers.ModelSerializer):
    subscriptions = serializers.SerializerMethodField()
    signed_in = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = ["id", "platform", "locale", "app_version", "subscriptions", "signed_in", "is_active", "last_seen_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_subscriptions(self, device: Device) -> list[str]:
        return sorted(device.subscriptions.values_list("country_id", flat=True))

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_signed_in(self, device: Device) -> bool:
        return device.traveler_id is not None


class DeviceUnregisterInputSerializer(serializers.Serializer):
    platform = serializers.ChoiceField(choices=Platform.choices)
    token = serializers.CharField(max_length=4096)


# --- The data export (schema only: travelers.services.traveler_export builds the document) -------------------------


class ExportProfileOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    phone = serializers.CharField(help_text="E.164")
    full_name = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True)
    language = serializers.ChoiceField(choices=Language.choices)
    emergency_contact_name = serializers.CharField(allow_blank=True)
    emergency_contact_phone = serializers.CharField(allow_blank=True)
    emergency_contact_relation = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField(allow_null=True)


class ExportTripLegOutputSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    country = serializers.CharField(help_text="ISO 3166-1 alpha-2")
    cities = serializers.ListField(child=serializers.CharField())
    start_date = serializers.DateField()
    end_date = serializers.DateField()


class ExportTripOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    accommodation = serializers.CharField(allow_blank=True)
    companions = CompanionSerializer(many=True)
    notes = serializers.CharField(allow_blank=True)
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    legs = ExportTripLegOutputSerializer(many=True)


class ExportDeviceOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    platform = serializers.ChoiceField(choices=Platform.choices)
    locale = serializers.ChoiceField(choices=Language.choices)
    app_version = serializers.CharField(allow_blank=True)
    is_active = serializers.BooleanField()
    deactivated_reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    subscriptions = serializers.ListField(child=serializers.CharField(), help_text="ISO 3166-1 alpha-2 codes")


class ExportSessionOutputSerializer(serializers.Serializer):
    session = serializers.UUIDField()
    kind = serializers.CharField(help_text="`access` or `refresh`")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class ExportSignInCodeOutputSerializer(serializers.Serializer):
    phone = serializers.CharField(help_text="E.164")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    attempts = serializers.IntegerField()


@extend_schema_field(
    {
        "type": "object",
        "description": "A row of another app's section: its exported fields (travelers does not know their shape)",
        "additionalProperties": {},
    }
)
class ExportRowField(serializers.JSONField):
    pass


class TravelerExportOutputSerializer(serializers.Serializer):
    """Everything stored about the traveler: the sections of travelers itself, then those other apps register
    (alert replies and deliveries, call-back requests), each a list of rows."""

    exported_at = serializers.DateTimeField()
    profile = ExportProfileOutputSerializer()
    trips = ExportTripOutputSerializer(many=True)
    devices = ExportDeviceOutputSerializer(many=True)
    sessions = ExportSessionOutputSerializer(many=True)
    sign_in_codes = ExportSignInCodeOutputSerializer(many=True)

    def get_fields(self):
        from travelers.services import EXPORT_CONTRIBUTORS
        from travelers.services.personal_data import export_key

        fields = super().get_fields()
        for collect in EXPORT_CONTRIBUTORS:
            fields.setdefault(export_key(collect), serializers.ListField(child=ExportRowField()))
        return fields
