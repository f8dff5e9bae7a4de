"""Composing alerts: drafts, their audience preview, the four-eyes approval and corrections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alerts.models import Alert, AlertStatus, Category, Severity
from alerts.services.common import invalid_status, lock_alert
from alerts.services.messages import alert_payload_check
from core.errors import ApplicationError, ForbiddenError
from countries.models import Country
from countries.scoping import require_mission_staff
from travelers.selectors import audience_devices

# What staff write; everything else on an alert belongs to the state machine.
EDITABLE_FIELDS = (
    "country",
    "cities",
    "severity",
    "category",
    "title_ru",
    "title_en",
    "text_ru",
    "text_en",
    "publish_at",
    "expires_at",
)
# Changing these after an approval voids it: the approver approved what the travelers would read, and whom.
APPROVED_CONTENT = ("country", "cities", "severity", "category", "title_ru", "title_en", "text_ru", "text_en")


def normalise_cities(cities: list[str] | None) -> list[str]:
    """Trimmed, without blanks or case-insensitive repeats, in the order given."""
    seen, out = set(), []
    for city in cities or []:
        name = str(city).strip()
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return out


def alert_validate(*, alert: Alert, user) -> None:
    """The rules every draft obeys; raises ApplicationError with a field. Used by the services and by the
    staff panel's form (to show the error next to the field)."""
    require_mission_staff(user=user, country=alert.country_id)
    try:
        alert.clean_fields(exclude=[f.name for f in Alert._meta.fields if f.name not in EDITABLE_FIELDS])
    except DjangoValidationError as exc:
        field, errors = next(iter(exc.error_dict.items()))
        raise ApplicationError(errors[0].messages[0], code=errors[0].code or "invalid", field=field) from exc
    now = timezone.now()
    if alert.expires_at is not None and alert.expires_at <= now:
        raise ApplicationError(_("The expiry time must be in the future."), code="expires_in_past", field="expires_at")
    if alert.expires_at is not None and alert.publish_at is not None and alert.expires_at <= alert.publish_at:
        raise ApplicationError(
            _("The expiry time must be after the publication time."), code="expires_before_publish", field="expires_at"
        )
    if not isinstance(alert.cities, list) or not all(isinstance(c, str) for c in alert.cities):
        raise ApplicationError(_("Cities must be a list of place names."), code="invalid_cities", field="cities")
    alert_payload_check(alert=alert)


@transaction.atomic
def alert_create(
    *,
    author,
    country: Country | str,
    severity: str,
    title_ru: str,
    title_en: str,
    text_ru: str,
    text_en: str,
    category: str = Category.OTHER,
    cities: list[str] | None = None,
    publish_at: datetime | None = None,
    expires_at: datetime | None = None,
    supersedes: Alert | None = None,
) -> Alert:
    alert = Alert(
        country_id=country.pk if isinstance(country, Country) else str(country).upper(),
        cities=normalise_cities(cities),
        severity=severity,
        category=category,
        title_ru=title_ru.strip(),
        title_en=title_en.strip(),
        text_ru=text_ru.strip(),
        text_en=text_en.strip(),
        publish_at=publish_at,
        expires_at=expires_at,
        author=author,
        supersedes=supersedes,
        status=AlertStatus.DRAFT,
    )
    alert_validate(alert=alert, user=author)
    alert.save()
    # The collapse id is the alert's own id, or, for a correction, that of the alert it replaces on the phone.
    alert.collapse_id = supersedes.collapse_id if supersedes is not None else str(alert.pk)
    Alert.objects.filter(pk=alert.pk).update(collapse_id=alert.collapse_id)
    return alert


@transaction.atomic
def alert_update(*, alert: Alert, user, **changes) -> Alert:
    """Edit a draft. A published alert is never edited: cancel it or publish a correction."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError(_("These fields cannot be changed: %(f)s") % {"f": ", ".join(sorted(unknown))})
    alert = lock_alert(alert.pk)
    require_mission_staff(user=user, country=alert.country_id)
    if alert.status != AlertStatus.DRAFT:
        raise invalid_status(alert, _("edited"))
    if "cities" in changes:
        changes["cities"] = normalise_cities(changes["cities"])
    if "country" in changes:
        country = changes.pop("country")
        changes["country_id"] = country.pk if isinstance(country, Country) else str(country).upper()
    for name in ("title_ru", "title_en", "text_ru", "text_en"):
        if isinstance(changes.get(name), str):
            changes[name] = changes[name].strip()
    changed = [name for name, value in changes.items() if getattr(alert, name) != value]
    for name in changed:
        setattr(alert, name, changes[name])
    if any(name.removesuffix("_id") in APPROVED_CONTENT for name in changed) and alert.approver_id:
        alert.approver, alert.approved_at = None, None
        changed += ["approver", "approved_at"]
    alert_validate(alert=alert, user=user)
    if changed:
        alert.save(update_fields=[*changed, "updated_at"])
    return alert


@dataclass(frozen=True)
class AudiencePreview:
    devices: int
    travelers: int
    approval_required: bool
    threshold: int


def alert_audience_preview(*, alert: Alert, at: datetime | None = None) -> AudiencePreview:
    """Who the alert would reach if it went out now: devices, and the distinct travelers behind them."""
    counts = audience_devices(country_code=str(alert.country_id), cities=alert.cities or None, at=at).aggregate(
        devices=Count("id"), travelers=Count("traveler", distinct=True)
    )
    return AudiencePreview(
        devices=counts["devices"],
        travelers=counts["travelers"],
        approval_required=approval_required(alert=alert, audience=counts["devices"]),
        threshold=settings.ALERT_APPROVAL_THRESHOLD,
    )


def approval_required(*, alert: Alert, audience: int) -> bool:
    """Four eyes: an emergency, or a broadcast to more than ALERT_APPROVAL_THRESHOLD devices."""
    return alert.severity == Severity.EMERGENCY or audience > settings.ALERT_APPROVAL_THRESHOLD


@transaction.atomic
def alert_approve(*, alert: Alert, user) -> Alert:
    """A second staff member approves a draft. The author never approves their own alert."""
    alert = lock_alert(alert.pk)
    require_mission_staff(user=user, country=alert.country_id)
    if alert.status != AlertStatus.DRAFT:
        raise invalid_status(alert, _("approved"))
    if alert.author_id == user.pk:
        raise ForbiddenError(
            _("The author of an alert cannot approve it; a second staff member must."), code="cannot_approve_own_alert"
        )
    alert.approver, alert.approved_at = user, timezone.now()
    alert.save(update_fields=["approver", "approved_at", "updated_at"])
    return alert


@transaction.atomic
def alert_supersede(*, alert: Alert, user, **changes) -> Alert:
    """Start a correction of a published alert: a new draft with the same collapse id, so that on the phone
    it replaces the alert it corrects. Publishing the correction cancels the original."""
    unknown = set(changes) - set(EDITABLE_FIELDS) - {"country"}
    if unknown or "country" in changes:
        raise ApplicationError(_("A correction keeps the country of the alert it corrects."), code="invalid_correction")
    original = lock_alert(alert.pk)
    require_mission_staff(user=user, country=original.country_id)
    if original.status not in (AlertStatus.SENDING, AlertStatus.SENT):
        raise invalid_status(original, _("corrected"))
    fields = {
        name: getattr(original, name)
        for name in ("cities", "severity", "category", "title_ru", "title_en", "text_ru", "text_en", "expires_at")
    }
    fields.update(changes)
    return alert_create(author=user, country=original.country_id, supersedes=original, **fields)
