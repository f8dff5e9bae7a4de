"""Alerts in the staff panel: compose, preview the audience, approve, publish, cancel, correct; watch delivery
progress and the replies. Staff see only their missions' countries. Every action calls a service; the fields
the state machine owns are read-only, and a published alert is read-only as a whole.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from alerts.models import Alert, AlertStatus, Delivery
from alerts.selectors import alert_reply_roster, alert_reply_summary, alerts_with_progress
from alerts.services import (
    EDITABLE_FIELDS,
    alert_approve,
    alert_audience_preview,
    alert_cancel,
    alert_create,
    alert_publish,
    alert_supersede,
    alert_update,
    alert_validate,
)
from core.exceptions import ApplicationError
from countries.scoping import StaffScopedModelAdmin

STATE_FIELDS = (
    "status",
    "collapse_id",
    "supersedes",
    "author",
    "approver",
    "approved_at",
    "publisher",
    "published_at",
    "cancelled_by",
    "cancelled_at",
    "audience_devices",
    "audience_travelers",
    "fanout_started_at",
    "last_progress_at",
    "completed_at",
    "stuck_since",
    "created_at",
    "updated_at",
)


def _split_cities(text: str) -> list[str]:
    return [part.strip() for line in (text or "").splitlines() for part in line.split(",") if part.strip()]


class AlertForm(forms.ModelForm):
    cities_text = forms.CharField(
        label=_("Cities or regions"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line or separated by commas. Empty: the whole country."),
    )
    current_user = None  # set by AlertAdmin.get_form

    class Meta:
        model = Alert
        fields = [name for name in EDITABLE_FIELDS if name != "cities"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and self.instance.pk:
            self.fields["cities_text"].initial = "\n".join(self.instance.cities or [])

    def clean(self):
        super().clean()
        data = self.cleaned_data
        data["cities"] = _split_cities(data.get("cities_text", ""))
        draft = Alert(**{name: data.get(name) for name in EDITABLE_FIELDS if name in data and name != "country"})
        if data.get("country") is None:
            return data
        draft.country = data["country"]
        try:
            alert_validate(alert=draft, user=self.current_user)
        except ApplicationError as exc:
            field = exc.field if exc.field in self.fields else None
            self.add_error(field, str(exc.detail))
        return data


class CountryFilter(admin.SimpleListFilter):
    """The countries the staff member may see (their missions'), by code."""

    title = _("country")
    parameter_name = "country"

    def lookups(self, request, model_admin):
        scoped = model_admin.scope_queryset(request, Alert.objects.order_by())
        codes = scoped.values_list("country_id", flat=True).distinct()
        return [(str(code), str(code)) for code in sorted(str(c) for c in codes)]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(country_id=value.upper()) if value else queryset


@admin.register(Alert)
class AlertAdmin(StaffScopedModelAdmin):
    scope_country_lookup = "country"
    form = AlertForm
    change_form_template = "admin/alerts/alert/change_form.html"
    list_display = ("id", "title_en", "country", "severity", "status", "published_at", "progress", "stuck")
    list_filter = ("status", "severity", "category", CountryFilter)
    list_select_related = ("country",)
    search_fields = ("title_en", "title_ru")
    date_hierarchy = "created_at"
    actions = ("approve_selected", "publish_selected", "cancel_selected")

    def get_queryset(self, request):
        return alerts_with_progress(super().get_queryset(request))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.current_user = request.user  # type: ignore[attr-defined]  # read by AlertForm.clean
        return form

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != AlertStatus.DRAFT:
            return (*EDITABLE_FIELDS, "progress", *STATE_FIELDS)
        return ("progress", *STATE_FIELDS) if obj is not None else STATE_FIELDS

    def get_fieldsets(self, request, obj=None):
        editable = [name for name in EDITABLE_FIELDS if name != "cities"]
        if obj is None or obj.status == AlertStatus.DRAFT:
            editable.insert(1, "cities_text")
        else:
            editable.insert(1, "cities")
        fieldsets: list[tuple[Any, dict[str, list[str]]]] = [(None, {"fields": editable})]
        if obj is not None:
            fieldsets.append((_("Delivery"), {"fields": ["progress", *STATE_FIELDS]}))
        return fieldsets

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.status == AlertStatus.DRAFT)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.status == AlertStatus.DRAFT)

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS if name in form.cleaned_data}
        if change:
            alert_update(alert=obj, user=request.user, **data)
        else:
            saved = alert_create(author=request.user, **data)
            obj.pk, obj.collapse_id, obj.author = saved.pk, saved.collapse_id, saved.author

    # --- columns ----------------------------------------------------------------------------------------------
    @admin.display(description=_("delivery"))
    def progress(self, alert: Alert) -> str:
        total = getattr(alert, "deliveries_total", 0)
        if not total:
            return "—"
        sent, failed, pending = (getattr(alert, f"deliveries_{name}") for name in ("sent", "failed", "pending"))
        return format_html(
            '<div title="{}" style="display:flex;width:160px;height:10px;background:#ddd;border-radius:3px;'
            'overflow:hidden"><div style="width:{}%;background:#3a3"></div><div style="width:{}%;background:#c33">'
            "</div></div><small>{} / {} {} · {} {} · {} {}</small>",
            gettext("sent / total, failed, pending"),
            round(100 * sent / total, 1),
            round(100 * failed / total, 1),
            sent,
            total,
            gettext("sent"),
            failed,
            gettext("failed"),
            pending,
            gettext("pending"),
        )

    @admin.display(description=_("stuck"), boolean=True)
    def stuck(self, alert: Alert) -> bool | None:
        return True if alert.stuck_since else None

    # --- actions (each calls a service) -----------------------------------------------------------------------
    def _run(self, request, queryset, service, done: str) -> None:
        for alert in queryset:
            try:
                service(alert=alert, user=request.user)
                self.message_user(request, f"#{alert.pk}: {done}", messages.SUCCESS)
            except ApplicationError as exc:
                self.message_user(request, f"#{alert.pk}: {exc.detail}", messages.ERROR)

    @admin.action(description=_("Approve the selected alerts"))
    def approve_selected(self, request, queryset):
        self._run(request, queryset, alert_approve, gettext("approved"))

    @admin.action(description=_("Publish the selected alerts"))
    def publish_selected(self, request, queryset):
        self._run(request, queryset, alert_publish, gettext("published"))

    @admin.action(description=_("Cancel the selected alerts"))
    def cancel_selected(self, request, queryset):
        self._run(request, queryset, alert_cancel, gettext("cancelled"))

    # --- per-alert pages --------------------------------------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:alert_id>/preview/", view(self.preview_view), name="alerts_alert_preview"),
            path("<int:alert_id>/replies/", view(self.replies_view), name="alerts_alert_replies"),
            path("<int:alert_id>/do/<str:action>/", view(self.action_view), name="alerts_alert_action"),
            *super().get_urls(),
        ]

    def _scoped_alert(self, request, alert_id: int) -> Alert:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(self.get_queryset(request), pk=alert_id)

    def preview_view(self, request: HttpRequest, alert_id: int) -> HttpResponse:
        alert = self._scoped_alert(request, alert_id)
        preview = alert_audience_preview(alert=alert) if alert.status == AlertStatus.DRAFT else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": alert,
            "title": gettext("Audience of alert #%(id)s") % {"id": alert.pk},
            "preview": preview,
            "can_approve": preview is not None and alert.approver_id is None and alert.author_id != request.user.pk,
        }
        return TemplateResponse(request, "admin/alerts/alert/preview.html", context)

    def replies_view(self, request: HttpRequest, alert_id: int) -> HttpResponse:
        alert = self._scoped_alert(request, alert_id)
        page = Paginator(alert_reply_roster(alert=alert), 200).get_page(request.GET.get("page"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": alert,
            "title": gettext("Replies to alert #%(id)s") % {"id": alert.pk},
            "summary": alert_reply_summary(alert=alert),
            "page": page,
        }
        return TemplateResponse(request, "admin/alerts/alert/replies.html", context)

    def action_view(self, request: HttpRequest, alert_id: int, action: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        services = {"approve": alert_approve, "publish": alert_publish, "cancel": alert_cancel}
        if action not in {*services, "correct"} or not super().has_change_permission(request):
            return HttpResponse(status=403)
        alert = self._scoped_alert(request, alert_id)
        change_url = reverse("admin:alerts_alert_change", args=[alert.pk])
        try:
            if action == "correct":
                correction = alert_supersede(alert=alert, user=request.user)
                self.message_user(request, gettext("Correction drafted: edit it, then publish it."), messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:alerts_alert_change", args=[correction.pk]))
            services[action](alert=alert, user=request.user)
            done = {
                "approve": gettext("The alert is approved."),
                "publish": gettext("The alert is published."),
                "cancel": gettext("The alert is cancelled."),
            }
            self.message_user(request, done[action], messages.SUCCESS)
        except ApplicationError as exc:
            self.message_user(request, str(exc.detail), messages.ERROR)
        return HttpResponseRedirect(change_url)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_act": super().has_change_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(Delivery)
class DeliveryAdmin(StaffScopedModelAdmin):
    """Read-only ledger, for looking up one device's fate."""

    scope_country_lookup = "alert__country"
    list_display = ("id", "alert", "device", "status", "attempts", "last_error", "sent_at")
    list_filter = ("status",)
    search_fields = ("=alert__id",)
    raw_id_fields = ("alert", "device")
    list_select_related = ("alert", "device")
    readonly_fields = tuple(f.name for f in Delivery._meta.fields)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
