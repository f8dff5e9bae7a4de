"""Devices: anonymous or signed-in registration, idempotent on (platform, token), subscriptions, unregister."""

import pytest

from tests.factories.travelers import DeviceFactory
from tests.problems import assert_problem
from travelers.models import Device, DeviceSubscription
from travelers.services import device_token_hash

URL = "/api/v1/devices/"


@pytest.fixture(autouse=True)
def _countries(countries):
    return countries


def register(client, **overrides):
    body = {"platform": "android", "token": "fcm-abc", "locale": "ru-RU", "app_version": "2.1.0",
            "subscriptions": ["am", "US"]} | overrides  # fmt: skip
    return client.post(URL, body, format="json")


def subscriptions(device) -> list[str]:
    return sorted(DeviceSubscription.objects.filter(device=device).values_list("country_id", flat=True))


def test_anonymous_registration_then_update_is_201_then_200(api_client):
    first = register(api_client)
    assert first.status_code == 201
    data = first.json()
    assert data["subscriptions"] == ["AM", "US"]
    assert (data["platform"], data["locale"], data["app_version"], data["signed_in"]) == (
        "android",
        "ru",
        "2.1.0",
        False,
    )
    assert "token" not in data
    second = register(api_client, subscriptions=["GE"], locale="en_GB", app_version="2.2.0")
    assert second.status_code == 200
    assert second.json()["id"] == data["id"]
    device = Device.objects.get()
    assert (device.locale, device.app_version, device.traveler_id) == ("en", "2.2.0", None)
    assert device.token_hash == device_token_hash("fcm-abc")
    assert subscriptions(device) == ["GE"]  # replaced, not added


def test_same_token_on_another_platform_is_another_device(api_client):
    assert register(api_client).status_code == 201
    assert register(api_client, platform="web").status_code == 201
    assert Device.objects.count() == 2


def test_omitted_subscriptions_stay_and_empty_clears(api_client):
    register(api_client)
    body = {"platform": "android", "token": "fcm-abc"}
    assert api_client.post(URL, body, format="json").json()["subscriptions"] == ["AM", "US"]
    assert register(api_client, subscriptions=[]).json()["subscriptions"] == []


def test_unknown_country_is_400_and_changes_nothing(api_client):
    register(api_client)
    response = register(api_client, subscriptions=["AM", "QQ"])
    assert_problem(response, 400, "unknown_country")
    assert response.json()["errors"][0]["field"] == "subscriptions[1]"
    assert subscriptions(Device.objects.get()) == ["AM", "US"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"platform": "winphone"}, "platform"), ({"token": ""}, "token"), ({"subscriptions": "AM"}, "subscriptions")],
)
def test_shape_errors(api_client, overrides, field):
    response = register(api_client, **overrides)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


def test_unsupported_locale_falls_back_to_russian(api_client):
    assert register(api_client, locale="zh-CN").json()["locale"] == "ru"


def test_signed_in_registration_attaches_the_device(traveler_client, api_client):
    register(api_client)
    response = register(traveler_client)
    assert response.status_code == 200
    assert response.json()["signed_in"] is True
    assert Device.objects.get().traveler == traveler_client.traveler


def test_anonymous_update_keeps_the_owner(traveler_client, api_client):
    register(traveler_client)
    register(api_client, app_version="3.0")
    assert Device.objects.get().traveler == traveler_client.traveler


def test_an_invalid_bearer_token_is_401_not_anonymous(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer expired-or-made-up")
    response = register(api_client)
    assert_problem(response, 401, "invalid_token")
    assert not Device.objects.exists()


def test_reregistering_reactivates_a_device_the_provider_had_rejected(api_client):
    DeviceFactory(traveler=None, token="fcm-abc", is_active=False, deactivated_reason="unregistered")
    assert register(api_client).status_code == 200
    device = Device.objects.get()
    assert (device.is_active, device.deactivated_reason) == (True, "")


def test_unregister_with_the_token(api_client):
    register(api_client)
    response = api_client.post(f"{URL}unregister/", {"platform": "android", "token": "fcm-abc"}, format="json")
    assert response.status_code == 204
    assert not Device.objects.exists()
    assert not DeviceSubscription.objects.exists()
    again = api_client.post(f"{URL}unregister/", {"platform": "android", "token": "fcm-abc"}, format="json")
    assert_problem(again, 404, "device_not_found")


def test_unregister_needs_the_exact_token(api_client):
    register(api_client)
    for body in ({"platform": "android", "token": "fcm-ab"}, {"platform": "ios", "token": "fcm-abc"}):
        assert api_client.post(f"{URL}unregister/", body, format="json").status_code == 404
    assert Device.objects.count() == 1


def test_registration_is_throttled_per_address(api_client):
    for n in range(120):
        assert register(api_client, token=f"t-{n}", subscriptions=[]).status_code == 201
    response = register(api_client, token="one-more")
    assert_problem(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
