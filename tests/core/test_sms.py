"""The SMS backends (core.sms), and the SMS.ru client against a fake SMS.ru on loopback."""

import json
import logging
import socket

import pytest

from core import sms
from core.sms import SmsError, SmsMessage, send_sms

PHONE = "+37410123456"


@pytest.fixture
def use_backend(settings):
    def _use(name: str, **extra):
        settings.SMS_BACKEND = name
        for key, value in extra.items():
            setattr(settings, key, value)
        sms.reset_backends()

    yield _use
    sms.reset_backends()


def test_console_is_the_default():
    from config import settings as base_settings  # read from an environment without SMS_BACKEND

    assert base_settings.SMS_BACKEND == "console"


def test_console_backend_logs_the_message(use_backend, caplog):
    use_backend("console")
    with caplog.at_level(logging.INFO, logger="sms"):
        send_sms(to=PHONE, body="code 123456")
    assert "code 123456" in caplog.text


def test_locmem_backend_collects_messages(sms_outbox):
    send_sms(to=PHONE, body="hello")
    assert sms_outbox == [SmsMessage(to=PHONE, body="hello")]


def test_file_backend_appends_json_lines_with_to_and_body(use_backend, tmp_path):
    directory = tmp_path / "sms"
    use_backend("file", SMS_FILE_PATH=str(directory))
    send_sms(to=PHONE, body="Код: 123456")
    send_sms(to="+12025550123", body="second")
    files = list(directory.iterdir())
    assert len(files) == 1
    lines = [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines()]
    assert lines == [{"to": PHONE, "body": "Код: 123456"}, {"to": "+12025550123", "body": "second"}]


def test_a_dotted_path_selects_a_backend(use_backend, sms_outbox):
    use_backend("core.sms.backends.locmem.LocmemBackend")
    send_sms(to=PHONE, body="x")
    assert len(sms_outbox) == 1


# --- SMS.ru ---------------------------------------------------------------------------------------------


def test_smsru_sends_the_documented_request(fake_smsru):
    sms_id = send_sms(to=PHONE, body="Код: 123456")
    assert sms_id
    (form,) = fake_smsru.requests
    assert form == {"api_id": "secret-api-id", "to": "37410123456", "msg": "Код: 123456", "json": "1", "from": "MIDRF"}
    assert fake_smsru.messages[0]["sms_id"] == sms_id


@pytest.mark.parametrize(
    ("mode", "retryable"),
    [
        ("bad_api_id", False),
        ("no_money", False),
        ("stop_list", False),
        ("busy", True),
        ("http_503", True),
        ("http_429", True),
        ("not_json", True),
    ],
)
def test_smsru_errors(fake_smsru, mode, retryable):
    fake_smsru.mode = mode
    with pytest.raises(SmsError) as info:
        send_sms(to=PHONE, body="x")
    assert info.value.retryable is retryable
    assert not fake_smsru.messages


def test_smsru_retry_after_is_read(fake_smsru):
    fake_smsru.mode = "http_429"
    with pytest.raises(SmsError) as info:
        send_sms(to=PHONE, body="x")
    assert info.value.retry_after == 7


def test_smsru_timeout_is_transient(fake_smsru):
    fake_smsru.mode, fake_smsru.delay = "slow", 2.0
    with pytest.raises(SmsError) as info:
        send_sms(to=PHONE, body="x")
    assert info.value.retryable
    assert "timed out" in str(info.value)


def test_smsru_unreachable_is_transient(use_backend):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    use_backend("smsru", SMS_PROVIDER_URL=f"http://127.0.0.1:{port}", SMS_PROVIDER_API_KEY="k")
    with pytest.raises(SmsError) as info:
        send_sms(to=PHONE, body="x")
    assert info.value.retryable


def test_smsru_needs_an_api_key(use_backend):
    use_backend("smsru", SMS_PROVIDER_API_KEY="")
    with pytest.raises(SmsError):
        send_sms(to=PHONE, body="x")
