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
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("ID"))
    phone = PhoneNumberField(unique=True, verbose_name=_("Phone number"))
    full_name = models.CharField(max_length=200, blank=True, verbose_name=_("Full name"))
    email = models.EmailField(blank=True, verbose_name=_("Email"))
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.RU, verbose_name=_("Language"))
    emergency_contact_name = models.CharField(max_length=200, blank=True, verbose_name=_("Emergency contact: name"))
    emergency_contact_phone = PhoneNumberField(blank=True, verbose_name=_("Emergency contact: phone"))
    emergency_contact_relation = models.CharField(
        max_length=100, blank=True, verbose_name=_("Emergency contact: relation")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("Registered at"))
    last_seen_at = models.DateTimeField(null=True, blank=True, verbose_name=_("Last seen at"))

    class Meta:
        verbose_name = _("traveler")
        verbose_name_plural = _("travelers")
        ordering = ["created_at"]

    def __str__(self) -> str:
        # No personal data: this string lands in the admin log (django_admin_log.object_repr), which must not
        # keep a traveler's name or phone after erasure.
        return _("Traveler %(id)s") % {"id": str(self.pk)[:8]}

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

    phone = PhoneNumberField(verbose_name=_("Phone number"))
    code_hash = models.CharField(
        max_length=128, help_text=_("HMAC-SHA256 of phone and code, keyed by SECRET_KEY"), verbose_name=_("Code hash")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("Created at"))
    expires_at = models.DateTimeField(db_index=True, verbose_name=_("Expires at"))
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text=_("Wrong codes tried against this code"), verbose_name=_("Wrong attempts")
    )

    class Meta:
        verbose_name = _("sign-in code")
        verbose_name_plural = _("sign-in codes")
        indexes = [models.Index(fields=["phone", "-created_at"], name="otp_phone_created")]

    def __str__(self) -> str:
        return _("Sign-in code %(id)s") % {"id": self.pk}


class AuthToken(models.Model):
    """An access or refresh token; only the SHA-256 of the token is stored. Deleting it revokes it."""

    class Kind(models.TextChoices):
        ACCESS = "access"
        REFRESH = "refresh"
        # A refresh token already exchanged for a new pair, kept until it expires: presenting it again means
        # it leaked, and the whole session is revoked (refresh-token rotation with reuse detection).
        ROTATED = "rotated"

    digest = models.CharField(max_length=64, primary_key=True, verbose_name=_("Token digest"))
    traveler = models.ForeignKey(Traveler, on_delete=models.CASCADE, related_name="tokens", verbose_name=_("Traveler"))
    kind = models.CharField(max_length=10, choices=Kind.choices, verbose_name=_("Token type"))
    session = models.UUIDField(
        default=uuid.uuid4, db_index=True, help_text=_("All tokens of one sign-in"), verbose_name=_("Session")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("Created at"))
    expires_at = models.DateTimeField(db_index=True, verbose_name=_("Expires at"))

    class Meta:
        verbose_name = _("access token")
        verbose_name_plural = _("access tokens")

    def __str__(self) -> str:
        return _("%(kind)s token %(digest)s") % {"kind": self.get_kind_display(), "digest": self.digest[:8]}


class Trip(models.Model):
    traveler = models.ForeignKey(Traveler, on_delete=models.CASCADE, related_name="trips", verbose_name=_("Traveler"))
    accommodation = models.CharField(max_length=500, blank=True, verbose_name=_("Accommodation"))
    companions = models.JSONField(
        default=list, blank=True, help_text=_('[{"name": ..., "relation": ...}]'), verbose_name=_("Companions")
    )
    notes = models.TextField(blank=True, verbose_name=_("Notes"))
    start_date = models.DateField(help_text=_("Denormalised: the first leg's start"), verbose_name=_("Start date"))
    end_date = models.DateField(
        db_index=True, help_text=_("Denormalised: the last leg's end"), verbose_name=_("End date")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("Created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("Updated at"))

    class Meta:
        verbose_name = _("trip")
        verbose_name_plural = _("trips")
        ordering = ["start_date", "id"]
        indexes = [models.Index(fields=["traveler", "start_date"], name="trip_traveler_start")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")), name="trip_end_after_start"
            )
        ]

    def __str__(self) -> str:
        return _("Trip %(id)s (%(start)s – %(end)s)") % {"id": self.pk, "start": self.start_date, "end": self.end_date}

    def status_on(self, day: date) -> str:
        if day < self.start_date:
            return TripStatus.UPCOMING
        if day > self.end_date:
            return TripStatus.PAST
        return TripStatus.ACTIVE


class TripLeg(models.Model):
    # Both foreign keys are covered by the composite indexes below (no separate FK indexes).
    trip = models.ForeignKey(
        Trip, on_delete=models.CASCADE, related_name="legs", db_index=False, verbose_name=_("Trip")
    )
    position = models.PositiveSmallIntegerField(verbose_name=_("Position"))
    country = models.ForeignKey(
        Country, on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("Country")
    )
    cities = models.JSONField(
        default=list, blank=True, help_text=_("Place names as the traveler typed them"), verbose_name=_("Cities")
    )
    start_date = models.DateField(verbose_name=_("Start date"))
    end_date = models.DateField(verbose_name=_("End date"))

    class Meta:
        verbose_name = _("trip leg")
        verbose_name_plural = _("trip legs")
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

    leg = models.ForeignKey(
        TripLeg, on_delete=models.CASCADE, related_name="city_rows", db_index=False, verbose_name=_("Trip leg")
    )
    name = models.CharField(
        max_length=100, help_text=_("casefold() of the place name"), verbose_name=_("City (normalised)")
    )

    class Meta:
        verbose_name = _("trip leg city")
        verbose_name_plural = _("trip leg cities")
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

    traveler = models.ForeignKey(
        Traveler, null=True, blank=True, on_delete=models.CASCADE, related_name="devices", verbose_name=_("Traveler")
    )
    platform = models.CharField(max_length=10, choices=Platform.choices, verbose_name=_("Platform"))
    token = models.CharField(max_length=4096, verbose_name=_("Push token"))
    token_hash = models.CharField(
        max_length=64, help_text=_("SHA-256 of the token, for the unique lookup"), verbose_name=_("Token hash")
    )
    locale = models.CharField(max_length=2, choices=Language.choices, default=Language.RU, verbose_name=_("Language"))
    app_version = models.CharField(max_length=32, blank=True, verbose_name=_("App version"))
    is_active = models.BooleanField(default=True, verbose_name=_("Active"))
    deactivated_reason = models.CharField(max_length=100, blank=True, verbose_name=_("Reason for deactivation"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("Created at"))
    last_seen_at = models.DateTimeField(
        default=timezone.now, db_index=True, help_text=_("Last registration"), verbose_name=_("Last registered at")
    )

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        constraints = [models.UniqueConstraint(fields=["platform", "token_hash"], name="device_unique_token")]
        indexes = [
            # The alert audience probes candidate ids for is_active: an index-only scan of this small partial
            # index instead of a sequential scan of the device heap (see travelers.selectors.audience_devices).
            models.Index(fields=["id"], condition=models.Q(is_active=True), name="device_active_id"),
        ]

    def __str__(self) -> str:
        return _("%(platform)s device %(id)s") % {"platform": self.get_platform_display(), "id": self.pk}


class DeviceSubscription(models.Model):
    # Both foreign keys are covered by the unique constraint and the index below.
    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="subscriptions", db_index=False, verbose_name=_("Device")
    )
    country = models.ForeignKey(
        Country, on_delete=models.CASCADE, related_name="+", db_index=False, verbose_name=_("Country")
    )

    class Meta:
        verbose_name = _("country subscription")
        verbose_name_plural = _("country subscriptions")
        constraints = [models.UniqueConstraint(fields=["device", "country"], name="device_subscription_unique")]
        indexes = [models.Index(fields=["country", "device"], name="subscription_country_device")]

    def __str__(self) -> str:
        return f"{self.country_id} (device {self.device_id})"
