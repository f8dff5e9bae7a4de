"""The call-back queue in the staff panel: a staff member sees only their missions' queues.

"Take next" (one button per mission) and the outcome buttons call the services; every field the state
machine owns is read-only, and requests are neither added nor deleted here.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from callbacks.hours import minutes_between
from callbacks.models import WAITING_STATUSES, CallbackAttempt, CallbackRequest, Outcome, Status
from callbacks.selectors import callback_queue_counts
from callbacks.services import callback_attempt_record, callback_request_claim_next
from core.exceptions import ApplicationError
from countries.models import Mission
from countries.scoping import StaffScopedModelAdmin
from countries.selectors import staff_mission_ids

AMBER, RED = "#f0ad00", "#c9302c"


class QueueStateFilter(admin.SimpleListFilter):
    """Open requests by default: what a duty officer needs at 3 a.m."""

    title = _("queue")
    parameter_name = "queue"
    default = "open"

    def lookups(self, request, model_admin):
        return [
            ("open", _("Open (waiting or being called)")),
            ("waiting", _("Waiting")),
            ("mine", _("Being called by me")),
            ("closed", _("Closed")),
            ("all", _("All")),
        ]

    def value(self):
        return super().value() or self.default

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value()
        if value == "open":
            return queryset.filter(status__in=(*WAITING_STATUSES, Status.IN_PROGRESS))
        if value == "waiting":
            return queryset.filter(status__in=WAITING_STATUSES)
        if value == "mine":
            return queryset.filter(status=Status.IN_PROGRESS, claimed_by=request.user)
        if value == "closed":
            return queryset.exclude(status__in=(*WAITING_STATUSES, Status.IN_PROGRESS))
        return queryset


class UrgentFilter(admin.SimpleListFilter):
    title = _("urgency")
    parameter_name = "urgent"

    def lookups(self, request, model_admin):
        return [("1", _("Urgent topics")), ("0", _("Other topics"))]

    def queryset(self, request, queryset):
        if self.value() in {"0", "1"}:
            return queryset.filter(priority=0 if self.value() == "1" else 1)
        return queryset


class CallbackAttemptInline(admin.TabularInline):
    model = CallbackAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = ("started_at", "ended_at", "outcome", "staff", "note")
    verbose_name_plural = _("Calls and claims")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CallbackOutcomeForm(forms.Form):
    outcome = forms.ChoiceField(choices=Outcome.choices)
    note = forms.CharField(max_length=2000, required=False)


@admin.register(CallbackRequest)
class CallbackRequestAdmin(StaffScopedModelAdmin):
    scope_mission_lookup = "mission"
    change_list_template = "admin/callbacks/callbackrequest/change_list.html"
    change_form_template = "admin/callbacks/callbackrequest/change_form.html"
    list_display = (
        "id",
        "waiting",
        "urgent",
        "topic",
        "status",
        "traveler_phone",
        "language",
        "mission",
        "attempts",
        "claimed_by",
    )
    list_display_links = ("id", "waiting")
    list_filter = (QueueStateFilter, "status", ("mission", admin.RelatedOnlyFieldListFilter), "topic", UrgentFilter)
    list_select_related = ("mission", "traveler", "claimed_by")
    ordering = ("priority", "queued_at", "id")
    search_fields = ("=id", "=traveler__phone")
    list_per_page = 50
    inlines = [CallbackAttemptInline]
    fieldsets = (
        (
            _("Call the traveler"),
            {"fields": ("traveler_phone", "traveler_name", "language", "topic", "message", "city", "country")},
        ),
        (
            _("Queue"),
            {
                "fields": (
                    "mission",
                    "status",
                    "waiting",
                    "queued_at",
                    "available_at",
                    "claimed_by",
                    "claimed_at",
                    "attempts",
                    "outcome",
                    "closed_at",
                )
            },
        ),
    )
    readonly_fields = (
        "traveler_phone",
        "traveler_name",
        "language",
        "topic",
        "message",
        "city",
        "country",
        "mission",
        "status",
        "waiting",
        "queued_at",
        "available_at",
        "claimed_by",
        "claimed_at",
        "attempts",
        "outcome",
        "closed_at",
    )

    # --- columns ------------------------------------------------------------------------------------------------

    @admin.display(description=_("Phone to call"), ordering="traveler__phone")
    def traveler_phone(self, obj: CallbackRequest) -> str:
        phone = str(obj.traveler.phone)
        return format_html('<a href="tel:{}"><strong>{}</strong></a>', phone, phone)

    @admin.display(description=_("Name"))
    def traveler_name(self, obj: CallbackRequest) -> str:
        return obj.traveler.full_name or "—"

    @admin.display(description=_("Urgent"), boolean=True, ordering="priority")
    def urgent(self, obj: CallbackRequest) -> bool:
        return obj.is_urgent

    @admin.display(description=_("Waiting"), ordering="queued_at")
    def waiting(self, obj: CallbackRequest) -> str:
        now = timezone.now()
        if obj.status == Status.IN_PROGRESS and obj.claimed_at is not None:
            return gettext("being called, %(minutes)d min") % {"minutes": minutes_between(obj.claimed_at, now)}
        if obj.status not in WAITING_STATUSES:
            return "—"
        minutes = minutes_between(obj.queued_at, now)
        text = gettext("%(minutes)d min") % {"minutes": minutes}
        if obj.available_at > now:
            text = gettext("%(minutes)d min, call again after %(time)s (mission time)") % {
                "minutes": minutes,
                "time": obj.available_at.astimezone(ZoneInfo(obj.mission.time_zone)).strftime("%H:%M"),
            }
        if minutes >= settings.CALLBACK_RED_MINUTES:
            return format_html('<span class="cb-wait cb-red" style="{}">{}</span>', self._badge(RED, "#fff"), text)
        if minutes >= settings.CALLBACK_AMBER_MINUTES:
            return format_html('<span class="cb-wait cb-amber" style="{}">{}</span>', self._badge(AMBER, "#000"), text)
        return text

    @staticmethod
    def _badge(background: str, color: str) -> str:
        return f"background:{background};color:{color};padding:2px 6px;border-radius:3px;font-weight:bold"

    # --- no adding, no deleting, no editing: the buttons call the services ---------------------------------------

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context.update(
            show_save=False,
            show_save_and_continue=False,
            show_save_and_add_another=False,
            show_delete=False,
            outcome_choices=Outcome.choices,
            can_record_outcome=bool(
                obj
                and obj.status == Status.IN_PROGRESS
                and (obj.claimed_by_id == request.user.pk or request.user.is_superuser)
            ),
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changelist_view(self, request, extra_context=None):
        ids = staff_mission_ids(user=request.user)
        counts = callback_queue_counts(mission_ids=ids)
        missions = Mission.objects.filter(pk__in=ids if ids is not None else counts.keys()).order_by("name_en")
        queues = [{"mission": m, **counts.get(m.pk, {"ready": 0, "urgent": 0, "in_progress": 0})} for m in missions]
        extra_context = {
            **(extra_context or {}),
            "queues": queues,
            "amber": settings.CALLBACK_AMBER_MINUTES,
            "red": settings.CALLBACK_RED_MINUTES,
        }
        return super().changelist_view(request, extra_context=extra_context)

    # --- the buttons ------------------------------------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "take-next/<int:mission_id>/",
                self.admin_site.admin_view(self.take_next_view),
                name="{}_{}_take_next".format(*info),
            ),
            path(
                "<path:object_id>/outcome/",
                self.admin_site.admin_view(self.outcome_view),
                name="{}_{}_outcome".format(*info),
            ),
            *super().get_urls(),
        ]

    def _changelist_url(self) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")

    def _change_url(self, pk: int) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[pk])

    def take_next_view(self, request: HttpRequest, mission_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        mission = get_object_or_404(Mission, pk=mission_id)
        try:
            claimed = callback_request_claim_next(staff=request.user, mission=mission)
        except ApplicationError as exc:
            self.message_user(request, str(exc.detail), messages.ERROR)
            return HttpResponseRedirect(self._changelist_url())
        if claimed is None:
            self.message_user(
                request, gettext("Nobody is waiting in the queue of %(mission)s.") % {"mission": mission}, messages.INFO
            )
            return HttpResponseRedirect(self._changelist_url())
        self.message_user(
            request,
            gettext("Call-back #%(id)s is yours: call %(phone)s now.")
            % {"id": claimed.pk, "phone": claimed.traveler.phone},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(self._change_url(claimed.pk))

    def outcome_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self.get_object(request, object_id)  # scoped: another mission's request is not found
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        form = CallbackOutcomeForm(request.POST)
        change_url = self._change_url(obj.pk)
        if not form.is_valid():
            self.message_user(request, gettext("Choose an outcome."), messages.ERROR)
            return HttpResponseRedirect(change_url)
        try:
            callback_attempt_record(
                request=obj, staff=request.user, outcome=form.cleaned_data["outcome"], note=form.cleaned_data["note"]
            )
        except ApplicationError as exc:
            self.message_user(request, str(exc.detail), messages.ERROR)
            return HttpResponseRedirect(change_url)
        obj.refresh_from_db()
        self.message_user(
            request,
            gettext("Call-back #%(id)s: %(outcome)s. Now %(status)s.")
            % {
                "id": obj.pk,
                "outcome": Outcome(form.cleaned_data["outcome"]).label,
                "status": obj.get_status_display(),
            },
            messages.SUCCESS,
        )
        return HttpResponseRedirect(self._changelist_url())
