"""Apple Push Notification service over HTTP/2 with token-based authentication, for iOS devices.

One POST per message to `{APNS_ENDPOINT}/3/device/{token}` on a long-lived HTTP/2 connection (Apple treats
rapid connect/disconnect as abuse). The provider token is an ES256 JWT signed with the .p8 key in
APNS_KEY_FILE (APNS_KEY_ID, APNS_TEAM_ID), reused for 50 minutes (Apple: at most one new token per 20 minutes,
refused after 60). Answers map to a `PushResult`:

- 410 Unregistered (with `timestamp`), 400 BadDeviceToken / DeviceTokenNotForTopic -> INVALID_TOKEN
- other 400s, 413 PayloadTooLarge -> FAILED (never deactivate for a payload error)
- 429 TooManyRequests, 500, 503, timeouts, connection errors, 403 ExpiredProviderToken -> RETRY
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from django.conf import settings
from django.utils import timezone

from core.push import PushMessage, PushResult, PushStatus
from core.push.backends.http2 import JSON_HEADERS, HTTP2PushBackend, json_body, retry_after_seconds

logger = logging.getLogger("push.apns")

TOKEN_REFRESH_SECONDS = 50 * 60
# APNs keeps an undelivered notification until apns-expiration (at most about 30 days); without an expiry of
# its own an alert is kept for a week.
DEFAULT_EXPIRY = timedelta(days=7)
INVALID_TOKEN_REASONS = {"BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered"}
RETRY_REASONS = {"ExpiredProviderToken", "TooManyProviderTokenUpdates", "InternalServerError", "ServiceUnavailable"}


def apns_payload(message: PushMessage) -> dict[str, Any]:
    """The JSON body: `aps` with the visible alert, then the data keys (alert id, severity, collapse id)."""
    return {
        "aps": {"alert": {"title": message.title, "body": message.body}, "sound": "default"},
        **message.data,
        "collapse_id": message.collapse_id,
    }


def apns_headers(message: PushMessage, *, topic: str, provider_token: str) -> dict[str, str]:
    expires_at = message.expires_at or timezone.now() + DEFAULT_EXPIRY
    return {
        "authorization": f"bearer {provider_token}",
        "apns-topic": topic,
        "apns-push-type": "alert",
        "apns-priority": "10",
        "apns-collapse-id": message.collapse_id.encode()[:64].decode(errors="ignore"),
        "apns-expiration": str(max(0, int(expires_at.timestamp()))),
    }


def classify_answer(status_code: int, payload: Any, retry_after: float | None) -> PushResult:
    reason = str(payload.get("reason", "")) if isinstance(payload, dict) else ""
    summary = f"apns {status_code} {reason}".strip()
    if status_code == 410 or reason in INVALID_TOKEN_REASONS:
        invalid_since = None
        if isinstance(payload, dict) and isinstance(payload.get("timestamp"), int | float):
            invalid_since = datetime.fromtimestamp(payload["timestamp"] / 1000, tz=UTC)
        return PushResult(PushStatus.INVALID_TOKEN, error=summary, invalid_since=invalid_since)
    if status_code in (429, 500, 503) or reason in RETRY_REASONS or status_code == 403:
        return PushResult(PushStatus.RETRY, error=summary, retry_after=retry_after)
    return PushResult(PushStatus.FAILED, error=summary)


class APNsBackend(HTTP2PushBackend):
    """APNs over one HTTP/2 client per process."""

    name = "apns"

    def __init__(self) -> None:
        super().__init__(settings.APNS_ENDPOINT)
        self.topic = settings.APNS_TOPIC
        self._token = ""
        self._token_issued = 0.0
        self._signing_key: str | None = None

    def _provider_token(self, *, force: bool = False) -> str:
        if force or not self._token or time.time() - self._token_issued > TOKEN_REFRESH_SECONDS:
            if self._signing_key is None:
                with open(settings.APNS_KEY_FILE, encoding="utf-8") as fh:
                    self._signing_key = fh.read()
            now = time.time()
            self._token = jwt.encode(
                {"iss": settings.APNS_TEAM_ID, "iat": int(now)},
                self._signing_key,
                algorithm="ES256",
                headers={"kid": settings.APNS_KEY_ID},
            )
            self._token_issued = now
        return self._token

    async def send_batch_async(self, messages: list[PushMessage]) -> list[PushResult]:
        try:
            self._provider_token()
        except (OSError, ValueError, jwt.PyJWTError) as exc:
            logger.error("apns: cannot sign the provider token: %s", exc)
            return [PushResult(PushStatus.RETRY, error=f"apns auth: {exc}"[:200]) for _ in messages]
        return list(await asyncio.gather(*(self._send_one(m) for m in messages)))

    async def _send_one(self, message: PushMessage) -> PushResult:
        url = f"{self.endpoint}/3/device/{urllib.parse.quote(message.token, safe='')}"
        content = json_body(apns_payload(message))
        async with self._semaphore:
            for attempt in range(2):
                token = self._provider_token()
                headers = {**JSON_HEADERS, **apns_headers(message, topic=self.topic, provider_token=token)}
                try:
                    response = await self._http().post(url, content=content, headers=headers)
                    break
                except httpx.TimeoutException as exc:
                    return PushResult(PushStatus.RETRY, error=f"apns timeout: {type(exc).__name__}")
                except httpx.TransportError as exc:
                    if attempt == 0:  # the connection went away under us (GOAWAY, reset): once more, on a new one
                        continue
                    return PushResult(PushStatus.RETRY, error=f"apns transport: {type(exc).__name__}: {exc}"[:200])
        if response.status_code == 200:
            return PushResult(PushStatus.SENT, provider_id=response.headers.get("apns-id", ""))
        try:
            payload = response.json()
        except ValueError:
            payload = None
        result = classify_answer(response.status_code, payload, retry_after_seconds(response))
        if isinstance(payload, dict) and payload.get("reason") == "ExpiredProviderToken" and token == self._token:
            self._provider_token(force=True)
        return result
