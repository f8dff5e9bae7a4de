"""Reads of the call-back queue that carry a rule: the position in the queue and the estimated wait.

`position` is the number of waiting requests ahead of this one in the same mission's queue, in the claim
order (urgent first, then original queue time, then id); 0 means "you are next". It is counted in SQL as
an annotation, so a list costs the same number of queries as one request.

`estimated_wait_minutes` = position x the mission's handling time (the average length of its last
HANDLING_SAMPLE completed calls over HANDLING_WINDOW, else CALLBACK_DEFAULT_HANDLING_MINUTES), counted in the
mission's open time from now (or from the end of the retry delay): a mission that is closed starts at its
next opening, and work left at closing time continues at the following one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    Count,
    FloatField,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from callbacks.hours import add_open_minutes, minutes_between
from callbacks.models import PRIORITY_URGENT, WAITING_STATUSES, CallbackAttempt, CallbackRequest, Outcome, Status
from countries.hours import hours_state
from travelers.models import Traveler

HANDLING_SAMPLE = 20
HANDLING_WINDOW = dt.timedelta(days=30)

_WAITING_SQL = ", ".join(f"'{s.value}'" for s in WAITING_STATUSES)  # constants, not input

# Average length in seconds of the mission's recent completed calls, correlated to the outer request row.
# `{seconds}`: the call's length in seconds, in the database's dialect (SECONDS_SQL).
_HANDLING_SQL = f"""
    SELECT AVG({{seconds}})
    FROM (
        SELECT a.started_at, a.ended_at
        FROM {CallbackAttempt._meta.db_table} a
        WHERE a.mission_id = {CallbackRequest._meta.db_table}.mission_id
          AND a.outcome = '{Outcome.COMPLETED.value}'
          AND a.ended_at >= %s
        ORDER BY a.ended_at DESC
        LIMIT {HANDLING_SAMPLE}
    ) recent
"""  # noqa: S608 — only constants are interpolated; the one value is a parameter
SECONDS_SQL = {
    "postgresql": "EXTRACT(EPOCH FROM recent.ended_at - recent.started_at)",
    # The embedded default stores datetimes as ISO text: julianday() reads them, in days.
    "sqlite": "(julianday(recent.ended_at) - julianday(recent.started_at)) * 86400.0",
}


def _handling_sql() -> str:
    return _HANDLING_SQL.format(seconds=SECONDS_SQL[connection.vendor])


def _ahead_subquery() -> Subquery:
    """Waiting requests of the same queue that come before the outer one in claim order."""
    ahead = (
        CallbackRequest.objects.filter(mission_id=OuterRef("mission_id"), status__in=WAITING_STATUSES)
        .filter(
            Q(priority__lt=OuterRef("priority"))
            | Q(priority=OuterRef("priority"), queued_at__lt=OuterRef("queued_at"))
            | Q(priority=OuterRef("priority"), queued_at=OuterRef("queued_at"), id__lt=OuterRef("id"))
        )
        .order_by()
        .values("mission_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Subquery(ahead, output_field=IntegerField())


def with_queue_figures(qs: QuerySet[CallbackRequest], *, now: dt.datetime | None = None) -> QuerySet[CallbackRequest]:
    """Annotate `queue_ahead` and `handling_seconds` on waiting rows (None on the others)."""
    now = now or timezone.now()
    waiting = Q(status__in=WAITING_STATUSES)
    return qs.annotate(
        queue_ahead=Case(When(waiting, then=Coalesce(_ahead_subquery(), 0)), default=None, output_field=IntegerField()),
        handling_seconds=Case(
            When(waiting, then=RawSQL(_handling_sql(), (now - HANDLING_WINDOW,), output_field=FloatField())),  # noqa: S611
            default=None,
            output_field=FloatField(),
        ),
    )


def callback_requests_of_traveler(*, traveler: Traveler) -> QuerySet[CallbackRequest]:
    """The traveler's own requests, newest first, with mission, calls made and queue figures."""
    calls = CallbackAttempt.objects.exclude(outcome=Outcome.RELEASED).only(
        "id", "request_id", "started_at", "ended_at", "outcome"
    )
    return with_queue_figures(
        CallbackRequest.objects.filter(traveler=traveler)
        .select_related("mission")
        .prefetch_related(Prefetch("attempt_set", queryset=calls, to_attr="calls"))
        .order_by("-queued_at", "-id")
    )


@dataclass(frozen=True)
class QueueEstimate:
    position: int | None
    estimated_wait_minutes: int | None
    mission_open: bool | None  # None: the mission publishes no opening hours
    mission_opens_at: dt.datetime | None  # when closed: the next opening, in the mission's time zone

    @property
    def mission_opens_at_utc(self) -> dt.datetime | None:
        return self.mission_opens_at.astimezone(dt.UTC) if self.mission_opens_at else None


def queue_estimate(request: CallbackRequest, *, now: dt.datetime | None = None) -> QueueEstimate:
    """Position and wait of a request annotated by `with_queue_figures` (its mission loaded)."""
    now = now or timezone.now()
    mission = request.mission
    hours = hours_state(mission.opening_hours, mission.time_zone, now)
    opens_at = hours.opens_at if hours.open_now is False else None
    if request.status not in WAITING_STATUSES:
        return QueueEstimate(None, None, hours.open_now, opens_at)
    position = getattr(request, "queue_ahead", None) or 0  # annotated by with_queue_figures
    seconds = getattr(request, "handling_seconds", None)
    handling = seconds / 60 if seconds else settings.CALLBACK_DEFAULT_HANDLING_MINUTES
    start = max(now, request.available_at)
    called_at = add_open_minutes(mission.opening_hours, mission.time_zone, start, position * handling)
    return QueueEstimate(position, minutes_between(now, called_at), hours.open_now, opens_at)


def callback_queue_counts(*, mission_ids: set[int] | None) -> dict[int, dict[str, int]]:
    """Per mission: requests waiting now, urgent among them, in progress (for the staff panel's buttons)."""
    now = timezone.now()
    qs = CallbackRequest.objects.filter(status__in=(*WAITING_STATUSES, Status.IN_PROGRESS))
    if mission_ids is not None:
        qs = qs.filter(mission_id__in=mission_ids)
    ready = Q(status__in=WAITING_STATUSES, available_at__lte=now)
    rows = (
        qs.order_by()
        .values("mission_id")
        .annotate(
            ready=Count("id", filter=ready),
            urgent=Count("id", filter=ready & Q(priority=PRIORITY_URGENT)),
            in_progress=Count("id", filter=Q(status=Status.IN_PROGRESS)),
        )
    )
    return {
        row["mission_id"]: {"ready": row["ready"], "urgent": row["urgent"], "in_progress": row["in_progress"]}
        for row in rows
    }


# --- the traveler's data export (travelers.services.traveler_export) --------------------------------------------

REQUEST_EXPORT_FIELDS = (
    "id",
    "country",
    "mission",
    "topic",
    "message",
    "language",
    "city",
    "status",
    "queued_at",
    "claimed_at",
    "closed_at",
    "attempts",
    "outcome",
)
CALL_EXPORT_FIELDS = ("started_at", "ended_at", "outcome", "note")


def traveler_callbacks_export(*, traveler: Traveler) -> list[dict]:
    """The traveler's call-back requests, oldest first, each with its calls."""
    from travelers.services import export_rows

    requests = export_rows(
        CallbackRequest.objects.filter(traveler=traveler).order_by("queued_at", "id"), REQUEST_EXPORT_FIELDS
    )
    calls: dict[int, list[dict]] = {}
    attempts = CallbackAttempt.objects.filter(request__traveler=traveler).order_by("started_at", "id")
    for row in export_rows(attempts, ("request", *CALL_EXPORT_FIELDS)):
        calls.setdefault(row.pop("request"), []).append(row)
    return [{**request, "calls": calls.get(request["id"], [])} for request in requests]
