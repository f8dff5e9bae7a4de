"""`assert_problem(response, status, code)`: the response is the API's error shape (product brief, "API
conventions"): RFC 9457 problem details as `application/problem+json` with `type`, `title`, `status`,
`detail` and the stable snake_case `code`; for validation errors, `errors` is a list of
`{"field", "code", "detail"}`. Returns the body for the test's own further checks."""

from __future__ import annotations

import re

PROBLEM = "application/problem+json"
TYPE_BASE = "https://foreign-assistant.example/problems/"
CODE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")


def assert_problem(response, status: int, code: str | None = None, *, field: str | None = None) -> dict:
    """`code` None: any stable code (the test checks it itself). `field`: one of `errors` names that field."""
    assert response.status_code == status, getattr(response, "content", b"")[:2000]
    assert response["Content-Type"] == PROBLEM, response["Content-Type"]
    body = response.json()
    assert body["status"] == status, body
    if code is not None:
        assert body["code"] == code, body
    assert CODE.fullmatch(body["code"]), body
    assert body["type"] == TYPE_BASE + body["code"], body
    assert isinstance(body["title"], str), body
    assert body["title"], body
    assert isinstance(body["detail"], str), body
    assert body["detail"], body
    if "errors" in body:
        assert isinstance(body["errors"], list), body
        assert body["errors"], body
        for error in body["errors"]:
            assert set(error) == {"field", "code", "detail"}, error
    if field is not None:
        assert field in [error["field"] for error in body.get("errors", [])], body
    return body
