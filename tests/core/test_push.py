"""The FCM and APNs clients (core.push) against the fake providers over real HTTP/2, and their mapping of
provider answers to outcomes."""

import datetime as dt
import json

import pytest
import time_machine

from core.push import PushMessage, PushStatus, get_backend, payload_size, reset_backends
from core.push.backends.apns import classify_answer
from core.push.backends.fcm import classify_error


def _message(token: str, platform: str = "android", body: str = "Body") -> PushMessage:
    return PushMessage(
        platform=platform, token=token, collapse_id="77", title="Title", body=body, data={"alert_id": "77"}
    )


# --- FCM ------------------------------------------------------------------------------------------------------


def test_fcm_access_token_is_fetched_once_and_refreshed_when_refused(fake_fcm):
    backend = get_backend()
    assert [r.status for r in backend.send_batch([_message("a-1"), _message("a-2")])] == [PushStatus.SENT] * 2
    assert backend.send_batch([_message("a-3")])[0].status == PushStatus.SENT
    assert fake_fcm.stats()["token_requests"] == 1

    fake_fcm.app.revoke_tokens()  # as if the access token had expired early
    assert backend.send_batch([_message("a-4")])[0].status == PushStatus.SENT
    assert fake_fcm.stats()["token_requests"] == 2
    assert fake_fcm.stats()["delivered"] == 4


def test_fcm_with_credentials_the_token_endpoint_refuses_retries_later(fake_fcm, settings, tmp_path):
    from tests.fakes.fcm import FakeFCMApp

    foreign = FakeFCMApp()  # another key pair, same token URI: the signature does not verify
    foreign.base_url = fake_fcm.url
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(foreign.service_account()))
    settings.FCM_CREDENTIALS_FILE = str(path)
    reset_backends()
    result = get_backend().send_batch([_message("b-1")])[0]
    assert result.status == PushStatus.RETRY
    assert result.error.startswith("fcm auth")
    assert fake_fcm.stats()["delivered"] == 0


def test_fcm_without_a_credentials_file_retries_instead_of_crashing(fake_fcm, settings):
    settings.FCM_CREDENTIALS_FILE = "/nonexistent/fcm.json"
    reset_backends()
    assert get_backend().send_batch([_message("c-1")])[0].status == PushStatus.RETRY


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, {"error": {"status": "NOT_FOUND", "details": [{"errorCode": "UNREGISTERED"}]}}, PushStatus.INVALID_TOKEN),
        (
            403,
            {"error": {"status": "PERMISSION_DENIED", "details": [{"errorCode": "SENDER_ID_MISMATCH"}]}},
            PushStatus.INVALID_TOKEN,
        ),
        (
            400,
            {
                "error": {
                    "status": "INVALID_ARGUMENT",
                    "message": "The registration token is not a valid FCM registration token",
                }
            },
            PushStatus.INVALID_TOKEN,
        ),
        (
            400,
            {"error": {"status": "INVALID_ARGUMENT", "details": [{"fieldViolations": [{"field": "message.token"}]}]}},
            PushStatus.INVALID_TOKEN,
        ),
        (400, {"error": {"status": "INVALID_ARGUMENT", "message": "Message is too big"}}, PushStatus.FAILED),
        (
            400,
            {"error": {"status": "INVALID_ARGUMENT", "details": [{"fieldViolations": [{"field": "message.data"}]}]}},
            PushStatus.FAILED,
        ),
        (
            429,
            {"error": {"status": "RESOURCE_EXHAUSTED", "details": [{"errorCode": "QUOTA_EXCEEDED"}]}},
            PushStatus.RETRY,
        ),
        (503, {"error": {"status": "UNAVAILABLE"}}, PushStatus.RETRY),
        (500, {"error": {"status": "INTERNAL"}}, PushStatus.RETRY),
        (502, None, PushStatus.RETRY),
        (404, None, PushStatus.INVALID_TOKEN),
    ],
)
def test_fcm_answers_map_to_outcomes(status, body, expected):
    assert classify_error(status, body, None).status == expected


# --- APNs -----------------------------------------------------------------------------------------------------


def test_apns_client_verifies_the_tls_certificate(fake_apns, settings):
    settings.PUSH_TLS_CA_FILE = ""  # the system store does not trust the fake's self-signed certificate
    reset_backends()
    result = get_backend().send_batch([_message("d-1", "ios")])[0]
    assert result.status == PushStatus.RETRY
    assert "transport" in result.error
    settings.PUSH_TLS_CA_FILE = str(fake_apns.certfile)
    reset_backends()
    assert get_backend().send_batch([_message("d-1", "ios")])[0].status == PushStatus.SENT
    assert fake_apns.stats()["http_versions"] == {"2": 1}


def test_apns_provider_token_is_reused_and_renewed_before_an_hour(fake_apns):
    backend = get_backend()
    backend.send_batch([_message("e-1", "ios")])
    backend.send_batch([_message("e-2", "ios")])
    assert fake_apns.stats()["provider_tokens"] == 1
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=51)):
        assert backend.send_batch([_message("e-3", "ios")])[0].status == PushStatus.SENT
    assert fake_apns.stats()["provider_tokens"] == 2


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (410, {"reason": "Unregistered", "timestamp": 1_700_000_000_000}, PushStatus.INVALID_TOKEN),
        (400, {"reason": "BadDeviceToken"}, PushStatus.INVALID_TOKEN),
        (400, {"reason": "DeviceTokenNotForTopic"}, PushStatus.INVALID_TOKEN),
        (400, {"reason": "PayloadEmpty"}, PushStatus.FAILED),
        (413, {"reason": "PayloadTooLarge"}, PushStatus.FAILED),
        (429, {"reason": "TooManyRequests"}, PushStatus.RETRY),
        (503, {"reason": "ServiceUnavailable"}, PushStatus.RETRY),
        (500, None, PushStatus.RETRY),
        (403, {"reason": "ExpiredProviderToken"}, PushStatus.RETRY),
    ],
)
def test_apns_answers_map_to_outcomes(status, body, expected):
    assert classify_answer(status, body, None).status == expected


def test_apns_410_carries_the_moment_the_token_died():
    result = classify_answer(410, {"reason": "Unregistered", "timestamp": 1_700_000_000_000}, None)
    assert result.invalid_since == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)


# --- router, simple backends, payload size ---------------------------------------------------------------------


def test_router_sends_each_platform_to_its_provider_and_keeps_the_order(fake_fcm, fake_apns):
    messages = [_message("f-1", "ios"), _message("f-2", "android"), _message("f-3", "web"), _message("f-4", "ios")]
    results = get_backend().send_batch(messages)
    assert [r.status for r in results] == [PushStatus.SENT] * 4
    assert [r.provider_id.startswith("projects/") for r in results] == [False, True, True, False]
    assert sorted(r["token"] for r in fake_apns.delivered) == ["f-1", "f-4"]
    assert sorted(r["token"] for r in fake_fcm.delivered) == ["f-2", "f-3"]


def test_file_backend_writes_token_collapse_id_title_and_body(settings, tmp_path):
    settings.PUSH_BACKEND, settings.PUSH_FILE_PATH = "file", str(tmp_path)
    reset_backends()
    try:
        get_backend().send_batch([_message("g-1")])
    finally:
        reset_backends()
    (path,) = tmp_path.glob("push-*.jsonl")
    record = json.loads(path.read_text())
    assert {"token": "g-1", "collapse_id": "77", "title": "Title", "body": "Body"}.items() <= record.items()


def test_payload_size_counts_utf8_bytes_not_escapes():
    ascii_size = payload_size(_message("h", body="a" * 1000))
    cyrillic_size = payload_size(_message("h", body="я" * 1000))
    assert cyrillic_size - ascii_size == 1000  # two bytes per Cyrillic letter, not six
