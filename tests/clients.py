"""Test clients that say whom they act for."""

from rest_framework.test import APIClient

from travelers.models import Traveler


class TravelerAPIClient(APIClient):
    """An API client carrying a traveler's bearer token; `traveler` is whose."""

    traveler: Traveler
