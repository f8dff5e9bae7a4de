"""Writes and rules of the call-back queue. The API, the staff panel and the tasks only call these.

The rule "call-backs only in the countries that offer them" lives in `callback_request_create` and nowhere
else. The claim is one `UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED)` in queue order, so two staff
members taking the next request at the same moment always get different requests and none is passed over.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import cache

import phonenumbers
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django_countries import countries

from callbacks.models import (
    OPEN_STATUSES,
    RETRY_OUTCOMES,
    WAITING_STATUSES,
    CallbackAttempt,
    CallbackRequest,
    Outcome,
    Status,
)
from core.errors import ApplicationError, ConflictError, ForbiddenError, NotFoundError, RateLimitedError
from core.queue import enqueue_on_commit
from countries.models import Country, Mission, MissionKind
from countries.scoping import require_mission_staff
from travelers.models import Traveler, TripLegCity

logger = logging.getLogger(__name__)

ONE_OPEN_CONSTRAINT = "callback_one_open_per_traveler"
LIMIT_WINDOW = dt.timedelta(hours=24)


# --- Traveler side -------------------------------------------------------------------------------------------


def _not_available(country: Country, *, no_mission: bool = False) -> ApplicationError:
    """400 callback_not_available, naming (from the database, in the active language) where call-backs exist."""
    enabled = Country.objects.filter(callbacks_enabled=True).exclude(code=country.code)
    available = list(enabled.order_by("code").values_list("code", flat=True))
    names = ", ".join(sorted(str(countries.name(code)) for code in available))
    if no_mission:
        detail = _("No mission takes call-back requests in %(country)s at the moment.")
    else:
        detail = _("Call-backs from a diplomat are not available in %(country)s.")
    detail %= {"country": country.code.name}  # type: ignore[attr-defined]  # a CountryField is a Country
    if names:  # two sentences, each translated on its own
        detail = " ".join((detail, _("They are available in: %(countries)s.") % {"countries": names}))
    return ApplicationError(
        detail, code="callback_not_available", field="country", extra={"available_countries": available}
    )


def _traveler_places(*, traveler: Traveler, country: Country, today: dt.date) -> set[str]:
    """The cities of the traveler's trip legs in this country that cover today (case-folded)."""
    return set(
        TripLegCity.objects.filter(
            leg__trip__traveler=traveler, leg__country=country, leg__start_date__lte=today, leg__end_date__gte=today
        ).values_list("name", flat=True)
    )


def callback_queue_mission(*, country: Country, places: set[str]) -> Mission | None:
    """The mission whose queue takes the request: one that serves the traveler's place, else the embassy."""
    missions = list(
        Mission.objects.filter(country=country, is_active=True).only("id", "kind", "serves_regions").order_by("id")
    )
    folded = {place.strip().casefold() for place in places if place.strip()}
    if folded:
        for mission in missions:
            if folded & {str(region).strip().casefold() for region in mission.serves_regions or []}:
                return mission
    embassy = next((m for m in missions if m.kind == MissionKind.EMBASSY), None)
    return embassy or (missions[0] if missions else None)


def _phone_is_verified(*, traveler: Traveler, phone: str) -> bool:
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    given = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return given == str(traveler.phone)


def _conflict_open(open_id: int | None) -> ConflictError:
    return ConflictError(
        _("You already have an open call-back request. Cancel it or wait until it is closed."),
        code="callback_already_open",
        extra={"open_request_id": open_id},
    )


def callback_request_create(
    *,
    traveler: Traveler,
    country: str,
    topic: str,
    message: str = "",
    language: str | None = None,
    city: str = "",
    phone: str | None = None,
) -> CallbackRequest:
    """Queue a request for a call from a diplomat of the mission serving the traveler's place.

    The checks are reads and the insert is one statement (the partial unique index settles a race), so this
    needs no transaction of its own; the API wraps it and the answer in one, so a failure after the insert
    keeps no request the traveler was never shown.
    """
    found = Country.objects.filter(code=(country or "").strip().upper()).first()
    if found is None:
        raise ApplicationError(_("Unknown country."), code="country_not_found", field="country")
    if not found.callbacks_enabled:
        raise _not_available(found)
    now = timezone.now()
    places = {city} if city.strip() else _traveler_places(traveler=traveler, country=found, today=now.date())
    mission = callback_queue_mission(country=found, places=places)
    if mission is None:
        raise _not_available(found, no_mission=True)
    if phone and not _phone_is_verified(traveler=traveler, phone=phone):
        raise ApplicationError(
            _("We can only call the phone number you signed in with."), code="phone_not_verified", field="phone"
        )

    # One query for both rules: the open request, if any, and the requests of the last 24 hours.
    recent = list(
        CallbackRequest.objects.filter(traveler=traveler)
        .filter(Q(status__in=OPEN_STATUSES) | Q(queued_at__gt=now - LIMIT_WINDOW))
        .order_by("queued_at")
        .values_list("id", "status", "queued_at")
    )
    open_ids = [pk for pk, state, _queued in recent if state in OPEN_STATUSES]
    if open_ids:
        raise _conflict_open(open_ids[0])
    in_window = [queued for _pk, _state, queued in recent if queued > now - LIMIT_WINDOW]
    limit = settings.CALLBACK_DAILY_LIMIT
    if len(in_window) >= limit:
        # Allowed again when enough of them have left the 24-hour window.
        frees_at = in_window[len(in_window) - limit] + LIMIT_WINDOW
        retry_after = max(1, int((frees_at - now).total_seconds()) + 1)
        raise RateLimitedError(
            _("You can send at most %(limit)d call-back requests in 24 hours. Please try again later.")
            % {"limit": limit},
            code="callback_limit_reached",
            retry_after=retry_after,
        )

    request = CallbackRequest(
        traveler=traveler,
        country=found,
        mission=mission,
        topic=topic,
        message=message,
        language=language or traveler.language,
        city=city.strip(),
        status=Status.QUEUED,
        queued_at=now,
        available_at=now,
    )
    try:
        with transaction.atomic():
            request.save(force_insert=True)
    except IntegrityError as exc:
        # Another request of this traveler was created at the same moment: the partial unique index decides.
        if ONE_OPEN_CONSTRAINT not in str(exc):
            raise
        open_id = (
            CallbackRequest.objects.filter(traveler=traveler, status__in=OPEN_STATUSES)
            .values_list("id", flat=True)
            .first()
        )
        raise _conflict_open(open_id) from exc
    return request


@transaction.atomic
def callback_request_cancel(*, traveler: Traveler, request_id: int) -> CallbackRequest:
    """The traveler withdraws their waiting request. Cancelling a cancelled request again changes nothing.

    Another traveler's request is "not found" (its existence is not confirmed).
    """
    locked = CallbackRequest.objects.select_for_update().filter(pk=request_id, traveler=traveler).first()
    if locked is None:
        raise NotFoundError()
    if locked.status == Status.CANCELLED:
        return locked
    if locked.status not in WAITING_STATUSES:
        detail = (
            _("A diplomat is already calling you; the request can no longer be cancelled.")
            if locked.status == Status.IN_PROGRESS
            else _("The request is already closed.")
        )
        raise ConflictError(detail, code="callback_not_cancellable", extra={"request_status": locked.status})
    locked.status = Status.CANCELLED
    locked.closed_at = timezone.now()
    locked.save(update_fields=["status", "closed_at"])
    return locked


# --- Staff side ----------------------------------------------------------------------------------------------


NOTICE_BATCH_SECONDS = 1.0
SEND_NOTICES = "callbacks.tasks.send_notices"  # by name (core.queue): services never import callbacks.tasks


def _push_on_commit() -> None:
    """Have the pending pushes sent soon after the commit: at most one task per process per NOTICE_BATCH_SECONDS.

    The task runs NOTICE_BATCH_SECONDS after the kick, so it finds every change this process committed in
    between (their own kicks were skipped). During a surge that is one broker message per process per
    second instead of one per claim. A broker that is down costs nothing here (`retry=False`, logged by
    `core.queue.enqueue`): the rows still carry `push_pending` and the periodic sweep sends them.
    """
    enqueue_on_commit(SEND_NOTICES, countdown=NOTICE_BATCH_SECONDS, retry=False, at_most_every=NOTICE_BATCH_SECONDS)


@cache
def _claim_statement() -> tuple[str, list[str]]:
    """One statement: lock the first claimable row (skipping rows locked by other claims) and take it."""
    meta = CallbackRequest._meta
    fields = meta.concrete_fields
    sql = f"""
        UPDATE {meta.db_table} SET status = %s, claimed_by_id = %s, claimed_at = %s, push_pending = %s
        WHERE id = (
            SELECT id FROM {meta.db_table}
            WHERE mission_id = %s AND status IN (%s, %s) AND available_at <= %s
            ORDER BY priority, queued_at, id
            LIMIT 1
            FOR UPDATE SKIP LOCKED
        )
        RETURNING {", ".join(connection.ops.quote_name(str(f.column)) for f in fields)}
    """  # noqa: S608 — table and column names from the model; every value is a parameter
    return sql, [f.attname for f in fields]


def callback_request_claim_next(*, staff, mission: Mission) -> CallbackRequest | None:
    """Give `staff` the first claimable request of the mission's queue, or None when nothing is waiting.

    Order: urgent topics first, then the original queue time, then id (the `callback_queue_order` index).
    Rows that another transaction is claiming at this moment are skipped, not waited for, so concurrent
    claims never return the same request and never block each other. The claim is a single
    `UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING ...` statement, atomic by itself:
    one round trip (the bench measures it against a bare psycopg loop). Called inside a transaction it
    becomes part of it. The traveler's push is recorded in the same statement (`push_pending`) and sent
    after the commit.
    """
    require_mission_staff(user=staff, mission=mission)
    now = timezone.now()
    if connection.vendor != "postgresql":
        request = _claim_next_portable(staff=staff, mission=mission, now=now)
    else:
        sql, attnames = _claim_statement()
        with connection.cursor() as cursor:
            cursor.execute(
                sql, [Status.IN_PROGRESS, staff.pk, now, Status.IN_PROGRESS, mission.pk, *WAITING_STATUSES, now]
            )
            row = cursor.fetchone()
        request = None if row is None else CallbackRequest.from_db(connection.alias, attnames, row)
    if request is None:
        return None
    _push_on_commit()
    return request


def _claim_next_portable(*, staff, mission: Mission, now: dt.datetime) -> CallbackRequest | None:
    """The claim on a database without `SKIP LOCKED` (SQLite, the embedded default: one writer at a time).

    Read the first claimable id, then take it only if it is still waiting; a concurrent claim that won the
    row makes the update match nothing, and the next one is tried.
    """
    claimable = CallbackRequest.objects.filter(
        mission=mission, status__in=WAITING_STATUSES, available_at__lte=now
    ).order_by("priority", "queued_at", "id")
    with transaction.atomic():
        while (pk := claimable.values_list("id", flat=True).first()) is not None:
            taken = CallbackRequest.objects.filter(pk=pk, status__in=WAITING_STATUSES).update(
                status=Status.IN_PROGRESS, claimed_by=staff, claimed_at=now, push_pending=Status.IN_PROGRESS
            )
            if taken:
                return CallbackRequest.objects.get(pk=pk)
    return None


@transaction.atomic
def callback_attempt_record(*, request: CallbackRequest, staff, outcome: str, note: str = "") -> CallbackAttempt:
    """Record how the call went and move the request on.

    completed: closed. no_answer / busy: back in the queue after CALLBACK_RETRY_DELAY_MINUTES, keeping its
    original place; the CALLBACK_MAX_ATTEMPTS-th such call closes it as unreachable. released: given back to
    the queue at once, not counted as a call.
    """
    if outcome not in Outcome.values:
        raise ApplicationError(_("Unknown outcome."), code="invalid_outcome", field="outcome")
    locked = CallbackRequest.objects.select_for_update().filter(pk=request.pk).first()
    if locked is None:
        raise NotFoundError()
    if locked.status != Status.IN_PROGRESS:
        raise ConflictError(
            _("This request is not in progress; it may have been closed or cancelled."),
            code="callback_not_in_progress",
            extra={"request_status": locked.status},
        )
    if locked.claimed_by_id != staff.pk and not staff.is_superuser:
        raise ForbiddenError(_("Another staff member is handling this request."), code="callback_claimed_by_other")
    now = timezone.now()
    attempt = CallbackAttempt.objects.create(
        request=locked,
        mission_id=locked.mission_id,
        staff=staff,
        started_at=locked.claimed_at or now,  # set: the request is in progress
        ended_at=now,
        outcome=outcome,
        note=note,
    )
    fields = ["status", "claimed_by", "claimed_at", "push_pending"]
    locked.push_pending = ""  # back in the queue: a "taken" notice not yet sent is stale now
    if outcome == Outcome.RELEASED:
        locked.status = Status.NO_ANSWER if locked.attempts else Status.QUEUED
    else:
        locked.attempts += 1
        locked.outcome = outcome
        fields += ["attempts", "outcome"]
        if outcome == Outcome.COMPLETED:
            locked.status = Status.COMPLETED
        elif outcome in RETRY_OUTCOMES and locked.attempts < settings.CALLBACK_MAX_ATTEMPTS:
            locked.status = Status.NO_ANSWER
            locked.available_at = now + dt.timedelta(minutes=settings.CALLBACK_RETRY_DELAY_MINUTES)
            fields.append("available_at")
        else:
            locked.status = Status.UNREACHABLE
    if locked.status in (Status.COMPLETED, Status.UNREACHABLE):
        locked.closed_at = now
        locked.push_pending = locked.status
        fields.append("closed_at")
        _push_on_commit()
    locked.claimed_by = None
    locked.claimed_at = None
    locked.save(update_fields=fields)
    return attempt


def callback_requests_expire_stale(*, batch_size: int = 500) -> int:
    """Close as expired every request waiting longer than CALLBACK_EXPIRE_HOURS (by its original queue time).

    Requests being called right now are left alone (in progress, or locked by a claim at this instant).
    Returns how many expired; each batch is its own transaction and pushes its own notice.
    """
    total = 0
    while True:
        with transaction.atomic():
            now = timezone.now()
            cutoff = now - dt.timedelta(hours=settings.CALLBACK_EXPIRE_HOURS)
            ids = list(
                CallbackRequest.objects.select_for_update(skip_locked=True)
                .filter(status__in=WAITING_STATUSES, queued_at__lt=cutoff)
                .order_by("queued_at")
                .values_list("id", flat=True)[:batch_size]
            )
            if ids:
                CallbackRequest.objects.filter(pk__in=ids).update(
                    status=Status.EXPIRED, closed_at=now, push_pending=Status.EXPIRED
                )
                _push_on_commit()
        total += len(ids)
        if len(ids) < batch_size:
            return total


def callback_claims_release_stale(*, batch_size: int = 500) -> int:
    """Give back to the queue every request held "in progress" longer than CALLBACK_CLAIM_TIMEOUT_MINUTES with
    no outcome recorded (taken by someone whose shift ended, or whose browser closed mid-call).

    Each is recorded as a `released` attempt of the staff member who held it (not counted as a call) and goes
    back to its original place in the queue; a "taken" notice not yet pushed is dropped. Requests whose row is
    locked at this instant (an outcome being recorded) are left for the next run. Returns how many were
    released; each batch is its own transaction.
    """
    total = 0
    while True:
        with transaction.atomic():
            now = timezone.now()
            minutes = settings.CALLBACK_CLAIM_TIMEOUT_MINUTES
            rows = list(
                CallbackRequest.objects.select_for_update(skip_locked=True)
                .filter(status=Status.IN_PROGRESS, claimed_at__lt=now - dt.timedelta(minutes=minutes))
                .order_by("claimed_at")
                .values("id", "mission_id", "claimed_by_id", "claimed_at")[:batch_size]
            )
            if rows:
                note = _("Returned to the queue automatically: no outcome recorded within %(minutes)s minutes.") % {
                    "minutes": minutes
                }
                CallbackAttempt.objects.bulk_create(
                    CallbackAttempt(
                        request_id=row["id"],
                        mission_id=row["mission_id"],
                        staff_id=row["claimed_by_id"],
                        started_at=row["claimed_at"] or now,  # set: filtered on it
                        ended_at=now,
                        outcome=Outcome.RELEASED,
                        note=note,
                    )
                    for row in rows
                )
                CallbackRequest.objects.filter(pk__in=[row["id"] for row in rows]).update(
                    status=Case(When(attempts=0, then=Value(Status.QUEUED)), default=Value(Status.NO_ANSWER)),
                    claimed_by=None,
                    claimed_at=None,
                    push_pending="",
                )
                logger.warning("call-backs: %s claims held over %s minutes returned to the queue", len(rows), minutes)
        total += len(rows)
        if len(rows) < batch_size:
            return total
