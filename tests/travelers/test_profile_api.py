"""The profile: read, change (read-only fields stay), authorization."""

import pytest

from tests.problems import assert_problem
from travelers.models import Traveler


def test_get_profile(traveler_client):
    traveler = traveler_client.traveler
    Traveler.objects.filter(pk=traveler.pk).update(
        email="ivan@example.org", emergency_contact_name="Maria", emergency_contact_phone="+74951234567"
    )
    data = traveler_client.get("/api/v1/me/").json()
    assert data == {
        "id": str(traveler.pk),
        "phone": str(traveler.phone),
        "full_name": traveler.full_name,
        "email": "ivan@example.org",
        "language": "ru",
        "emergency_contact": {"name": "Maria", "phone": "+74951234567", "relation": ""},
        "created_at": data["created_at"],
    }


def test_patch_changes_given_fields(traveler_client):
    response = traveler_client.patch(
        "/api/v1/me/",
        {
            "full_name": " Ivan Petrov ",
            "language": "en",
            "emergency_contact": {"name": "Maria Petrova", "phone": "+7 495 123-45-67", "relation": "mother"},
        },
        format="json",
    )
    assert response.status_code == 200
    data = response.json()
    assert (data["full_name"], data["language"]) == ("Ivan Petrov", "en")
    assert data["emergency_contact"] == {"name": "Maria Petrova", "phone": "+74951234567", "relation": "mother"}
    # a nested partial update keeps the rest of the contact
    data = traveler_client.patch("/api/v1/me/", {"emergency_contact": {"relation": "sister"}}, format="json").json()
    assert data["emergency_contact"] == {"name": "Maria Petrova", "phone": "+74951234567", "relation": "sister"}
    # "" clears
    data = traveler_client.patch("/api/v1/me/", {"emergency_contact": {"phone": ""}}, format="json").json()
    assert data["emergency_contact"]["phone"] == ""


def test_read_only_fields_are_ignored(traveler_client):
    traveler = traveler_client.traveler
    before = traveler_client.get("/api/v1/me/").json()
    response = traveler_client.patch(
        "/api/v1/me/",
        {
            "id": "00000000-0000-0000-0000-000000000000",
            "phone": "+12025550123",
            "created_at": "2001-01-01T00:00:00Z",
            "is_staff": True,
            "is_superuser": True,
            "full_name": "New Name",
        },
        format="json",
    )
    assert response.status_code == 200
    traveler.refresh_from_db()
    assert str(traveler.phone) == before["phone"]
    assert response.json() | {"full_name": before["full_name"]} == before
    assert not hasattr(traveler, "is_staff")


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"language": "de"}, "invalid_choice", "language"),
        ({"email": "not-an-email"}, "validation_error", "email"),
        ({"emergency_contact": {"phone": "12"}}, "invalid_phone", "emergency_contact.phone"),
        ({"full_name": "x" * 201}, "validation_error", "full_name"),
    ],
)
def test_invalid_profile_changes(traveler_client, body, code, field):
    response = traveler_client.patch("/api/v1/me/", body, format="json")
    assert_problem(response, 400, code)
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.parametrize(("method", "url"), [("get", "/api/v1/me/"), ("patch", "/api/v1/me/"),
                                             ("delete", "/api/v1/me/"), ("get", "/api/v1/me/export/")])  # fmt: skip
def test_anonymous_is_401(api_client, db, method, url):
    response = getattr(api_client, method)(url)
    assert_problem(response, 401, "not_authenticated")


def test_profile_query_count(traveler_client, django_assert_num_queries):
    with django_assert_num_queries(1):  # the token and its traveler
        traveler_client.get("/api/v1/me/")
