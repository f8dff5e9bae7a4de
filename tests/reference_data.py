"""The shipped reference data (`manage.py load_reference_data`), loaded once per test session.

`reference_snapshot_build()` runs once, right after pytest-django has created (or, with `--reuse-db`, found)
the test database: it runs the real loader, copies what it wrote into `test_reference_*` tables of the test
database and empties the model tables again, all in one transaction. Tests that do not ask for the reference
data keep seeing an empty database (their factories, counts and "no reference data" cases stay as written).

`reference_snapshot_restore()` is what the `reference_data` fixture does per test: one `INSERT ... SELECT` per
table inside the test's transaction (rolled back with it), about 20 ms instead of the loader's 0.3-0.5 s.
The snapshot tables are not Django models, so the flush after a transactional or live-server test leaves them
alone. A test that created some of those rows itself before asking for the reference data gets the real
loader instead (it merges into existing rows; a plain INSERT would collide).
"""

from __future__ import annotations

from django.core.management.color import no_style
from django.db import connection, transaction

from countries.models import Country, CountrySection, Mission, RegionalAdvisory
from countries.reference import LoadReport, reference_data_load

MODELS = (Country, CountrySection, RegionalAdvisory, Mission)  # parents first
_report: LoadReport | None = None


def _snapshot(model) -> str:
    return f"test_reference_{model._meta.db_table}"


def reference_snapshot_build() -> LoadReport:
    global _report
    tables = [model._meta.db_table for model in MODELS]
    with transaction.atomic(), connection.cursor() as cursor:
        if any(model.objects.exists() for model in MODELS):
            # left behind by an interrupted run on a reused database: a fresh session starts empty
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        _report = reference_data_load()
        for model in MODELS:
            cursor.execute(f"DROP TABLE IF EXISTS {_snapshot(model)}")
            cursor.execute(f"CREATE TABLE {_snapshot(model)} AS SELECT * FROM {model._meta.db_table}")  # noqa: S608
        for model in reversed(MODELS):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")  # noqa: S608
    return _report


def reference_snapshot_restore() -> LoadReport:
    """Put the reference data into this test's database state; returns the session's load report."""
    if _report is None or any(model.objects.exists() for model in MODELS):
        return reference_data_load()
    with connection.cursor() as cursor:
        for model in MODELS:
            cursor.execute(f"INSERT INTO {model._meta.db_table} SELECT * FROM {_snapshot(model)}")  # noqa: S608
        # the next factory-made row must not take an id the snapshot uses (sequences may have been reset)
        for statement in connection.ops.sequence_reset_sql(no_style(), MODELS):
            cursor.execute(statement)
    return _report
