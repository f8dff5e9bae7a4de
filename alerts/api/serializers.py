"""Serializers of the alerts API. An alert is shown in one language, the request's (Russian by default)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alerts.models import PUBLISHED_STATUSES, Alert, ReplyStatus, SafetyReply


def _language(context: Mapping[str, Any]) -> str:
    language = context.get("language") or get_language() or "ru"
    return "en" if language.startswith("en") else "ru"


class AlertListQueryInputSerializer(serializers.Serializer):
    country = serializers.CharField(required=False, help_text="ISO 3166-1 alpha-2 code, any case")

    def validate(self, attrs):
        code = (attrs.get("country") or "").strip().upper()
        if not code:
            raise serializers.ValidationError(
                {
                    "country": serializers.ErrorDetail(
                        str(_("The country parameter is required.")), code="country_required"
                    )
                }
            )
        if len(code) != 2 or not code.isalpha():
            raise serializers.ValidationError(
                {
                    "country": serializers.ErrorDetail(
                        str(_("Use a two-letter ISO country code.")), code="invalid_country"
                    )
                }
            )
        return {"country": code}


class AlertOutputSerializer(serializers.ModelSerializer):
    country = serializers.CharField(source="country_id")
    cities = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Only travelers whose trip names one of these places; empty: the whole country",
    )
    title = serializers.SerializerMethodField()
    text = serializers.SerializerMethodField()
    is_active = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id",
            "country",
            "cities",
            "severity",
            "category",
            "title",
            "text",
            "status",
            "is_active",
            "published_at",
            "expires_at",
            "collapse_id",
            "supersedes",
        ]
        read_only_fields = fields

    def get_title(self, alert: Alert) -> str:
        return alert.title_in(_language(self.context))

    def get_text(self, alert: Alert) -> str:
        return alert.text_in(_language(self.context))

    def get_is_active(self, alert: Alert) -> bool:
        return alert.status in PUBLISHED_STATUSES and (alert.expires_at is None or alert.expires_at > timezone.now())


class SafetyReplyOutputSerializer(serializers.ModelSerializer):
    alert = serializers.IntegerField(source="alert_id")

    class Meta:
        model = SafetyReply
        fields = ["alert", "status", "message", "people", "created_at", "updated_at"]
        read_only_fields = fields


class MyAlertOutputSerializer(AlertOutputSerializer):
    reply = serializers.SerializerMethodField()

    class Meta(AlertOutputSerializer.Meta):
        fields = [*AlertOutputSerializer.Meta.fields, "reply"]
        read_only_fields = fields

    @extend_schema_field(SafetyReplyOutputSerializer(allow_null=True))
    def get_reply(self, alert: Alert) -> dict | None:
        replies = getattr(alert, "my_replies", [])
        return SafetyReplyOutputSerializer(replies[0]).data if replies else None


class SafetyReplyInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ReplyStatus.choices)
    message = serializers.CharField(required=False, allow_blank=True, max_length=1000, default="")
    people = serializers.IntegerField(required=False, min_value=1, max_value=100, default=1)


def country_pack_contribution(country_code: str, language: str) -> dict:
    """The country pack's "alerts": the current alerts, as `GET /api/v1/alerts/?country=` shows them."""
    from alerts.selectors import active_alerts

    alerts = active_alerts(country_code=country_code)
    data = AlertOutputSerializer(alerts, many=True, context={"language": language}).data
    return {"alerts": [dict(item) for item in data]}


# The shape of the keys it adds, for the pack's OpenAPI schema (countries.api.serializers.CountryPackOutputSerializer).
country_pack_contribution.schema_fields = {  # type: ignore[attr-defined]
    "alerts": lambda: AlertOutputSerializer(
        many=True, required=False, help_text="Active alerts of the country, as `GET /api/v1/alerts/` shows them"
    ),
}
