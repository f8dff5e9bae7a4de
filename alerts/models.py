"""Emergency alerts, their per-device delivery ledger and the travelers' "I'm safe" replies.

PostgreSQL is the record: an alert's audience is frozen into one `Delivery` row per (alert, device) when it
goes out, and every outcome is written there. Celery messages only say "work on this range of rows"; a
sweeper finds whatever a lost message left behind. No personal data of a traveler is copied into these
tables: a delivery points at a device, a reply at a traveler, and both go when the traveler is erased.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from countries.models import Country
from travelers.models import Device, Traveler


class Severity(models.TextChoices):
    INFO = "info", _("Information")
    WARNING = "warning", _("Warning")
    EMERGENCY = "emergency", _("Emergency")


class Category(models.TextChoices):
    SECURITY = "security", _("Security")
    CIVIL_UNREST = "civil_unrest", _("Civil unrest")
    TERRORISM = "terrorism", _("Terrorism")
    NATURAL_DISASTER = "natural_disaster", _("Natural disaster")
    WEATHER = "weather", _("Weather")
    HEALTH = "health", _("Health")
    TRANSPORT = "transport", _("Transport")
    EVACUATION = "evacuation", _("Evacuation")
    OTHER = "other", _("Other")


class AlertStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


# Statuses in which an alert is public and shown to travelers as current (if not past its expiry).
PUBLISHED_STATUSES = (AlertStatus.SENDING, AlertStatus.SENT)
# Statuses an alert can be seen in through the public API (drafts and scheduled alerts are not public yet).
PUBLIC_STATUSES = (AlertStatus.SENDING, AlertStatus.SENT, AlertStatus.CANCELLED, AlertStatus.EXPIRED)


class Alert(models.Model):
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="alerts", verbose_name=_("country"))
    cities = models.JSONField(
        _("cities or regions"),
        default=list,
        blank=True,
        help_text=_("Only travelers whose trip names one of these places; empty: the whole country."),
    )
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices, default=Category.OTHER)
    title_ru = models.CharField(_("title (Russian)"), max_length=120)
    title_en = models.CharField(_("title (English)"), max_length=120)
    text_ru = models.TextField(_("text (Russian)"), max_length=1500, validators=[MaxLengthValidator(1500)])
    text_en = models.TextField(_("text (English)"), max_length=1500, validators=[MaxLengthValidator(1500)])

    status = models.CharField(_("status"), max_length=10, choices=AlertStatus.choices, default=AlertStatus.DRAFT)
    publish_at = models.DateTimeField(
        _("publish at"), null=True, blank=True, help_text=_("Empty: published as soon as someone publishes it.")
    )
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("author")
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approver"),
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    publisher = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("publisher"),
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True, help_text=_("When sending began."))
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("cancelled by"),
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    collapse_id = models.CharField(
        _("collapse id"),
        max_length=64,
        blank=True,
        help_text=_("Phones show one notification per collapse id: a correction replaces the alert it corrects."),
    )
    supersedes = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
        verbose_name=_("corrects"),
    )

    # The audience is the one of `published_at`: the kickoff task writes it into Delivery rows (evaluated at
    # that moment, in slices of devices) and records here when it finished, how many rows, and how many
    # distinct travelers are behind them; `audience_frozen_through` is the last device id written (a kickoff
    # that died resumes after it). Until then the alert is sending with its audience being written.
    audience_devices = models.PositiveIntegerField(_("devices targeted"), null=True, blank=True)
    audience_travelers = models.PositiveIntegerField(_("travelers targeted"), null=True, blank=True)
    audience_frozen_at = models.DateTimeField(_("audience written at"), null=True, blank=True)
    audience_frozen_through = models.BigIntegerField(_("audience written through device"), null=True, blank=True)
    # The fan-out's own bookkeeping (the alert row is the outbox): when the kickoff task ran, when any batch
    # last made progress, when the last delivery settled. The sweeper reads these.
    fanout_started_at = models.DateTimeField(_("fan-out started at"), null=True, blank=True)
    last_progress_at = models.DateTimeField(_("last progress at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    stuck_since = models.DateTimeField(
        _("stuck since"),
        null=True,
        blank=True,
        help_text=_("Set by the self-check: older than the limit and deliveries still pending."),
    )

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["country", "status"], name="alert_country_status"),
            models.Index(fields=["status", "publish_at"], name="alert_status_publish_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__isnull=True)
                | models.Q(publish_at__isnull=True)
                | models.Q(expires_at__gt=models.F("publish_at")),
                name="alert_expires_after_publish",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title_in(get_language() or 'ru')}"

    def title_in(self, language: str) -> str:
        return self.title_en if language == "en" else self.title_ru

    def text_in(self, language: str) -> str:
        return self.text_en if language == "en" else self.text_ru


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    INVALID_TOKEN = "invalid_token", _("Invalid token")
    RETRY = "retry", _("Waiting to retry")


# Deliveries still to be sent. Everything else is final and never sent again.
OPEN_DELIVERY_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRY)


class Delivery(models.Model):
    """One device's copy of one alert. `leased_until` is set while a batch task holds the row (claimed, being
    sent); an outcome clears it. A lease that runs out without an outcome means the task was lost."""

    id = models.BigAutoField(primary_key=True)
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="alert_deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    # The Celery task that holds the lease: a redelivery of the same message (its worker died) takes its rows
    # back at once instead of waiting for the lease to run out.
    lease_owner = models.UUIDField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [models.UniqueConstraint(fields=["alert", "device"], name="delivery_unique_alert_device")]
        # Claims (alert, open statuses, id range), progress counts per status, the sweeper and the self-check
        # all read this one index; the device index serves "my alerts" and cascades.
        indexes = [models.Index(fields=["alert", "status", "id"], name="delivery_alert_status_id")]

    def __str__(self) -> str:
        return _("Alert %(alert)s to device %(device)s: %(status)s") % {
            "alert": self.alert_id,
            "device": self.device_id,
            "status": self.get_status_display(),
        }


class ReplyStatus(models.TextChoices):
    SAFE = "safe", _("I am safe")
    NEED_HELP = "need_help", _("I need help")


class SafetyReply(models.Model):
    """A traveler's answer to an alert that reached them. One per (alert, traveler); a new answer replaces it."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="replies", db_index=False)
    traveler = models.ForeignKey(Traveler, on_delete=models.CASCADE, related_name="safety_replies")
    status = models.CharField(max_length=10, choices=ReplyStatus.choices)
    message = models.TextField(blank=True, max_length=1000, validators=[MaxLengthValidator(1000)])
    people = models.PositiveSmallIntegerField(default=1, help_text=_("How many people this answer is for."))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("safety reply")
        verbose_name_plural = _("safety replies")
        constraints = [models.UniqueConstraint(fields=["alert", "traveler"], name="safety_reply_unique")]

    def __str__(self) -> str:
        return _("Reply to alert %(alert)s: %(status)s") % {"alert": self.alert_id, "status": self.get_status_display()}
