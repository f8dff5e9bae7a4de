"""Fixtures of the travelers tests."""

import pytest

from tests.clients import TravelerAPIClient
from tests.factories.countries import CountryFactory
from tests.factories.travelers import TravelerFactory
from travelers.services import token_pair_issue


@pytest.fixture
def countries(db):
    """A few real countries (the trips and subscriptions need them to exist)."""
    return {code: CountryFactory(code=code) for code in ("AM", "US", "GE", "JO", "SI", "KH")}


def client_for(traveler) -> TravelerAPIClient:
    client = TravelerAPIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair_issue(traveler=traveler).access}")
    client.traveler = traveler
    return client


@pytest.fixture
def make_client(db):
    """`make_client(traveler)`: an API client signed in as that traveler."""
    return client_for


@pytest.fixture
def other_client(db):
    """A second signed-in traveler (B), for "A cannot see B's objects"."""
    return client_for(TravelerFactory())
