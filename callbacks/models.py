"""Call-back requests: a traveler asks a diplomat of the mission serving their place to call them.

One row per request is the whole queue. Its place in the queue is (priority, queued_at, id): `priority` is
derived from the topic by the database itself (a generated column), `queued_at` is the original time of the
request and never changes, so a request re-queued after an unanswered call keeps its place. `available_at`
holds it back after an unanswered call (the retry delay): a request is claimable when it is waiting
(queued or no_answer) and `available_at` has passed.

A change the traveler hears about (taken, closed) sets `push_pending` in the same statement: the row is
the outbox, and the push goes out after the commit (see callbacks.notifications).

No copy of the traveler's phone or name lives here: staff read them through the traveler foreign key, and
erasing the traveler deletes their requests and attempts by cascade.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Case, Q, Value, When
from django.utils.translation import gettext_lazy as _

from countries.models import Country, Mission
from travelers.models import Language, Traveler


class Topic(models.TextChoices):
    LOST_DOCUMENTS = "lost_documents", _("Lost or stolen documents")
    ARREST_DETENTION = "arrest_detention", _("Arrest or detention")
    MEDICAL_EMERGENCY = "medical_emergency", _("Medical emergency")
    ACCIDENT = "accident", _("Accident")
    CRIME_VICTIM = "crime_victim", _("Victim of a crime")
    OTHER = "other", _("Other")


# Served before everything else, whatever their queue time.
URGENT_TOPICS = (Topic.ARREST_DETENTION, Topic.MEDICAL_EMERGENCY, Topic.ACCIDENT)
PRIORITY_URGENT = 0
PRIORITY_NORMAL = 1


class Status(models.TextChoices):
    QUEUED = "queued", _("Queued")
    IN_PROGRESS = "in_progress", _("In progress")
    NO_ANSWER = "no_answer", _("No answer, will be called again")
    COMPLETED = "completed", _("Completed")
    UNREACHABLE = "unreachable", _("Unreachable")
    CANCELLED = "cancelled", _("Cancelled by the traveler")
    EXPIRED = "expired", _("Expired")


# Waiting for a diplomat (in the queue). A no_answer request is back in the queue once available_at passes.
WAITING_STATUSES = (Status.QUEUED, Status.NO_ANSWER)
# Not closed: at most one of these per traveler.
OPEN_STATUSES = (Status.QUEUED, Status.NO_ANSWER, Status.IN_PROGRESS)
CLOSED_STATUSES = (Status.COMPLETED, Status.UNREACHABLE, Status.CANCELLED, Status.EXPIRED)


class Outcome(models.TextChoices):
    """The outcome of one attempt (and, on the request, of its last attempt)."""

    COMPLETED = "completed", _("Completed: the traveler was helped")
    NO_ANSWER = "no_answer", _("No answer")
    BUSY = "busy", _("Line busy")
    RELEASED = "released", _("Returned to the queue without calling")


# Outcomes that count as a call that did not reach the traveler: retried after a delay, up to the maximum.
RETRY_OUTCOMES = (Outcome.NO_ANSWER, Outcome.BUSY)


class CallbackRequest(models.Model):
    traveler = models.ForeignKey(
        Traveler, on_delete=models.CASCADE, related_name="callback_requests", verbose_name=_("Traveler")
    )
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="+", verbose_name=_("Country"))
    mission = models.ForeignKey(
        Mission,
        on_delete=models.PROTECT,
        related_name="callback_requests",
        help_text=_("The queue"),
        verbose_name=_("Mission"),
    )
    topic = models.CharField(max_length=20, choices=Topic.choices, verbose_name=_("Topic"))
    priority = models.GeneratedField(
        expression=Case(
            When(topic__in=[t.value for t in URGENT_TOPICS], then=Value(PRIORITY_URGENT)),
            default=Value(PRIORITY_NORMAL),
        ),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
        help_text=_("0 for urgent topics, 1 otherwise; computed by the database from the topic"),
        verbose_name=_("Priority"),
    )
    message = models.TextField(max_length=1000, blank=True, verbose_name=_("Message"))
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.RU, verbose_name=_("Language"))
    city = models.CharField(
        max_length=100, blank=True, help_text=_("The traveler's place, as they typed it"), verbose_name=_("City")
    )

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, verbose_name=_("Status"))
    queued_at = models.DateTimeField(
        help_text=_("When the traveler asked; the queue order, kept on re-queue"), verbose_name=_("Queued at")
    )
    available_at = models.DateTimeField(
        help_text=_("Not claimable before this (the delay after an unanswered call)"), verbose_name=_("Available from")
    )
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("Taken by"),
    )
    claimed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("Taken at"))
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("Closed at"))
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text=_("Calls made (released claims not counted)"), verbose_name=_("Calls made")
    )
    outcome = models.CharField(
        max_length=12,
        choices=Outcome.choices,
        blank=True,
        help_text=_("Of the last call"),
        verbose_name=_("Outcome of the last call"),
    )
    push_pending = models.CharField(
        max_length=12,
        choices=Status.choices,
        blank=True,
        help_text=_("A status still to be pushed to the traveler (set with the change, cleared once sent)"),
        verbose_name=_("Push notification pending"),
    )

    class Meta:
        verbose_name = _("call-back request")
        verbose_name_plural = _("call-back requests")
        ordering = ["priority", "queued_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["traveler"], condition=Q(status__in=OPEN_STATUSES), name="callback_one_open_per_traveler"
            ),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="callback_status_valid"),
            models.CheckConstraint(condition=Q(topic__in=Topic.values), name="callback_topic_valid"),
            models.CheckConstraint(
                condition=~Q(status=Status.IN_PROGRESS) | Q(claimed_by__isnull=False, claimed_at__isnull=False),
                name="callback_in_progress_is_claimed",
            ),
            models.CheckConstraint(
                condition=Q(status__in=OPEN_STATUSES) | Q(closed_at__isnull=False), name="callback_closed_has_time"
            ),
        ]
        indexes = [
            # The claim and the position: the waiting rows of one queue in queue order.
            models.Index(
                fields=["mission", "priority", "queued_at", "id"],
                condition=Q(status__in=WAITING_STATUSES),
                name="callback_queue_order",
            ),
            models.Index(fields=["queued_at"], condition=Q(status__in=WAITING_STATUSES), name="callback_waiting_age"),
            models.Index(fields=["traveler", "-queued_at"], name="callback_traveler_recent"),
            models.Index(fields=["id"], condition=~Q(push_pending=""), name="callback_push_pending"),
        ]

    def __str__(self) -> str:
        return _("Call-back #%(id)s (%(status)s)") % {"id": self.pk, "status": self.get_status_display()}

    @property
    def is_urgent(self) -> bool:
        return self.priority == PRIORITY_URGENT

    @property
    def is_waiting(self) -> bool:
        return self.status in WAITING_STATUSES

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class CallbackAttempt(models.Model):
    """One call (or a claim given back): who, when, with what outcome. Written only by the service."""

    request = models.ForeignKey(
        CallbackRequest, on_delete=models.CASCADE, related_name="attempt_set", verbose_name=_("Call-back request")
    )
    mission = models.ForeignKey(
        Mission, on_delete=models.PROTECT, related_name="+", help_text=_("For handling time"), verbose_name=_("Mission")
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="callback_attempts",
        verbose_name=_("Staff member"),
    )
    started_at = models.DateTimeField(
        help_text=_("When the staff member took the request"), verbose_name=_("Started at")
    )
    ended_at = models.DateTimeField(verbose_name=_("Ended at"))
    outcome = models.CharField(max_length=12, choices=Outcome.choices, verbose_name=_("Outcome"))
    note = models.TextField(max_length=2000, blank=True, verbose_name=_("Note"))

    class Meta:
        verbose_name = _("call attempt")
        verbose_name_plural = _("call attempts")
        ordering = ["started_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ended_at__gte=models.F("started_at")), name="callback_attempt_ends"),
        ]
        indexes = [
            models.Index(
                fields=["mission", "-ended_at"],
                condition=Q(outcome="completed"),
                name="callback_attempt_handled",
            ),
        ]

    def __str__(self) -> str:
        return _("Attempt #%(id)s on call-back #%(request)s: %(outcome)s") % {
            "id": self.pk,
            "request": self.request_id,
            "outcome": self.get_outcome_display(),
        }
