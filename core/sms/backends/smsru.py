"""SMS.ru (https://sms.ru/api/send): `POST {SMS_PROVIDER_URL}/sms/send` with form fields `api_id`, `to`,
`msg`, `from` and `json=1`.

The provider answers HTTP 200 with a JSON body for accepted and refused messages alike:
`{"status": "OK", "status_code": 100, "sms": {"<to>": {"status": "OK", "status_code": 100, "sms_id": "..."}},
"balance": ...}`; a request-level refusal is `{"status": "ERROR", "status_code": 200, "status_text": ...}`
and a per-number refusal has `"status": "ERROR"` inside `sms[<to>]`. Status code 220 ("service temporarily
unavailable") and HTTP 429/5xx, timeouts and connection errors are transient; everything else (bad api_id
200/301, no money 201, bad number 202, stop list 209, number limits 230-232, ...) is permanent for this message.
"""

from __future__ import annotations

import logging

import httpx
from django.conf import settings

from core.sms import SmsError, SmsMessage
from core.sms.backends.base import BaseSmsBackend

logger = logging.getLogger("sms")

ACCEPTED = 100
TRANSIENT_CODES = {220}


class SmsRuBackend(BaseSmsBackend):
    def __init__(self) -> None:
        if not settings.SMS_PROVIDER_API_KEY:
            raise SmsError("SMS_PROVIDER_API_KEY is not set for the smsru backend.", retryable=False)
        self.url = settings.SMS_PROVIDER_URL.rstrip("/") + "/sms/send"
        self.client = httpx.Client(
            timeout=httpx.Timeout(
                settings.SMS_PROVIDER_TIMEOUT_SECONDS, connect=min(3.0, settings.SMS_PROVIDER_TIMEOUT_SECONDS)
            ),
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
            headers={"User-Agent": "foreign-assistant/1.0"},
        )

    def send(self, message: SmsMessage) -> str:
        to = message.to.lstrip("+")
        form = {"api_id": settings.SMS_PROVIDER_API_KEY, "to": to, "msg": message.body, "json": "1"}
        if settings.SMS_SENDER:
            form["from"] = settings.SMS_SENDER
        try:
            response = self.client.post(self.url, data=form)
        except httpx.TimeoutException as exc:
            raise SmsError(f"SMS.ru timed out: {exc!r}", retryable=True) from exc
        except httpx.TransportError as exc:
            raise SmsError(f"SMS.ru unreachable: {exc!r}", retryable=True) from exc

        if response.status_code == 429 or response.status_code >= 500:
            raise SmsError(f"SMS.ru HTTP {response.status_code}", retryable=True, retry_after=_retry_after(response))
        if response.status_code != 200:
            raise SmsError(f"SMS.ru HTTP {response.status_code}", retryable=False)
        try:
            payload = response.json()
        except ValueError as exc:
            raise SmsError("SMS.ru answered with a body that is not JSON.", retryable=True) from exc

        if payload.get("status") != "OK":
            raise _refusal(payload)
        result = (payload.get("sms") or {}).get(to)
        if not isinstance(result, dict):
            raise SmsError(f"SMS.ru answer has no result for the number: {payload!r}", retryable=False)
        if result.get("status") != "OK" or _code(result) != ACCEPTED:
            raise _refusal(result)
        return str(result.get("sms_id", ""))


def _code(payload: dict) -> int | None:
    try:
        return int(payload["status_code"])
    except (KeyError, TypeError, ValueError):
        return None


def _refusal(payload: dict) -> SmsError:
    code = _code(payload)
    return SmsError(
        f"SMS.ru refused the message: {code} {payload.get('status_text', '')}".strip(),
        retryable=code in TRANSIENT_CODES,
    )


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None
