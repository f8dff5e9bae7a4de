"""The one error shape of the API: RFC 9457 problem details with a stable `code`.

Services raise the errors of `core.errors` (the HTTP meaning is the class) with a registered code; views never
build error bodies themselves.
DRF's own exceptions (validation, authentication, throttling, 404, 405) are translated here too.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import (  # noqa: F401  (re-exported: views and the admin catch these)
    CODES,
    ApplicationError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
)

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://foreign-assistant.example/problems/"


TITLES = {
    400: _("Bad request"),
    401: _("Authentication required"),
    403: _("Forbidden"),
    404: _("Not found"),
    405: _("Method not allowed"),
    406: _("Not acceptable"),
    409: _("Conflict"),
    413: _("Request too large"),
    415: _("Unsupported media type"),
    429: _("Too many requests"),
    500: _("Internal server error"),
    503: _("Service unavailable"),
}

DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "parse_error",
    exceptions.ValidationError: "validation_error",
}


def problem_body(*, status_code: int, code: str, detail: Any, **extensions: Any) -> dict[str, Any]:
    body = {
        "type": f"{TYPE_BASE}{code}",
        "title": str(TITLES.get(status_code, _("Error"))),
        "status": status_code,
        "detail": str(detail),
        "code": code,
    }
    body.update(extensions)
    return body


def problem_response(
    *, status_code: int, code: str, detail: Any, headers: dict[str, str] | None = None, **extensions: Any
) -> Response:
    return Response(
        problem_body(status_code=status_code, code=code, detail=detail, **extensions),
        status=status_code,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def problem_json_response(*, status_code: int, code: str, detail: Any, **extensions: Any) -> JsonResponse:
    """The same body for plain Django views and middleware (outside DRF)."""
    return JsonResponse(
        problem_body(status_code=status_code, code=code, detail=detail, **extensions),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
        json_dumps_params={"ensure_ascii": False},
    )


def flatten_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error dict/list -> a flat list of {"field", "code", "detail"} (`legs[1].end_date`)."""
    out: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # ListField / many=True errors are {index: errors} since DRF 3.15
                name = f"{prefix}[{key}]"
            else:
                name = prefix if key == "non_field_errors" else (f"{prefix}.{key}" if prefix else str(key))
            out.extend(flatten_errors(value, name))
    elif isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail | str) for item in detail):
            for item in detail:
                out.append(
                    {
                        "field": prefix or "non_field_errors",
                        "code": getattr(item, "code", None) or "invalid",
                        "detail": str(item),
                    }
                )
        else:
            for index, item in enumerate(detail):
                if item:
                    out.extend(flatten_errors(item, f"{prefix}[{index}]"))
    else:
        out.append(
            {"field": prefix or "non_field_errors", "code": getattr(detail, "code", "invalid"), "detail": str(detail)}
        )
    return out


# Field codes too generic to name the whole problem: it stays `validation_error`, the field's code in `errors`.
GENERIC_FIELD_CODES = {"invalid", "required", "null", "blank", "does_not_exist", "max_length", "min_value"}


def _validation_code(errors: list[dict[str, str]]) -> str:
    """The top-level code of a validation problem: the field error's own code when there is exactly one kind and
    it is a registered one (core.errors.CODES); DRF's generic field codes stay in `errors` only."""
    codes = {error["code"] for error in errors}
    if len(codes) == 1:
        (only,) = codes
        if only in CODES and only not in GENERIC_FIELD_CODES:
            return only
    return "validation_error"


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        own: dict[str, Any] = dict(exc.extra)
        if exc.field:
            own["errors"] = [{"field": exc.field, "code": exc.code, "detail": str(exc.detail)}]
        return problem_response(
            status_code=exc.status_code, code=exc.code, detail=exc.detail, headers=exc.headers, **own
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's handler500 answers with a problem body, without a traceback

    code = next((c for cls, c in DRF_CODES.items() if isinstance(exc, cls)), None) or exc.default_code
    extensions: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        extensions["errors"] = errors
        code = _validation_code(errors)
        detail = errors[0]["detail"] if len(errors) == 1 else _("The request has invalid fields.")
    elif isinstance(exc.detail, dict | list):
        detail = str(exc.detail)
    else:
        detail = exc.detail
        if (
            getattr(exc.detail, "code", None)
            and exc.detail.code not in {exc.default_code, None}
            and code
            in {
                "authentication_failed",
                "permission_denied",
                "not_found",
            }
        ):
            code = exc.detail.code
    wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
    if wait is not None:
        extensions["retry_after"] = int(wait) + (0 if float(wait).is_integer() else 1)
    headers = {k: v for k, v in response.headers.items() if k in {"Retry-After", "WWW-Authenticate", "Allow"}}
    return problem_response(status_code=response.status_code, code=code, detail=detail, headers=headers, **extensions)
