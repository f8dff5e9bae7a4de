"""OpenAPI: a contract that generated clients can trust.

A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) applies the rules that cut
across every app, so that no view has to repeat them:

- every operation documents the problem+json errors it can answer with, unless it documents them itself:
  400 (operations with query parameters or a body: validation problem with `errors`), 401 (operations that read
  credentials), 403 (operations that require them), 404 (operations with path parameters), 429 (throttled
  views) and a `default` problem for anything else (503 while the database is down, 500);
- every 4xx and `default` response has a problem+json body schema, also where a view documents only the codes
  in a description (so a generated client can read `code`); every `errors` list is a list of `FieldError`;
- an operation that anonymous callers may use (its permission classes let them in) has no security
  requirement (`security: []`), so generated clients call it without a token; a token is still read when the
  view has authenticators (e.g. device registration), hence its 401;
- no property of a `Patched*` request body has a `default`: DRF applies no defaults to a partial update, and a
  generated client would send the default and blank the stored value.
"""

from __future__ import annotations

from typing import Any

from rest_framework import permissions

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
VALIDATION_PROBLEM_REF = "#/components/schemas/ValidationProblem"
FIELD_ERROR_REF = "#/components/schemas/FieldError"

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
FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One field at fault in a validation problem.",
    "properties": {
        "field": {"type": "string", "example": "legs[0].end_date"},
        "code": {"type": "string", "example": "end_before_start"},
        "detail": {"type": "string"},
    },
    "required": ["field", "code", "detail"],
}
FIELD_ERRORS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"$ref": FIELD_ERROR_REF},
    "description": "The fields at fault: `{field, code, detail}` each",
}
VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "allOf": [
        {"$ref": PROBLEM_REF},
        {"type": "object", "properties": {"errors": FIELD_ERRORS_SCHEMA}},
    ]
}


def _content(ref: str) -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": ref}}}


def _response(description: str, ref: str) -> dict[str, Any]:
    return {"description": description, "content": _content(ref)}


def _is_error(status: str) -> bool:
    return status == "default" or status.startswith("4")


def is_public(view, method: str) -> bool:
    """Anonymous callers pass the view's permission classes (drf-spectacular's own rule for `{}` in security)."""
    classes = [permission.__class__ for permission in view.get_permissions()]
    if permissions.AllowAny in classes:
        return True
    return permissions.IsAuthenticatedOrReadOnly in classes and method.upper() in permissions.SAFE_METHODS


def operation_views(generator) -> dict[tuple[str, str], Any]:
    """(schema path, lower-case method) -> the view instance the schema was generated from."""
    views = {}
    for path, _regex, method, callback in generator.endpoints or ():
        view = generator.create_view(callback, method)
        views[(generator.coerce_path(path, method, view), method.lower())] = view
    return views


def _documented_errors(operation: dict[str, Any], view, method: str) -> dict[str, dict[str, Any]]:
    parameters = operation.get("parameters", [])
    added: dict[str, dict[str, Any]] = {}
    if operation.get("requestBody") or any(p.get("in") == "query" for p in parameters):
        added["400"] = _response("Invalid input: `errors` names each field and its code.", VALIDATION_PROBLEM_REF)
    if view is not None and view.get_authenticators():
        added["401"] = _response("Missing, invalid or expired credentials.", PROBLEM_REF)
    if view is not None and not is_public(view, method):
        added["403"] = _response("Not allowed.", PROBLEM_REF)
    if any(p.get("in") == "path" for p in parameters):
        added["404"] = _response("Not found (another traveler's object is not found either).", PROBLEM_REF)
    if view is not None and view.get_throttles():
        added["429"] = _response("Too many requests: retry after `Retry-After` seconds.", PROBLEM_REF)
    added["default"] = _response("Any other error (e.g. 503 while the service is unavailable).", PROBLEM_REF)
    return added


def problem_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Problem", PROBLEM_SCHEMA)
    schemas.setdefault("FieldError", FIELD_ERROR_SCHEMA)
    schemas.setdefault("ValidationProblem", VALIDATION_PROBLEM_SCHEMA)
    views = operation_views(generator)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            view = views.get((path, method))
            responses = operation.setdefault("responses", {})
            for status, response in _documented_errors(operation, view, method).items():
                responses.setdefault(status, response)
            for status, response in responses.items():
                if _is_error(status) and not response.get("content"):
                    response["content"] = _content(VALIDATION_PROBLEM_REF if status == "400" else PROBLEM_REF)
            if view is not None and is_public(view, method):
                operation["security"] = []
    for name, schema in schemas.items():
        properties = schema.get("properties", {})
        if name.startswith("Patched"):
            for prop in properties.values():
                prop.pop("default", None)
        errors = properties.get("errors")
        if name != "ValidationProblem" and errors is not None and errors.get("type") == "array":
            properties["errors"] = {**FIELD_ERRORS_SCHEMA, "description": errors.get("description", "")}
        _typed_nullables(schema, schemas)
    return result


NULL_SCHEMA = {"type": "object", "nullable": True, "enum": [None]}


def _typed_nullables(node: Any, schemas: dict[str, Any]) -> None:
    """OpenAPI 3.0.3: `nullable` counts only next to an explicit `type`, so drf-spectacular's nullable reference
    (`allOf: [$ref], nullable: true`) reads as never null. Spell it the 3.0.3 way: one of the reference or null
    (`{type: object, nullable: true, enum: [null]}`), which generated clients type as `X | None`."""
    if isinstance(node, list):
        for item in node:
            _typed_nullables(item, schemas)
        return
    if not isinstance(node, dict):
        return
    parts = node.get("allOf", [])
    if node.get("nullable") and "type" not in node and len(parts) == 1 and set(parts[0]) == {"$ref"}:
        del node["nullable"], node["allOf"]
        node["oneOf"] = [parts[0], NULL_SCHEMA]
    for value in node.values():
        _typed_nullables(value, schemas)
