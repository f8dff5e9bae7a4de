"""The OpenAPI schema: valid without warnings, and every operation honours it against a live server.

The schemathesis run covers every operation in /api/schema/ (so each app's endpoints as they land), as an
anonymous client and as a signed-in traveler: 0 server errors and 0 responses that break the schema.
"""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).with_name("st")


def test_the_schema_validates_without_warnings():
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "config.settings_test"}
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", os.devnull],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_the_schema_documents_problem_responses(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert schema["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail", "code"]
    pack = schema["paths"]["/api/v1/countries/{code}/"]["get"]["responses"]
    assert set(pack) >= {"200", "304", "404", "default"}
    assert "application/problem+json" in pack["404"]["content"]
    assert "400" in schema["paths"]["/api/v1/missions/"]["get"]["responses"]
    assert "401" not in pack  # public: no credentials, so never a 401


def test_the_docs_are_served_without_a_cdn(client):
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower()


@pytest.fixture
def live_api(live_server, transactional_db):
    from countries.reference import reference_data_load
    from tests.factories.travelers import TravelerFactory
    from travelers.services import token_pair_issue

    reference_data_load()
    token = token_pair_issue(traveler=TravelerFactory()).access
    return live_server.url, token


def start_schemathesis(base_url: str, workdir: Path, *extra: str) -> subprocess.Popen:
    """The CLI, in a scratch directory of its own (its crash cache must not leak into another run), one worker:
    hypothesis describes strategies with ast.parse, which is not thread-safe on CPython 3.11.7 ("AST constructor
    recursion depth mismatch" with --workers 2). The two runs go side by side instead, one process each."""
    workdir.mkdir()
    return subprocess.Popen(
        [
            str(SCHEMATHESIS),
            "run",
            f"{base_url}/api/schema/?format=json",
            "--url",
            base_url,
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "10",
            "--workers",
            "1",
            "--seed",
            "20261125",
            "--request-timeout",
            "20",
            "--suppress-health-check",
            "all",
            "--no-shrink",
            *extra,
        ],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


# Operations that end the signed-in session (erasing the account, signing out): run anonymously only, so the
# signed-in run keeps its token and reaches the logic behind authentication.
SESSION_ENDING = ("me_erase", "auth_logout")


@pytest.mark.timeout(360)
def test_every_operation_honours_the_schema_for_anonymous_and_signed_in_clients(live_api, tmp_path):
    base_url, token = live_api
    # drf-spectacular loads its extension classes lazily and not thread-safely: the live server's first two
    # concurrent schema requests can race (a 500; gunicorn's sync workers never do). Build it once first.
    assert httpx.get(f"{base_url}/api/schema/?format=json", timeout=60).status_code == 200
    excluded = [arg for operation in SESSION_ENDING for arg in ("--exclude-operation-id", operation)]
    runs = {
        "anonymous": start_schemathesis(base_url, tmp_path / "anonymous"),
        "signed in": start_schemathesis(
            base_url, tmp_path / "signed-in", "--header", f"Authorization: Bearer {token}", *excluded
        ),
    }
    for name, run in runs.items():
        output, _ = run.communicate(timeout=300)
        assert run.returncode == 0, f"{name}:\n{output[-10000:]}"
