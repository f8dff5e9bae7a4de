"""The 503 `service_unavailable` is for a database that cannot be reached, never for a statement that is wrong.

Each error here is raised for real by a database driver through Django (PostgreSQL on this machine, an
SQLite file), not constructed by hand.
"""

import json

import pytest
from django.db import DatabaseError, connection
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper
from django.db.backends.sqlite3.base import DatabaseWrapper as SqliteWrapper
from django.test import RequestFactory

from core.middleware import DatabaseUnavailableMiddleware, is_connection_failure
from tests.fakes.push_server import free_port


def _raised(wrapper, sql: str) -> DatabaseError:
    try:
        with wrapper.cursor() as cursor:
            cursor.execute(sql)
    except DatabaseError as exc:
        return exc
    finally:
        wrapper.close()
    raise AssertionError(f"{sql!r} did not fail")


def _sqlite(path) -> SqliteWrapper:
    settings_dict = {**connection.settings_dict, "ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}
    return SqliteWrapper({**settings_dict, "OPTIONS": {}})


def _middleware_response(exception):
    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    return middleware.process_exception(RequestFactory().get("/api/v1/callbacks/"), exception)


@pytest.mark.django_db  # lets pytest-django open the probe connections
def test_an_unreachable_postgresql_is_a_503_problem():
    settings_dict = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": str(free_port())}
    settings_dict["OPTIONS"] = {**settings_dict.get("OPTIONS", {}), "connect_timeout": 2}
    exc = _raised(PostgresWrapper(settings_dict), "SELECT 1")
    assert is_connection_failure(exc)
    response = _middleware_response(exc)
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "10"
    assert json.loads(response.content)["code"] == "service_unavailable"


@pytest.mark.django_db
def test_a_cancelled_postgresql_statement_is_not_a_503():
    """statement_timeout raises an OperationalError (SQLSTATE 57014) on a healthy connection."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 1")
        try:
            cursor.execute("SELECT pg_sleep(1)")
        except DatabaseError as exc:
            error = exc
    assert type(error).__name__ == "OperationalError"
    assert not is_connection_failure(error)
    assert _middleware_response(error) is None  # Django's 500 path: logged with its traceback


@pytest.mark.django_db
def test_sqlite_syntax_and_unknown_functions_are_not_a_503(tmp_path):
    """What the raw PostgreSQL SQL did on the embedded default: OperationalError, but a bug, not an outage."""
    for sql in ("SELECT EXTRACT(EPOCH FROM CURRENT_TIMESTAMP)", "SELECT 1 FOR UPDATE SKIP LOCKED"):
        exc = _raised(_sqlite(tmp_path / "db.sqlite3"), sql)
        assert type(exc).__name__ == "OperationalError", sql
        assert not is_connection_failure(exc), sql
        assert _middleware_response(exc) is None


@pytest.mark.django_db
def test_an_sqlite_file_that_cannot_be_opened_is_a_503(tmp_path):
    exc = _raised(_sqlite(tmp_path / "missing-directory" / "db.sqlite3"), "SELECT 1")
    assert is_connection_failure(exc)
    assert _middleware_response(exc).status_code == 503


def test_other_exceptions_pass_through():
    assert not is_connection_failure(ValueError("connection"))
    assert _middleware_response(ValueError("connection")) is None
