"""Shared fixtures. Tests run against the real PostgreSQL and Redis (config/settings_test.py)."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _clean_cache():
    """Each test starts with an empty cache (throttle counters, country packs live there)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def traveler(db):
    from tests.factories.travelers import TravelerFactory

    return TravelerFactory()


@pytest.fixture
def traveler_client(traveler) -> APIClient:
    """An API client signed in as `traveler` with a real bearer token."""
    from travelers.services import token_pair_issue

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair_issue(traveler=traveler).access}")
    client.traveler = traveler
    return client
