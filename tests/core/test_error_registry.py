"""One registry of error codes (core.errors.CODES): every code the source can answer with is in it, README.md
lists exactly it, and the typed errors carry their HTTP meaning."""

import ast
import re
from pathlib import Path

import pytest
from rest_framework.test import APIRequestFactory

from core.errors import CODES, ConflictError, ForbiddenError, NotFoundError, RateLimitedError, UnauthorizedError
from core.exceptions import DRF_CODES, problem_exception_handler

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("alerts", "callbacks", "config", "core", "countries", "travelers")


def _source_files() -> list[Path]:
    return [
        path
        for folder in SOURCE_DIRS
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def codes_in(tree: ast.AST) -> set[str]:
    """`code="..."` arguments, `default_code = "..."`, `self.fail("...")` and `default_error_messages` keys."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "code" and isinstance(node.value, ast.Constant):
            found.add(node.value.value)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant | ast.Dict):
            names = {target.id for target in node.targets if isinstance(target, ast.Name)}
            if "default_code" in names and isinstance(node.value, ast.Constant):
                found.add(node.value.value)
            if "default_error_messages" in names and isinstance(node.value, ast.Dict):
                found |= {key.value for key in node.value.keys if isinstance(key, ast.Constant)}
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "fail"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(node.args[0].value)
    return {code for code in found if isinstance(code, str)}


def test_every_code_in_the_source_is_registered():
    used = set(DRF_CODES.values())
    for path in _source_files():
        used |= codes_in(ast.parse(path.read_text(encoding="utf-8")))
    assert len(used) > 40  # the scan finds the raise sites
    assert sorted(used - set(CODES)) == []


def test_the_scan_sees_each_form_it_checks():
    tree = ast.parse(
        "raise ForbiddenError('x', code='made_up_one')\n"
        "class E:\n    default_code = 'made_up_two'\n    default_error_messages = {'made_up_three': 'x'}\n"
        "def f(self):\n    self.fail('made_up_four')\n"
    )
    assert codes_in(tree) == {"made_up_one", "made_up_two", "made_up_three", "made_up_four"}


def readme_codes() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Error codes", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^- `([a-z_]+)`", section, flags=re.MULTILINE))


def test_the_readme_lists_exactly_the_registry():
    assert readme_codes() == set(CODES)


def _rendered(error):
    request = APIRequestFactory().get("/")
    return problem_exception_handler(error, {"request": request})


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ForbiddenError("x", code="not_mission_staff"), 403),
        (NotFoundError(), 404),
        (ConflictError("x", code="callback_already_open"), 409),
        (UnauthorizedError("x"), 401),
        (RateLimitedError("x", code="callback_limit_reached", retry_after=30), 429),
    ],
)
def test_a_typed_error_is_its_status(error, status):
    response = _rendered(error)
    assert response.status_code == status
    assert response.data["status"] == status
    assert response.data["code"] == error.code
    assert response.content_type == "application/problem+json"


def test_rate_limited_and_unauthorized_carry_their_headers():
    limited = _rendered(RateLimitedError("x", code="callback_limit_reached", retry_after=30))
    assert limited["Retry-After"] == "30"
    assert limited.data["retry_after"] == 30
    assert _rendered(UnauthorizedError("x"))["WWW-Authenticate"] == 'Bearer realm="api"'
