"""Reads about alerts that carry a rule: what is current, what is public, whom an alert reached."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alerts.models import (
    OPEN_DELIVERY_STATUSES,
    PUBLIC_STATUSES,
    PUBLISHED_STATUSES,
    Alert,
    Delivery,
    DeliveryStatus,
    ReplyStatus,
    SafetyReply,
)
from core.errors import NotFoundError
from travelers.models import Traveler, TripLeg
from travelers.services import export_rows


def active_alerts(*, country_code: str, now: datetime | None = None) -> QuerySet[Alert]:
    """The country's current alerts: published (sending or sent), not cancelled, not past their expiry."""
    now = now or timezone.now()
    return (
        Alert.objects.filter(country_id=country_code.upper(), status__in=PUBLISHED_STATUSES)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("-published_at", "-id")
    )


def public_alert_get(*, alert_id: int) -> Alert:
    """A published alert (current or not) is public information; drafts and scheduled alerts are not."""
    alert = Alert.objects.filter(pk=alert_id, status__in=PUBLIC_STATUSES).first()
    if alert is None:
        raise NotFoundError(_("Alert not found."), code="alert_not_found")
    return alert


def _reaches(traveler: Traveler) -> Exists:
    return Exists(Delivery.objects.filter(alert_id=OuterRef("pk"), device__traveler=traveler))


def alert_targets_traveler(*, alert_id: int, traveler: Traveler) -> bool:
    """True when the alert was sent (or is being sent) to at least one of the traveler's devices."""
    return Delivery.objects.filter(alert_id=alert_id, device__traveler=traveler).exists()


def traveler_alerts(*, traveler: Traveler) -> QuerySet[Alert]:
    """The alerts that targeted the traveler, newest first, each with the traveler's own reply (`my_replies`)."""
    return (
        Alert.objects.filter(_reaches(traveler))
        .prefetch_related(Prefetch("replies", SafetyReply.objects.filter(traveler=traveler), to_attr="my_replies"))
        .order_by("-published_at", "-id")
    )


def alerts_with_progress(queryset: QuerySet[Alert]) -> QuerySet[Alert]:
    """Delivery progress per alert, in the same query as the alerts (one GROUP BY for a whole admin page)."""
    return queryset.annotate(
        deliveries_total=Count("deliveries"),
        deliveries_sent=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.SENT)),
        deliveries_failed=Count(
            "deliveries", filter=Q(deliveries__status__in=[DeliveryStatus.FAILED, DeliveryStatus.INVALID_TOKEN])
        ),
        deliveries_pending=Count("deliveries", filter=Q(deliveries__status__in=OPEN_DELIVERY_STATUSES)),
    )


def alert_progress(*, alert: Alert) -> dict[str, int]:
    counts = alerts_with_progress(Alert.objects.filter(pk=alert.pk)).values(  # type: ignore[misc]  # annotations
        "deliveries_total", "deliveries_sent", "deliveries_failed", "deliveries_pending"
    )[0]
    return {key.removeprefix("deliveries_"): value for key, value in counts.items()}


def alert_reply_roster(*, alert: Alert) -> QuerySet[Traveler]:
    """Every traveler the alert reached, with their reply: who needs help first, then who is safe, then who
    has not answered. Each with their phone and the cities of their trip in the alert's country."""
    replies = SafetyReply.objects.filter(alert=alert, traveler=OuterRef("pk"))
    leg = TripLeg.objects.filter(trip__traveler=OuterRef("pk"), country_id=alert.country_id).order_by("-start_date")
    return (
        Traveler.objects.filter(Exists(Delivery.objects.filter(alert=alert, device__traveler=OuterRef("pk"))))
        .annotate(
            reply_status=Subquery(replies.values("status")[:1]),
            reply_message=Subquery(replies.values("message")[:1]),
            reply_people=Subquery(replies.values("people")[:1]),
            reply_updated_at=Subquery(replies.values("updated_at")[:1]),
            trip_cities=Subquery(leg.values("cities")[:1]),
            reply_rank=Case(
                When(reply_status=ReplyStatus.NEED_HELP, then=Value(0)),
                When(reply_status=ReplyStatus.SAFE, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            ),
        )
        .order_by("reply_rank", "-reply_updated_at", "pk")
    )


def alert_reply_summary(*, alert: Alert) -> dict[str, int]:
    counts = SafetyReply.objects.filter(alert=alert).aggregate(
        need_help=Count("pk", filter=Q(status=ReplyStatus.NEED_HELP)),
        safe=Count("pk", filter=Q(status=ReplyStatus.SAFE)),
    )
    reached = Traveler.objects.filter(
        Exists(Delivery.objects.filter(alert=alert, device__traveler=OuterRef("pk")))
    ).count()
    return {**counts, "reached": reached, "no_answer": max(0, reached - counts["need_help"] - counts["safe"])}


REPLY_EXPORT_FIELDS = ("alert", "status", "message", "people", "created_at", "updated_at")
DELIVERY_EXPORT_FIELDS = ("alert", "device", "status", "attempts", "last_error", "sent_at")


def traveler_replies_export(traveler: Traveler) -> list[dict]:
    """For the traveler's data export: their answers to alerts."""
    return export_rows(SafetyReply.objects.filter(traveler=traveler).order_by("created_at"), REPLY_EXPORT_FIELDS)


def traveler_deliveries_export(traveler: Traveler) -> list[dict]:
    """For the traveler's data export: which alert went to which of their devices, and what happened."""
    return export_rows(Delivery.objects.filter(device__traveler=traveler).order_by("id"), DELIVERY_EXPORT_FIELDS)
