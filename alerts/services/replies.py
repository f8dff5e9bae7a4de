"""Travelers' answers to an alert: "I am safe" or "I need help"."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alerts.models import SafetyReply
from alerts.selectors import alert_targets_traveler
from core.errors import NotFoundError
from travelers.models import Traveler


@transaction.atomic
def safety_reply_submit(
    *, traveler: Traveler, alert_id: int, status: str, message: str = "", people: int = 1
) -> SafetyReply:
    """One answer per traveler per alert; a new answer replaces the previous one. Only an alert that was
    sent to one of the traveler's devices can be answered; any other is "not found" to them."""
    if not alert_targets_traveler(alert_id=alert_id, traveler=traveler):
        raise NotFoundError(_("Alert not found."), code="alert_not_found")
    now = timezone.now()
    reply = SafetyReply(
        alert_id=alert_id,
        traveler=traveler,
        status=status,
        message=message.strip(),
        people=people,
        created_at=now,
        updated_at=now,
    )
    SafetyReply.objects.bulk_create(
        [reply],
        update_conflicts=True,
        unique_fields=["alert", "traveler"],
        update_fields=["status", "message", "people", "updated_at"],
    )
    return SafetyReply.objects.get(alert_id=alert_id, traveler=traveler)
