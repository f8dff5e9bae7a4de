"""Travelers (signed in by phone), their trips, their push devices and anonymous subscriptions.

Travelers are not Django auth users: staff use the staff panel, travelers only the API with a bearer token.
"""

import uuid
from datetime import date

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from countries.models import Country


class Language(models.TextChoices):
    RU = "ru", "Русский"
    EN = "en", "English"


class Traveler(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    phone = PhoneNumberField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.RU)
    emergency_contact_name = models.CharField(max_length=200, blank=True)
    emergency_contact_phone = PhoneNumberField(blank=True)
    emergency_contact_relation = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        # No personal data: this string lands in the admin log (django_admin_log.object_repr), which must not
        # keep a traveler's name or phone after erasure.
        return f"Traveler {str(self.pk)[:8]}"

    # DRF's IsAuthenticated and throttles look at these on request.user.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False


class TripStatus(models.TextChoices):
    UPCOMING = "upcoming", _("Upcoming")
    ACTIVE = "active", _("Active")
    PAST = "past", _("Past")


class OneTimeCode(models.Model):
    """A sign-in code sent by SMS; only its hash is stored. Deleted when used or replaced by a newer code."""

    phone = PhoneNumberField()
    code_hash = models.CharField(max_length=128, help_text="HMAC-SHA256 of phone and code, keyed by SECRET_KEY")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Wrong codes tried against this code")

    class Meta:
        indexes = [models.Index(fields=["phone", "-created_at"], name="otp_phone_created")]

    def __str__(self) -> str:
        return f"Sign-in code {self.pk}"


class AuthToken(models.Model):
    """An access or refresh token; only the SHA-256 of the token is stored. Deleting it revokes it."""

    class Kind(models.TextChoices):
        ACCESS = "access"
        REFRESH = "refresh"
        # A refresh token already exchanged for a new pair, kept until it expires: presenting it again means
        # it leaked, and the whole session is revoked (refresh-token rotation with reuse detection).
        ROTATED = "rotated"

    digest = models.CharField(max_length=64, primary_key=True)
    traveler = models.ForeignKey(Traveler, on_delete=models.CASCADE, related_name="tokens")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    session = models.UUIDField(default=uuid.uuid4, db_index=True, help_text="All tokens of one sign-in")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.kind} token {self.digest[:8]}"


class Trip(models.Model):
    traveler = models.ForeignKey(Traveler, on_delete=models.CASCADE, related_name="trips")
    accommodation = models.CharField(max_length=500, blank=True)
    companions = models.JSONField(default=list, blank=True, help_text='[{"name": ..., "relation": ...}]')
    notes = models.TextField(blank=True)
    start_date = models.DateField(help_text="Denormalised: the first leg's start")
    end_date = models.DateField(db_index=True, help_text="Denormalised: the last leg's end")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start_date", "id"]
        indexes = [models.Index(fields=["traveler", "start_date"], name="trip_traveler_start")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")), name="trip_end_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"Trip {self.pk} ({self.start_date} – {self.end_date})"

    def status_on(self, day: date) -> str:
        if day < self.start_date:
            return TripStatus.UPCOMING
        if day > self.end_date:
            return TripStatus.PAST
        return TripStatus.ACTIVE


class TripLeg(models.Model):
    # Both foreign keys are covered by the composite indexes below (no separate FK indexes).
    trip = models.ForeignKey(Trip, on_delete=models.CASCADE, related_name="legs", db_index=False)
    position = models.PositiveSmallIntegerField()
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="+", db_index=False)
    cities = models.JSONField(default=list, blank=True, help_text="Place names as the traveler typed them")
    start_date = models.DateField()
    end_date = models.DateField()

    class Meta:
        ordering = ["trip", "position"]
        # The alert audience: legs of one country whose dates overlap a window; index-only with trip_id.
        indexes = [models.Index(fields=["country", "end_date", "start_date"], include=["trip"], name="leg_audience")]
        constraints = [
            models.UniqueConstraint(fields=["trip", "position"], name="trip_leg_unique_position"),
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")), name="trip_leg_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country_id} {self.start_date} – {self.end_date}"


class TripLegCity(models.Model):
    """One city of a leg, normalised (case-folded) so the alert audience can match cities in SQL."""

    leg = models.ForeignKey(TripLeg, on_delete=models.CASCADE, related_name="city_rows", db_index=False)
    name = models.CharField(max_length=100, help_text="casefold() of the place name")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["leg", "name"], name="trip_leg_city_unique")]
        indexes = [models.Index(fields=["name"], name="trip_leg_city_name")]

    def __str__(self) -> str:
        return self.name


class Platform(models.TextChoices):
    ANDROID = "android", "Android"
    IOS = "ios", "iOS"
    WEB = "web", _("Web")


class Device(models.Model):
    """A push token. Anonymous (traveler empty) devices hear only their subscribed countries."""

    traveler = models.ForeignKey(Traveler, null=True, blank=True, on_delete=models.CASCADE, related_name="devices")
    platform = models.CharField(max_length=10, choices=Platform.choices)
    token = models.CharField(max_length=4096)
    token_hash = models.CharField(max_length=64, help_text="SHA-256 of the token, for the unique lookup")
    locale = models.CharField(max_length=2, choices=Language.choices, default=Language.RU)
    app_version = models.CharField(max_length=32, blank=True)
    is_active = models.BooleanField(default=True)
    deactivated_reason = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True, help_text="Last registration")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "token_hash"], name="device_unique_token")]
        indexes = [
            # The alert audience probes candidate ids for is_active: an index-only scan of this small partial
            # index instead of a sequential scan of the device heap (see travelers.selectors.audience_devices).
            models.Index(fields=["id"], condition=models.Q(is_active=True), name="device_active_id"),
        ]

    def __str__(self) -> str:
        return f"{self.platform} device {self.pk}"


class DeviceSubscription(models.Model):
    # Both foreign keys are covered by the unique constraint and the index below.
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="subscriptions", db_index=False)
    country = models.ForeignKey(Country, on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "country"], name="device_subscription_unique")]
        indexes = [models.Index(fields=["country", "device"], name="subscription_country_device")]

    def __str__(self) -> str:
        return f"{self.country_id} (device {self.device_id})"
