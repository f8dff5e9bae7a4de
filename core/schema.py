"""OpenAPI: every operation documents the problem+json errors it can answer with.

A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) adds, unless the operation
documents them itself: 400 (operations with query parameters or a body: validation problem with `errors`),
401 and 403 (operations that take credentials), 404 (operations with path parameters), 429 (throttled views)
and a `default` problem for anything else (503 while the database is down, 500). So the schema tells the
mobile team the error shape, and contract tests can check error responses against it.
"""

from __future__ import annotations

from typing import Any

PROBLEM_MEDIA_TYPE = "application/problem+json"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details. Switch on `code`, not on `detail` (translated) or `status`.",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable snake_case error code", "example": "not_found"},
        "retry_after": {"type": "integer", "description": "Seconds to wait (429 only)"},
    },
    "required": ["type", "title", "status", "detail", "code"],
}
VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {
            "type": "object",
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string", "example": "legs[0].end_date"},
                            "code": {"type": "string"},
                            "detail": {"type": "string"},
                        },
                        "required": ["field", "code", "detail"],
                    },
                }
            },
        },
    ]
}


def _response(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _throttled_operations(generator) -> set[tuple[str, str]]:
    throttled = set()
    for path, _regex, method, callback in generator.endpoints or ():
        view = generator.create_view(callback, method)
        if view.get_throttles():
            throttled.add((generator.coerce_path(path, method, view), method.lower()))
    return throttled


def problem_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Problem", PROBLEM_SCHEMA)
    schemas.setdefault("ValidationProblem", VALIDATION_PROBLEM_SCHEMA)
    throttled = _throttled_operations(generator)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            parameters = operation.get("parameters", [])
            added: dict[str, dict[str, Any]] = {}
            if operation.get("requestBody") or any(p.get("in") == "query" for p in parameters):
                added["400"] = _response("Invalid input: `errors` names each field and its code.", "ValidationProblem")
            if any(requirement for requirement in operation.get("security", [])):
                added["401"] = _response("Missing, invalid or expired credentials.", "Problem")
                added["403"] = _response("Not allowed.", "Problem")
            if any(p.get("in") == "path" for p in parameters):
                added["404"] = _response("Not found (another traveler's object is not found either).", "Problem")
            if (path, method) in throttled:
                added["429"] = _response("Too many requests: retry after `Retry-After` seconds.", "Problem")
            added["default"] = _response("Any other error (e.g. 503 while the service is unavailable).", "Problem")
            for status, response in added.items():
                responses.setdefault(status, response)
    return result
