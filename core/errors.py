"""The errors services raise, and the one registry of the `code`s clients switch on.

Services and selectors raise these and nothing from DRF: the HTTP meaning is the class (`ForbiddenError` is a
403, `RateLimitedError` a 429 with Retry-After). `core.exceptions.problem_exception_handler` renders them as
problem+json. Every `code` a client can see is in CODES; README.md lists the same set (tests/core/test_errors.py).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

CODES: dict[str, str] = {
    # Sign-in and tokens
    "invalid_phone": "the phone number is not a usable international number",
    "invalid_code": "the sign-in code is wrong",
    "code_expired": "the sign-in code has expired",
    "code_locked": "too many wrong codes: ask for a new one",
    "invalid_token": "the access or refresh token is invalid, expired or revoked",
    "not_authenticated": "no bearer token was sent",
    "authentication_failed": "the credentials were not accepted",
    "throttled": "too many requests: wait Retry-After seconds",
    # Countries and packs
    "country_not_found": "no country with this code",
    "invalid_country": "not a two-letter ISO country code",
    "country_required": "the country parameter is missing",
    "invalid_coordinates": "the coordinates are not a latitude and longitude",
    "invalid_updated_since": "updated_since is not an ISO 8601 time",
    # Trips and devices
    "end_before_start": "a leg ends before it starts",
    "legs_out_of_order": "the legs overlap or are out of order",
    "legs_required": "a trip needs at least one leg",
    "trip_too_long": "the trip is longer than allowed",
    "trip_in_past": "the trip has already ended",
    "unknown_country": "a leg names a country we do not know",
    "too_many_legs": "more legs than allowed",
    "too_many_companions": "more companions than allowed",
    "device_not_found": "no such device of this traveler",
    # Alerts
    "alert_not_found": "no such alert (or not one of the traveler's)",
    "invalid_alert_status": "the alert cannot do this in its current status",
    "approval_required": "the alert needs a second staff member's approval first",
    "cannot_approve_own_alert": "the author of an alert cannot approve it",
    "expires_in_past": "the expiry time is in the past",
    "expires_before_publish": "the alert would expire before it is published",
    "invalid_cities": "cities is not a list of place names",
    "invalid_correction": "a correction must keep the country of the alert it corrects",
    "payload_too_large": "the alert's push message is larger than the providers accept",
    # Call-backs
    "callback_not_available": "this country or place offers no call-backs",
    "phone_not_verified": "only the phone the traveler signed in with can be called",
    "callback_already_open": "the traveler already has an open request",
    "callback_limit_reached": "too many requests in 24 hours: wait Retry-After seconds",
    "callback_not_cancellable": "the request can no longer be cancelled",
    "callback_not_in_progress": "the request is not being handled",
    "callback_claimed_by_other": "another staff member is handling the request",
    "invalid_outcome": "not a call outcome",
    # Staff scope
    "not_mission_staff": "the staff member does not work for this mission or country",
    # Generic
    "validation_error": "the request has invalid fields (see errors)",
    "invalid_choice": "a field has a value outside its choices",
    # Django's own field codes, which an alert's model validation passes through (staff panel and API)
    "invalid": "a field's value is not valid",
    "required": "a required field is missing",
    "blank": "a field is empty",
    "null": "a field is null",
    "max_length": "a field is too long",
    "invalid_request": "the request cannot be processed",
    "parse_error": "the body is not valid JSON",
    "not_found": "no such resource",
    "permission_denied": "not allowed",
    "conflict": "the request conflicts with the current state",
    "method_not_allowed": "the method is not allowed here",
    "not_acceptable": "the Accept header asks for a format we do not serve",
    "unsupported_media_type": "the body's content type is not accepted",
    "server_error": "a bug on our side",
    "service_unavailable": "the database cannot be reached: retry after Retry-After seconds",
}


class ApplicationError(Exception):
    """A domain error with a stable `code` that the mobile app switches on; a 400 unless a subclass says."""

    status_code = 400
    default_code = "invalid_request"
    default_detail = _("The request cannot be processed.")

    def __init__(
        self,
        detail: Any = None,
        *,
        code: str | None = None,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail = detail if detail is not None else self.default_detail
        self.code = code or self.default_code
        self.field = field
        self.extra = extra or {}
        self.headers = headers or {}
        super().__init__(str(self.detail))


class UnauthorizedError(ApplicationError):
    status_code = 401
    default_code = "invalid_token"

    def __init__(self, detail: Any = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')


class ForbiddenError(ApplicationError):
    status_code = 403
    default_code = "permission_denied"


class NotFoundError(ApplicationError):
    status_code = 404
    default_code = "not_found"
    default_detail = _("Not found.")


class ConflictError(ApplicationError):
    status_code = 409
    default_code = "conflict"


class RateLimitedError(ApplicationError):
    """429: try again in `retry_after` seconds (the Retry-After header and the body's `retry_after`)."""

    status_code = 429
    default_code = "throttled"

    def __init__(self, detail: Any = None, *, retry_after: int, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.retry_after = retry_after
        self.headers.setdefault("Retry-After", str(retry_after))
        self.extra.setdefault("retry_after", retry_after)
