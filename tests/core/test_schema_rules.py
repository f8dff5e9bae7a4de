"""The rules that make /api/schema/ a contract a generated client can trust (core/schema.py applies most of them).

Each rule is a function returning its violations; each test checks the served schema has none, and that the rule
does find a violation in a copy of the schema broken on purpose (so no rule passes by checking nothing).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.permissions import AllowAny, IsAuthenticatedOrReadOnly

from core.schema import NULL_SCHEMA

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "code"}
# Object schemas that may stay free-form, and why. The rule fails on any other, and on these once they are typed.
FREE_FORM = {
    # Other apps' sections of the data export: travelers cannot import them, and their registry
    # (travelers.services.export_contributor_register) does not carry the row shape yet.
    "components.schemas.TravelerExportOutput.properties.alert_replies.items",
    "components.schemas.TravelerExportOutput.properties.alert_deliveries.items",
    "components.schemas.TravelerExportOutput.properties.callback_requests.items",
}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict[str, Any]:
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow $ref and merge allOf: the properties and required members a client sees."""
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/components/schemas/")
        return resolve(schema, schema["components"]["schemas"][name])
    merged: dict[str, Any] = {"properties": dict(node.get("properties", {})), "required": set(node.get("required", []))}
    for part in node.get("allOf", []):
        resolved = resolve(schema, part)
        merged["properties"].update(resolved["properties"])
        merged["required"] |= resolved["required"]
    return merged


# --- the rules ------------------------------------------------------------------------------------------------


def error_responses_without_problem(schema: dict[str, Any]) -> list[str]:
    """Every 4xx and default response has an application/problem+json body that is a problem (its members
    required), and any `errors` in it is a list of FieldError."""
    bad = []
    for path, method, operation in operations(schema):
        for status, response in operation.get("responses", {}).items():
            if not (status == "default" or status.startswith("4")):
                continue
            where = f"{method.upper()} {path} {status}"
            body = response.get("content", {}).get("application/problem+json", {}).get("schema")
            if body is None:
                bad.append(f"{where}: no problem+json schema")
                continue
            resolved = resolve(schema, body)
            if not resolved["required"] >= PROBLEM_MEMBERS or not set(resolved["properties"]) >= PROBLEM_MEMBERS:
                bad.append(f"{where}: not a problem ({sorted(resolved['required'])})")
            errors = resolved["properties"].get("errors")
            if errors is not None and errors.get("items") != {"$ref": "#/components/schemas/FieldError"}:
                bad.append(f"{where}: `errors` is not a list of FieldError")
    return bad


def patch_bodies_with_defaults(schema: dict[str, Any]) -> list[str]:
    """No property of a PATCH body has a default (a generated client would send it and blank the stored value)."""
    bad = []
    for path, method, operation in operations(schema):
        if method != "patch" or "requestBody" not in operation:
            continue
        for media in operation["requestBody"]["content"].values():
            for name, prop in resolve(schema, media["schema"])["properties"].items():
                if "default" in prop:
                    bad.append(f"PATCH {path}: `{name}` has default {prop['default']!r}")
    for name, component in schema["components"]["schemas"].items():
        if name.startswith("Patched"):
            bad += [f"{name}.{p}: default" for p, prop in component.get("properties", {}).items() if "default" in prop]
    return bad


def public_operations() -> set[tuple[str, str]]:
    """(schema path, method) of the operations whose view lets anonymous callers in, from its permission classes."""
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    public = set()
    endpoints: list[Any] = list(generator.endpoints or [])  # (path, regex, method, view callback); stubs say 3-tuples
    for path, _regex, method, callback in endpoints:
        view = generator.create_view(callback, method)
        classes = set(view.permission_classes)
        if AllowAny in classes or (IsAuthenticatedOrReadOnly in classes and method in ("GET", "HEAD", "OPTIONS")):
            public.add((generator.coerce_path(path, method, view), method.lower()))
    return public


def security_mismatches(schema: dict[str, Any], public: set[tuple[str, str]]) -> list[str]:
    """Public operations have no security requirement at all (`[{}]` makes typed clients demand a token);
    the others require the bearer token."""
    bad = []
    for path, method, operation in operations(schema):
        security = operation.get("security")
        if (path, method) in public:
            if security not in (None, []):
                bad.append(f"{method.upper()} {path}: public but security={security}")
        elif security != [{"bearerAuth": []}]:
            bad.append(f"{method.upper()} {path}: not public but security={security}")
    return bad


def _schemas_in(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object below `node` (a schema), with a dotted address."""
    if not isinstance(node, dict):
        return
    yield where, node
    for key in ("allOf", "oneOf", "anyOf"):
        for index, part in enumerate(node.get(key, [])):
            yield from _schemas_in(part, f"{where}.{key}.{index}")
    for name, prop in node.get("properties", {}).items():
        yield from _schemas_in(prop, f"{where}.properties.{name}")
    if isinstance(node.get("items"), dict):
        yield from _schemas_in(node["items"], f"{where}.items")
    if isinstance(node.get("additionalProperties"), dict) and node["additionalProperties"]:
        yield from _schemas_in(node["additionalProperties"], f"{where}.additionalProperties")


def all_schemas(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, component in schema["components"]["schemas"].items():
        yield from _schemas_in(component, f"components.schemas.{name}")
    for path, method, operation in operations(schema):
        for status, response in operation.get("responses", {}).items():
            for media, content in response.get("content", {}).items():
                yield from _schemas_in(content.get("schema"), f"{method.upper()} {path} {status} {media}")


def untyped_schemas(schema: dict[str, Any]) -> list[str]:
    """Every schema says what it is (type, $ref, a combination or an enum); an object lists its properties or
    types its additional properties (except FREE_FORM, each with its reason); a $ref has no siblings, which
    OpenAPI 3.0 ignores (so `nullable` next to a $ref is lost: it goes with allOf/oneOf)."""
    bad = []
    for where, node in all_schemas(schema):
        if "$ref" in node:
            if set(node) != {"$ref"}:
                bad.append(f"{where}: siblings of $ref {sorted(set(node) - {'$ref'})}")
            continue
        if not ({"type", "allOf", "oneOf", "anyOf", "enum"} & set(node)):
            bad.append(f"{where}: no type")
        if node.get("nullable") and "type" not in node:  # 3.0.3: nullable only counts next to a type
            bad.append(f"{where}: nullable without a type")
        elif node == NULL_SCHEMA:  # null, the OpenAPI 3.0.3 way
            continue
        elif node.get("type") == "object" and not node.get("properties") and "allOf" not in node:
            additional = node.get("additionalProperties")
            if (not isinstance(additional, dict) or not additional) and where not in FREE_FORM:
                bad.append(f"{where}: free-form object")
        if node.get("type") == "array" and not node.get("items"):
            bad.append(f"{where}: array without items")
    free_form_left = {
        where
        for where, node in all_schemas(schema)
        if node.get("type") == "object"
        and not node.get("properties")
        and node.get("additionalProperties") in ({}, True)
    }
    bad += [f"{where}: listed as free-form but typed now" for where in FREE_FORM - free_form_left]
    return bad


# --- the tests ------------------------------------------------------------------------------------------------


def _broken(schema: dict[str, Any], change) -> dict[str, Any]:
    copied = copy.deepcopy(schema)
    change(copied)
    return copied


def test_every_error_response_has_a_problem_body(schema):
    assert error_responses_without_problem(schema) == []

    def drop_body(s):
        s["paths"]["/api/v1/auth/otp/"]["post"]["responses"]["429"].pop("content")

    def untyped_errors(s):
        s["components"]["schemas"]["CallbackCreateProblem"]["properties"]["errors"]["items"] = {"type": "object"}

    assert error_responses_without_problem(_broken(schema, drop_body)) == [
        "POST /api/v1/auth/otp/ 429: no problem+json schema"
    ]
    assert error_responses_without_problem(_broken(schema, untyped_errors))


def test_the_problem_schemas_name_the_members_of_core_exceptions():
    from core.exceptions import flatten_errors, problem_body
    from core.schema import FIELD_ERROR_SCHEMA, PROBLEM_SCHEMA

    assert set(problem_body(status_code=404, code="not_found", detail="x")) == set(PROBLEM_SCHEMA["required"])
    (error,) = flatten_errors({"phone": ["bad"]})
    assert set(error) == set(FIELD_ERROR_SCHEMA["required"]) == set(FIELD_ERROR_SCHEMA["properties"])


def test_no_patch_body_property_has_a_default(schema):
    assert patch_bodies_with_defaults(schema) == []
    patched = [name for name in schema["components"]["schemas"] if name.startswith("Patched")]
    assert "PatchedTripInputRequest" in patched  # the rule has something to check

    def add_default(s):
        s["components"]["schemas"]["PatchedTripInputRequest"]["properties"]["notes"]["default"] = ""

    assert patch_bodies_with_defaults(_broken(schema, add_default))


def test_public_operations_have_no_security_requirement(schema):
    public = public_operations()
    ids = {operation["operationId"] for path, method, operation in operations(schema) if (path, method) in public}
    assert {"auth_otp_request", "auth_token_obtain", "countries_pack", "devices_register"} <= ids
    assert "me_retrieve" not in ids
    assert security_mismatches(schema, public) == []

    def optional_auth(s):
        s["paths"]["/api/v1/auth/token/"]["post"]["security"] = [{}]

    assert security_mismatches(_broken(schema, optional_auth), public) == [
        "POST /api/v1/auth/token/: public but security=[{}]"
    ]


def test_every_schema_is_typed(schema):
    assert untyped_schemas(schema) == []

    def untype_cities(s):
        s["components"]["schemas"]["AlertOutput"]["properties"]["cities"] = {"readOnly": True}

    def nullable_ref(s):
        s["components"]["schemas"]["MyAlertOutput"]["properties"]["reply"] = {
            "$ref": "#/components/schemas/SafetyReplyOutput",
            "nullable": True,
        }

    assert untyped_schemas(_broken(schema, untype_cities)) == [
        "components.schemas.AlertOutput.properties.cities: no type"
    ]
    assert untyped_schemas(_broken(schema, nullable_ref))

    def untyped_nullable(s):  # what drf-spectacular writes for a nullable serializer field
        s["components"]["schemas"]["MyAlertOutput"]["properties"]["reply"] = {
            "allOf": [{"$ref": "#/components/schemas/SafetyReplyOutput"}],
            "nullable": True,
        }

    assert untyped_schemas(_broken(schema, untyped_nullable)) == [
        "components.schemas.MyAlertOutput.properties.reply: nullable without a type"
    ]


def test_the_known_shapes_are_referenced(schema):
    components = schema["components"]["schemas"]
    assert components["CountryPackOutput"]["properties"]["alerts"]["items"] == {
        "$ref": "#/components/schemas/AlertOutput"
    }
    reply = components["MyAlertOutput"]["properties"]["reply"]
    assert reply["oneOf"] == [{"$ref": "#/components/schemas/SafetyReplyOutput"}, NULL_SCHEMA]
    export = schema["paths"]["/api/v1/me/export/"]["get"]["responses"]["200"]["content"]["application/json"]
    assert export["schema"] == {"$ref": "#/components/schemas/TravelerExportOutput"}
