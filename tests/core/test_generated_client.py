"""A client generated from /api/schema/ (openapi-python-client, pinned in requirements-dev.txt) walks the
traveler's journey against a live server on the real PostgreSQL: sign-in by SMS code, profile, trips (a PATCH
keeps what it does not name), a push device, the country pack with its alerts, the traveler's alerts and reply,
the data export, and error bodies whose `code` the client reads from the typed problem models.

The client is generated into a scratch directory on each run, so a schema change that breaks generation, typing
or parsing fails here and not in the mobile team's build.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "fa_generated_client"
PHONE = "+37410123456"


@pytest.fixture
def generated(live_server, tmp_path):
    """The generated package, imported, and the live server's base URL."""
    schema = httpx.get(f"{live_server.url}/api/schema/", params={"format": "json"}, timeout=10).json()
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")  # no formatter: nothing to run but the generator
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(tmp_path / "schema.json"),
            "--output-path",
            str(tmp_path / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(tmp_path / "config.yaml"),
            "--fail-on-warning",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE), live_server.url
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def api(module: str):
    return importlib.import_module(f"{PACKAGE}.api.{module}")


def takes_the_unauthenticated_client(module: str) -> bool:
    """The generated `sync` accepts `Client` (it is typed `AuthenticatedClient` only when a token is required)."""
    annotation = str(inspect.signature(api(module).sync).parameters["client"].annotation)
    return "Client" in annotation.replace("AuthenticatedClient", "")


def test_the_traveler_journey_through_the_generated_client(generated, transactional_db):
    from alerts.models import AlertStatus
    from tests.factories.alerts import AlertFactory, DeliveryFactory
    from tests.factories.countries import CountryFactory
    from travelers.models import Device, Trip
    from travelers.services import otp_request

    package, base_url = generated
    public = [
        "sign_in.auth_otp_request",
        "sign_in.auth_token_obtain",
        "countries.countries_pack",
        "devices.devices_register",
    ]
    assert all(takes_the_unauthenticated_client(module) for module in public)
    assert not takes_the_unauthenticated_client("profile.me_retrieve")
    models = importlib.import_module(f"{PACKAGE}.models")
    anonymous = package.Client(base_url=base_url, raise_on_unexpected_status=True)
    armenia = CountryFactory(code="AM")
    now = timezone.now()
    alert = AlertFactory(country=armenia, status=AlertStatus.SENT, published_at=now, cities=["Gyumri"])

    # Sign-in: the OTP request is public (the unauthenticated Client), the SMS text is not readable here, so a
    # fresh code is issued in-process (it replaces the one sent).
    sent = api("sign_in.auth_otp_request").sync_detailed(
        client=anonymous, body=models.OtpRequestInputRequest(phone=PHONE)
    )
    assert sent.status_code == 202
    assert sent.parsed.expires_in == 300
    wrong = api("sign_in.auth_token_obtain").sync_detailed(
        client=anonymous, body=models.TokenObtainInputRequest(phone=PHONE, code="000000")
    )
    assert wrong.status_code == 400
    assert isinstance(wrong.parsed, models.ValidationProblem)
    assert wrong.parsed.code in {"invalid_code", "code_locked"}
    code = otp_request(phone=PHONE)
    tokens = api("sign_in.auth_token_obtain").sync(
        client=anonymous, body=models.TokenObtainInputRequest(phone=PHONE, code=code)
    )
    assert isinstance(tokens, models.TokenObtainOutput)
    assert tokens.created is True
    signed_in = package.AuthenticatedClient(base_url=base_url, token=tokens.access)

    # Profile.
    profile = api("profile.me_update").sync(
        client=signed_in, body=models.PatchedProfileUpdateInputRequest(full_name="Anna Petrova")
    )
    assert (profile.full_name, profile.phone) == ("Anna Petrova", PHONE)
    assert api("profile.me_retrieve").sync(client=signed_in).full_name == "Anna Petrova"

    # Trips: create, then a PATCH that names only the companions keeps accommodation and notes.
    start = timezone.localdate() + dt.timedelta(days=10)
    leg = models.TripLegRequest(
        country="am", start_date=start, end_date=start + dt.timedelta(days=7), cities=["Gyumri"]
    )
    trip = api("trips.trips_create").sync(
        client=signed_in, body=models.TripInputRequest(legs=[leg], accommodation="Hotel Ani", notes="Room 12")
    )
    assert isinstance(trip, models.TripOutput)
    assert trip.legs[0].country == "AM"
    patched = api("trips.trips_update").sync(
        trip.id,
        client=signed_in,
        body=models.PatchedTripInputRequest(companions=[models.CompanionRequest(name="Boris")]),
    )
    assert (patched.accommodation, patched.notes) == ("Hotel Ani", "Room 12")
    assert [companion.name for companion in patched.companions] == ["Boris"]
    stored = Trip.objects.get(pk=trip.id)
    assert (stored.accommodation, stored.notes) == ("Hotel Ani", "Room 12")

    # Errors: the typed problem models carry `code` (and `errors` with field and code).
    backwards = models.TripLegRequest(country="AM", start_date=start, end_date=start - dt.timedelta(days=1))
    invalid = api("trips.trips_create").sync_detailed(client=signed_in, body=models.TripInputRequest(legs=[backwards]))
    assert invalid.status_code == 400
    assert invalid.parsed.code == "end_before_start"
    assert [(error.field, error.code) for error in invalid.parsed.errors] == [("legs[0].end_date", "end_before_start")]
    missing = api("trips.trips_retrieve").sync_detailed(trip.id + 1000, client=signed_in)
    assert (missing.status_code, missing.parsed.code) == (404, "not_found")
    stale = package.AuthenticatedClient(base_url=base_url, token="not-a-token")
    refused = api("profile.me_retrieve").sync_detailed(client=stale)
    assert refused.status_code == 401
    assert isinstance(refused.parsed, models.Problem)
    assert refused.parsed.code == "invalid_token"
    bad_refresh = api("sign_in.auth_token_refresh").sync_detailed(
        client=anonymous, body=models.TokenRefreshInputRequest(refresh="not-a-token")
    )
    assert (bad_refresh.status_code, bad_refresh.parsed.code) == (401, "invalid_token")

    # A push device of the traveler (and, on the same public operation, an anonymous one).
    register = api("devices.devices_register")
    body = models.DeviceRegisterInputRequest(
        platform=models.PlatformEnum.ANDROID, token="fcm-journey", subscriptions=["AM"]
    )
    device = register.sync(client=signed_in, body=body)
    assert (device.signed_in, device.subscriptions) == (True, ["AM"])
    anonymous_device = register.sync(
        client=anonymous, body=models.DeviceRegisterInputRequest(platform=models.PlatformEnum.IOS, token="apns-anon")
    )
    assert anonymous_device.signed_in is False

    # The country pack, public, with its alerts as typed AlertOutput.
    pack = api("countries.countries_pack").sync("am", client=anonymous)
    assert isinstance(pack, models.CountryPackOutput)
    assert [(item.id, item.cities) for item in pack.alerts] == [(alert.id, ["Gyumri"])]
    assert isinstance(pack.alerts[0], models.AlertOutput)

    # The alerts that reached the traveler: no reply (null), then the reply.
    DeliveryFactory(alert=alert, device=Device.objects.get(pk=device.id))
    mine = api("alerts.me_alerts_list").sync(client=signed_in)
    assert [(item.id, item.reply) for item in mine.results] == [(alert.id, None)]
    api("alerts.alerts_reply_create").sync(
        alert.id, client=signed_in, body=models.SafetyReplyInputRequest(status=models.ReplyStatusEnum.SAFE)
    )
    (item,) = api("alerts.me_alerts_list").sync(client=signed_in).results
    assert isinstance(item.reply, models.SafetyReplyOutput)
    assert item.reply.status == models.ReplyStatusEnum.SAFE

    # The data export, typed.
    export = api("profile.me_export").sync(client=signed_in)
    assert isinstance(export, models.TravelerExportOutput)
    assert export.profile.full_name == "Anna Petrova"
    assert [(t.accommodation, t.notes, t.legs[0].cities) for t in export.trips] == [
        ("Hotel Ani", "Room 12", ["Gyumri"])
    ]
    assert [d.subscriptions for d in export.devices] == [["AM"]]
    assert [row["status"] for row in export.alert_replies] == ["safe"]
