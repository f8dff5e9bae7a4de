"""Firebase Cloud Messaging, HTTP v1 API, for Android and web devices.

One POST per message to `{FCM_ENDPOINT}/v1/projects/{project_id}/messages:send` (the batch endpoint was shut
down in 2024), many at once over HTTP/2 with a bounded concurrency. The OAuth2 access token comes from the
service-account file named by FCM_CREDENTIALS_FILE (JWT-bearer grant, RS256), cached until shortly before it
expires. Answers map to a `PushResult`:

- UNREGISTERED (404), SENDER_ID_MISMATCH (403), INVALID_ARGUMENT about the token -> INVALID_TOKEN
- INVALID_ARGUMENT about the message (payload too big, bad key...) -> FAILED (never deactivate for it)
- QUOTA_EXCEEDED (429, with Retry-After), UNAVAILABLE (503), INTERNAL (500), timeouts, connection errors,
  malformed answers, our own expired access token (401) -> RETRY
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from django.conf import settings
from django.utils import timezone

from core.push import PushMessage, PushResult, PushStatus
from core.push.backends.http2 import JSON_HEADERS, HTTP2PushBackend, json_body, retry_after_seconds

logger = logging.getLogger("push.fcm")

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
MAX_TTL_SECONDS = 28 * 24 * 3600
TOKEN_FIELD_HINTS = ("registration token", "message.token", "invalid registration")


def _ttl_seconds(message: PushMessage) -> int | None:
    if message.expires_at is None:
        return None
    return max(0, min(MAX_TTL_SECONDS, int((message.expires_at - timezone.now()).total_seconds())))


def _web_topic(collapse_id: str) -> str:
    # Web Push `Topic`: at most 32 characters of the URL-safe base64 alphabet.
    return re.sub(r"[^A-Za-z0-9_-]", "_", collapse_id)[:32]


def fcm_payload(message: PushMessage) -> dict[str, Any]:
    """What counts towards FCM's 4096-byte limit: the notification and the data."""
    return {
        "notification": {"title": message.title, "body": message.body},
        "data": {**message.data, "collapse_id": message.collapse_id},
    }


def fcm_message(message: PushMessage) -> dict[str, Any]:
    """The HTTP v1 `message` object, with the collapse id on every platform's own header."""
    body: dict[str, Any] = {"token": message.token, **fcm_payload(message)}
    ttl = _ttl_seconds(message)
    if message.platform == "web":
        headers = {"Topic": _web_topic(message.collapse_id), "Urgency": "high"}
        if ttl is not None:
            headers["TTL"] = str(ttl)
        body["webpush"] = {"headers": headers}
    elif message.platform == "ios":  # an iOS device registered through FCM rather than APNs directly
        body["apns"] = {"headers": {"apns-collapse-id": message.collapse_id[:64], "apns-priority": "10"}}
    else:
        android: dict[str, Any] = {
            "collapse_key": message.collapse_id,
            "priority": "HIGH",
            "notification": {"tag": message.collapse_id},
        }
        if ttl is not None:
            android["ttl"] = f"{ttl}s"
        body["android"] = android
    return body


@dataclass(frozen=True)
class ServiceAccount:
    project_id: str
    client_email: str
    private_key: str
    private_key_id: str
    token_uri: str

    @classmethod
    def from_file(cls, path: str) -> ServiceAccount:
        with open(path, encoding="utf-8") as fh:
            info = json.load(fh)
        return cls(
            project_id=info["project_id"],
            client_email=info["client_email"],
            private_key=info["private_key"],
            private_key_id=info.get("private_key_id", ""),
            token_uri=getattr(settings, "FCM_TOKEN_URI", "")
            or info.get("token_uri", "https://oauth2.googleapis.com/token"),
        )


def classify_error(status_code: int, payload: Any, retry_after: float | None) -> PushResult:
    """An FCM error answer -> a PushResult. `payload` is the parsed JSON body (or None if malformed)."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        if status_code == 404:
            return PushResult(PushStatus.INVALID_TOKEN, error="fcm 404 UNREGISTERED")
        if status_code == 429 or status_code >= 500:
            return PushResult(PushStatus.RETRY, error=f"fcm {status_code}", retry_after=retry_after)
        return PushResult(PushStatus.RETRY, error=f"fcm {status_code}: malformed error answer")
    status = str(error.get("status", ""))
    message = str(error.get("message", ""))
    codes = set()
    violations = []
    for detail in error.get("details") or []:
        if not isinstance(detail, dict):
            continue
        if detail.get("errorCode"):
            codes.add(str(detail["errorCode"]))
        for violation in detail.get("fieldViolations") or []:
            if isinstance(violation, dict):
                violations.append(f"{violation.get('field', '')} {violation.get('description', '')}".lower())
    code = next(iter(codes), status)
    summary = f"fcm {status_code} {code}: {message}"[:200]
    if code == "UNREGISTERED" or status_code == 404:
        return PushResult(PushStatus.INVALID_TOKEN, error=summary)
    if code == "SENDER_ID_MISMATCH":
        return PushResult(PushStatus.INVALID_TOKEN, error=summary)
    if code == "INVALID_ARGUMENT" or status == "INVALID_ARGUMENT":
        about_token = any("token" in v for v in violations) or any(h in message.lower() for h in TOKEN_FIELD_HINTS)
        return PushResult(PushStatus.INVALID_TOKEN if about_token else PushStatus.FAILED, error=summary)
    if code in {"QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL"} or status_code == 429 or status_code >= 500:
        return PushResult(PushStatus.RETRY, error=summary, retry_after=retry_after)
    if status_code in (401, 403):  # our credentials (or the APNs key uploaded to Firebase): fix and retry
        return PushResult(PushStatus.RETRY, error=summary)
    return PushResult(PushStatus.FAILED, error=summary)


class FCMBackend(HTTP2PushBackend):
    """FCM HTTP v1 over one HTTP/2 client per process."""

    name = "fcm"

    def __init__(self) -> None:
        super().__init__(settings.FCM_ENDPOINT)
        self.credentials_file = settings.FCM_CREDENTIALS_FILE
        self._account: ServiceAccount | None = None
        self._token_lock = asyncio.Lock()  # bound, like the semaphore, to the process's push loop
        self._access_token = ""
        self._access_token_expires = 0.0

    def _service_account(self) -> ServiceAccount:
        if self._account is None:
            self._account = ServiceAccount.from_file(self.credentials_file)
        return self._account

    async def send_batch_async(self, messages: list[PushMessage]) -> list[PushResult]:
        try:
            await self._ensure_access_token()
        except (OSError, ValueError, KeyError, httpx.HTTPError, jwt.PyJWTError) as exc:
            logger.error("fcm: cannot authenticate: %s", exc)
            return [PushResult(PushStatus.RETRY, error=f"fcm auth: {exc}"[:200]) for _ in messages]
        return list(await asyncio.gather(*(self._send_one(m) for m in messages)))

    async def _ensure_access_token(self, *, force: bool = False) -> str:
        account = self._service_account()
        async with self._token_lock:
            if force or not self._access_token or time.time() > self._access_token_expires - 60:
                now = int(time.time())
                assertion = jwt.encode(
                    {
                        "iss": account.client_email,
                        "scope": SCOPE,
                        "aud": account.token_uri,
                        "iat": now,
                        "exp": now + 3600,
                    },
                    account.private_key,
                    algorithm="RS256",
                    headers={"kid": account.private_key_id} if account.private_key_id else None,
                )
                response = await self._http().post(
                    account.token_uri,
                    data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
                )
                response.raise_for_status()
                answer = response.json()
                self._access_token = answer["access_token"]
                self._access_token_expires = time.time() + float(answer.get("expires_in", 3600))
            return self._access_token

    async def _send_one(self, message: PushMessage) -> PushResult:
        url = f"{self.endpoint}/v1/projects/{self._service_account().project_id}/messages:send"
        content = json_body({"message": fcm_message(message)})
        async with self._semaphore:
            refreshed = reconnected = False
            while True:
                token = self._access_token
                try:
                    response = await self._http().post(
                        url, content=content, headers={**JSON_HEADERS, "authorization": f"Bearer {token}"}
                    )
                except httpx.TimeoutException as exc:
                    return PushResult(PushStatus.RETRY, error=f"fcm timeout: {type(exc).__name__}")
                except httpx.TransportError as exc:
                    if not reconnected:  # the connection went away under us (GOAWAY, reset): once more, on a new one
                        reconnected = True
                        continue
                    return PushResult(PushStatus.RETRY, error=f"fcm transport: {type(exc).__name__}: {exc}"[:200])
                if response.status_code == 401 and not refreshed:  # our access token expired early
                    refreshed = True
                    try:
                        await self._ensure_access_token(force=token == self._access_token)
                    except (httpx.HTTPError, ValueError, KeyError, jwt.PyJWTError) as exc:
                        return PushResult(PushStatus.RETRY, error=f"fcm auth: {exc}"[:200])
                    continue
                return self._result(response)

    @staticmethod
    def _result(response: httpx.Response) -> PushResult:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code == 200:
            if isinstance(payload, dict) and isinstance(payload.get("name"), str):
                return PushResult(PushStatus.SENT, provider_id=payload["name"])
            # Accepted or not? We cannot tell: send again (the collapse id makes a repeat replace the first).
            return PushResult(PushStatus.RETRY, error="fcm 200 with a malformed answer")
        return classify_error(response.status_code, payload, retry_after_seconds(response))
