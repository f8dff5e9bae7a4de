"""Sign-in by phone through the API: codes, tokens, refresh, sign-out, and the errors a client can get."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from tests.factories.travelers import DeviceFactory, TravelerFactory
from tests.problems import assert_problem
from travelers.models import AuthToken, Device, OneTimeCode, Traveler
from travelers.services import code_hash, device_token_hash, otp_request

PHONE = "+37410123456"


def sign_in(client, phone=PHONE, **extra):
    code = otp_request(phone=phone)
    response = client.post("/api/v1/auth/token/", {"phone": phone, "code": code, **extra}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def bearer(client, token):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


# --- asking for a code ---------------------------------------------------------------------------------


def test_otp_request_answers_202_and_stores_only_a_hash(api_client, db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_client.post("/api/v1/auth/otp/", {"phone": "+374 10 123-456"}, format="json")
    assert response.status_code == 202
    assert response.json() == {"expires_in": 300}
    otp = OneTimeCode.objects.get()
    assert str(otp.phone) == PHONE  # stored as E.164
    assert len(otp.code_hash) == 64
    assert len(callbacks) == 1  # the SMS is enqueued only after commit
    assert not Traveler.objects.exists()  # nothing is created before the code is confirmed


def test_otp_request_answers_the_same_for_a_known_phone(api_client, db):
    TravelerFactory(phone=PHONE)
    assert api_client.post("/api/v1/auth/otp/", {"phone": PHONE}, format="json").status_code == 202


@pytest.mark.parametrize("phone", ["12345", "+999123", "not a phone", "", "+3741012345678901234", 37410123456])
def test_invalid_phone(api_client, db, phone):
    response = api_client.post("/api/v1/auth/otp/", {"phone": phone}, format="json")
    assert_problem(response, 400, "invalid_phone")
    assert response.json()["errors"][0]["field"] == "phone"


def test_invalid_phone_on_token_request(api_client, db):
    response = api_client.post("/api/v1/auth/token/", {"phone": "123", "code": "123456"}, format="json")
    assert_problem(response, 400, "invalid_phone")


def test_a_new_code_voids_the_previous_one(api_client, db):
    first = otp_request(phone=PHONE)
    second = otp_request(phone=PHONE)
    if first != second:
        response = api_client.post("/api/v1/auth/token/", {"phone": PHONE, "code": first}, format="json")
        assert_problem(response, 400, "invalid_code")
    assert OneTimeCode.objects.count() == 1
    assert api_client.post("/api/v1/auth/token/", {"phone": PHONE, "code": second}, format="json").status_code == 200


# --- exchanging it for tokens --------------------------------------------------------------------------


def test_first_sign_in_creates_the_traveler_and_tokens_work(api_client, db):
    data = sign_in(api_client)
    assert data["created"] is True
    assert data["token_type"] == "Bearer"
    traveler = Traveler.objects.get(phone=PHONE)
    assert data["traveler_id"] == str(traveler.pk)
    assert not OneTimeCode.objects.exists()  # a used code is gone
    me = bearer(api_client, data["access"]).get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["phone"] == PHONE
    # only digests are stored
    assert not AuthToken.objects.filter(digest__in=[data["access"], data["refresh"]]).exists()


def test_second_sign_in_finds_the_traveler(api_client, db):
    TravelerFactory(phone=PHONE)
    assert sign_in(api_client)["created"] is False
    assert Traveler.objects.count() == 1


def test_a_code_works_once(api_client, db):
    code = otp_request(phone=PHONE)
    assert api_client.post("/api/v1/auth/token/", {"phone": PHONE, "code": code}, format="json").status_code == 200
    response = api_client.post("/api/v1/auth/token/", {"phone": PHONE, "code": code}, format="json")
    assert_problem(response, 400, "invalid_code")


def test_no_code_requested_is_invalid_code(api_client, db):
    response = api_client.post("/api/v1/auth/token/", {"phone": PHONE, "code": "123456"}, format="json")
    assert_problem(response, 400, "invalid_code")
    assert response.json()["errors"] == [{"field": "code", "code": "invalid_code", "detail": response.json()["detail"]}]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_wrong_code_counts_and_five_wrong_tries_void_the_code(api_client, db):
    code = otp_request(phone=PHONE)
    for attempt in range(1, 6):
        response = api_client.post("/api/v1/auth/token/", {"phone": PHONE, "code": wrong(code)}, format="json")
        assert_problem(response, 400, "invalid_code")
        assert OneTimeCode.objects.get().attempts == attempt  # counted although the request failed
    response = api_client.post("/api/v1/auth/token/", {"phone": PHONE, "code": code}, format="json")
    assert_problem(response, 400, "code_locked")
    assert not Traveler.objects.exists()


def test_code_expires_after_five_minutes(api_client, db):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        code = otp_request(phone=PHONE)
    with time_machine.travel(start + dt.timedelta(seconds=299), tick=False):
        otp = OneTimeCode.objects.get()
        assert otp.expires_at == start + dt.timedelta(seconds=300)
    with time_machine.travel(start + dt.timedelta(seconds=300), tick=False):
        response = api_client.post("/api/v1/auth/token/", {"phone": PHONE, "code": code}, format="json")
    assert_problem(response, 400, "code_expired")
    with time_machine.travel(start + dt.timedelta(seconds=299), tick=False):
        response = api_client.post("/api/v1/auth/token/", {"phone": PHONE, "code": code}, format="json")
    assert response.status_code == 200


def test_codes_are_hmac_of_phone_and_code(db):
    code = otp_request(phone=PHONE)
    otp = OneTimeCode.objects.get()
    assert otp.code_hash == code_hash(phone=PHONE, code=code)
    assert code not in otp.code_hash
    assert code_hash(phone="+37410123457", code=code) != otp.code_hash  # bound to the phone


def test_signing_in_attaches_the_device(api_client, db):
    anonymous = DeviceFactory(traveler=None, token="push-token-1", subscriptions=["AM"])
    data = sign_in(api_client, device={"platform": "android", "token": "push-token-1"})
    anonymous.refresh_from_db()
    assert str(anonymous.traveler_id) == data["traveler_id"]
    assert list(anonymous.subscriptions.values_list("country_id", flat=True)) == ["AM"]


def test_signing_in_with_an_unknown_device_registers_it(api_client, db):
    data = sign_in(api_client, device={"platform": "ios", "token": "apns-token"})
    device = Device.objects.get(platform="ios", token_hash=device_token_hash("apns-token"))
    assert str(device.traveler_id) == data["traveler_id"]


# --- refresh and sign-out ------------------------------------------------------------------------------


def test_refresh_rotates_the_pair(api_client, db):
    first = sign_in(api_client)
    response = api_client.post("/api/v1/auth/refresh/", {"refresh": first["refresh"]}, format="json")
    assert response.status_code == 200
    second = response.json()
    assert {second["access"], second["refresh"]}.isdisjoint({first["access"], first["refresh"]})
    assert bearer(api_client, first["access"]).get("/api/v1/me/").status_code == 401  # old access revoked
    assert bearer(api_client, second["access"]).get("/api/v1/me/").status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_session(api_client, db):
    first = sign_in(api_client)
    second = api_client.post("/api/v1/auth/refresh/", {"refresh": first["refresh"]}, format="json").json()
    response = api_client.post("/api/v1/auth/refresh/", {"refresh": first["refresh"]}, format="json")
    assert_problem(response, 401, "invalid_token")
    assert bearer(api_client, second["access"]).get("/api/v1/me/").status_code == 401
    api_client.credentials()
    assert api_client.post("/api/v1/auth/refresh/", {"refresh": second["refresh"]}, format="json").status_code == 401


def test_refresh_with_an_unknown_or_expired_token(api_client, db):
    data = sign_in(api_client)
    assert api_client.post("/api/v1/auth/refresh/", {"refresh": "nope"}, format="json").status_code == 401
    with time_machine.travel(timezone.now() + dt.timedelta(days=61)):
        response = api_client.post("/api/v1/auth/refresh/", {"refresh": data["refresh"]}, format="json")
    assert_problem(response, 401, "invalid_token")


def test_an_access_token_is_not_a_refresh_token(api_client, db):
    data = sign_in(api_client)
    assert api_client.post("/api/v1/auth/refresh/", {"refresh": data["access"]}, format="json").status_code == 401


def test_logout_revokes_this_session_only(api_client, db):
    first = sign_in(api_client)
    other_session = sign_in(api_client)
    response = bearer(api_client, first["access"]).post("/api/v1/auth/logout/", {}, format="json")
    assert response.status_code == 204
    assert api_client.get("/api/v1/me/").status_code == 401
    api_client.credentials()
    assert api_client.post("/api/v1/auth/refresh/", {"refresh": first["refresh"]}, format="json").status_code == 401
    assert bearer(api_client, other_session["access"]).get("/api/v1/me/").status_code == 200


def test_logout_with_device_detaches_it(api_client, db):
    data = sign_in(api_client, device={"platform": "android", "token": "t-1"})
    response = bearer(api_client, data["access"]).post(
        "/api/v1/auth/logout/", {"device": {"platform": "android", "token": "t-1"}}, format="json"
    )
    assert response.status_code == 204
    assert Device.objects.get().traveler_id is None


def test_logout_needs_a_token(api_client, db):
    response = api_client.post("/api/v1/auth/logout/", {}, format="json")
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    response = bearer(api_client, "garbage").post("/api/v1/auth/logout/", {}, format="json")
    assert_problem(response, 401, "invalid_token")


def test_an_expired_access_token_is_refused(api_client, db):
    data = sign_in(api_client)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1, seconds=1)):
        response = bearer(api_client, data["access"]).get("/api/v1/me/")
    assert_problem(response, 401, "invalid_token")
