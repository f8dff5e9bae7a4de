"""The embedded-default job: these tests run only under config.settings_embedded (SQLite, eager tasks), in a
process of their own started by tests/test_embedded_default.py with `--confcutdir` here, so the PostgreSQL
suite's fixtures (tests/conftest.py) are not loaded. Collected under any other settings, they are skipped."""

import os

import pytest

EMBEDDED = os.environ.get("DJANGO_SETTINGS_MODULE") == "config.settings_embedded"

if not EMBEDDED:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture
def reference_data(transactional_db):
    """What `make run` loads before it starts: the countries and their missions (staff logins are made by each test)."""
    from django.core.management import call_command

    call_command("load_reference_data", verbosity=0)
