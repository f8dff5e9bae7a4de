"""GET /healthz: 200 with the state of the database and broker; 503 when the database cannot be reached.

The 503 case runs the service in a separate process whose DATABASE_URL points at a closed port on loopback:
a real connection failure, not a patched check.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]

UNREACHABLE_PROBE = """
import json, django
django.setup()
from django.test import Client
client = Client()
out = {}
for url in ("/healthz", "/api/v1/countries/", "/api/v1/countries/AM/"):
    response = client.get(url)
    out[url] = {"status": response.status_code, "type": response["Content-Type"],
                "retry_after": response.get("Retry-After"), "body": response.json()}
print(json.dumps(out))
"""


def test_healthz_reports_the_database_and_the_broker(db):
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] == "ok"  # CELERY_BROKER_URL points at the test Redis
    assert body["status"] in {"ok", "degraded"}
    assert "no-cache" in response["Cache-Control"]


@pytest.fixture(scope="module")
def unreachable_database() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/unreachable",
        "DATABASE_CONNECT_TIMEOUT": "2",
    }
    result = subprocess.run(
        [sys.executable, "-c", UNREACHABLE_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_healthz_is_503_when_the_database_is_unreachable(unreachable_database):
    health = unreachable_database["/healthz"]
    assert health["status"] == 503
    assert health["body"]["database"] == "unreachable"
    assert health["body"]["status"] == "unavailable"


@pytest.mark.parametrize("url", ["/api/v1/countries/", "/api/v1/countries/AM/"])
def test_the_api_answers_a_503_problem_not_a_500_when_the_database_is_unreachable(unreachable_database, url):
    response = unreachable_database[url]
    assert response["status"] == 503
    assert response["type"] == "application/problem+json"
    assert response["body"]["code"] == "service_unavailable"
    assert response["retry_after"] == "10"
