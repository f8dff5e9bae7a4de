from __future__ import annotations

from django.utils.translation import get_language
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from callbacks.models import CallbackAttempt, CallbackRequest, Outcome, Status, Topic
from countries.models import Mission
from travelers.models import Language


class CallbackCreateInputSerializer(serializers.Serializer):
    country = serializers.CharField(max_length=64, help_text="ISO 3166-1 alpha-2 code, any case, e.g. AM")
    topic = serializers.ChoiceField(choices=Topic.choices)
    message = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    language = serializers.ChoiceField(
        choices=Language.choices, required=False, help_text="Language of the call; default: the traveler's language"
    )
    city = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="Where the traveler is; picks the mission serving that place (default: the current trip's city)",
    )
    phone = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="Optional; must be the verified phone the traveler signed in with (the call goes there)",
    )


@extend_schema_field(OpenApiTypes.DATETIME)
class LocalDateTimeField(serializers.ReadOnlyField):
    """An aware datetime rendered with its own offset (not converted to the server's time zone)."""

    def to_representation(self, value):
        return value.isoformat() if value is not None else None


class CallbackMissionOutputSerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()
    phones = serializers.ListField(child=serializers.CharField(), read_only=True, help_text="E.164")
    city = serializers.SerializerMethodField()

    class Meta:
        model = Mission
        fields = ["id", "kind", "name", "city", "phones", "duty_phone", "time_zone"]

    def get_name(self, mission: Mission) -> str:
        return mission.name_en if get_language() == "en" else mission.name_ru

    def get_city(self, mission: Mission) -> str:
        return mission.city_en if get_language() == "en" else mission.city_ru


class CallbackCallOutputSerializer(serializers.ModelSerializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices)

    class Meta:
        model = CallbackAttempt
        fields = ["started_at", "ended_at", "outcome"]


class CallbackRequestOutputSerializer(serializers.ModelSerializer):
    """A request with its queue figures (the view attaches `estimate`, a selectors.QueueEstimate)."""

    status = serializers.ChoiceField(choices=Status.choices)
    country = serializers.CharField(source="country_id")
    is_urgent = serializers.BooleanField()
    mission = CallbackMissionOutputSerializer()
    position = serializers.IntegerField(
        source="estimate.position",
        allow_null=True,
        help_text="Waiting requests ahead in the mission's queue (0: next); null unless waiting",
    )
    estimated_wait_minutes = serializers.IntegerField(
        source="estimate.estimated_wait_minutes",
        allow_null=True,
        help_text="Minutes until a diplomat is expected to call, counted in the mission's open hours",
    )
    mission_open = serializers.BooleanField(
        source="estimate.mission_open", allow_null=True, help_text="null: the mission publishes no opening hours"
    )
    mission_opens_at = LocalDateTimeField(
        source="estimate.mission_opens_at",
        allow_null=True,
        help_text="When closed: the next opening in the mission's local time",
    )
    mission_opens_at_utc = LocalDateTimeField(
        source="estimate.mission_opens_at_utc", allow_null=True, help_text="When closed: the next opening in UTC"
    )
    next_attempt_at = serializers.SerializerMethodField(help_text="After an unanswered call: not called again before")
    attempts = CallbackCallOutputSerializer(source="calls", many=True, help_text="Calls made, oldest first")
    outcome = serializers.CharField(help_text="Outcome of the last call; empty before the first call")

    class Meta:
        model = CallbackRequest
        fields = [
            "id",
            "status",
            "country",
            "topic",
            "is_urgent",
            "message",
            "language",
            "city",
            "mission",
            "position",
            "estimated_wait_minutes",
            "mission_open",
            "mission_opens_at",
            "mission_opens_at_utc",
            "queued_at",
            "next_attempt_at",
            "claimed_at",
            "closed_at",
            "attempts",
            "outcome",
        ]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_attempt_at(self, request: CallbackRequest) -> str | None:
        if request.status == Status.NO_ANSWER:
            return serializers.DateTimeField().to_representation(request.available_at)
        return None


# --- problem bodies, for the schema: the codes and extension members the app switches on --------------------------


class CallbackProblemSerializer(serializers.Serializer):
    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField()


class CallbackCreateProblemSerializer(CallbackProblemSerializer):
    """400: `country_not_found`, `callback_not_available` (with `available_countries`), `phone_not_verified`,
    or a field validation code (`validation_error`, `invalid_choice`...)."""

    errors = serializers.ListField(  # type: ignore[assignment]  # a documented field, named like Serializer.errors
        child=serializers.DictField(child=serializers.CharField()),
        required=False,
        help_text="The fields at fault: {field, code, detail} (absent when the body is not JSON at all)",
    )
    available_countries = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="callback_not_available: where call-backs exist"
    )


class CallbackAlreadyOpenProblemSerializer(CallbackProblemSerializer):
    """409 `callback_already_open`."""

    open_request_id = serializers.IntegerField(help_text="The traveler's open request")


class CallbackLimitProblemSerializer(CallbackProblemSerializer):
    """429 `callback_limit_reached` (also in the Retry-After header)."""

    retry_after = serializers.IntegerField(help_text="Seconds until a new request is accepted")


class CallbackNotCancellableProblemSerializer(CallbackProblemSerializer):
    """409 `callback_not_cancellable`."""

    request_status = serializers.ChoiceField(choices=Status.choices)
