"""A fake Firebase Cloud Messaging HTTP v1 server, with its OAuth2 token endpoint, on loopback.

It checks what the real service checks (a JWT-bearer grant signed by the service account's key, a bearer
access token on every send, the project id, the message shape, the 4096-byte payload limit) and answers as
the real service does, errors included. Behaviour by token prefix, decided per request:

    unregistered-*  404 UNREGISTERED, always          badtoken-*  400 INVALID_ARGUMENT about message.token
    mismatch-*      403 SENDER_ID_MISMATCH, always    down-*      503 UNAVAILABLE, always
    payloadbad-*    400 INVALID_ARGUMENT about the message (not the token), always
    flaky503-*      503 UNAVAILABLE once, then OK     quota-*     429 QUOTA_EXCEEDED + Retry-After once
    slow-*          no answer in time once, then OK   garbled-*   200 with a malformed body once, then OK
    internal-*      500 INTERNAL once, then OK

Other tokens get the random fault mix (`--fault 503=0.1 --fault 429=0.05 --fault timeout=0.01 --fault
malformed=0.01 --fault 500=0.01 --fault unregistered=0.01 --fault invalid_payload=0.01`), else 200.
Every accepted message is recorded.

In tests: `with FakeFCM() as fcm: fcm.configure_settings(settings, tmp_path)`. Standalone (benchmarks, other
processes): `python -m tests.fakes.fcm --port 9000 --latency-ms 20 --credentials-out var/fcm.json`, then
read `GET /_fake/stats` and `GET /_fake/messages`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.push_server import (
    FakeProviderApp,
    Faults,
    Response,
    ServerThread,
    base_arguments,
    faults_from_args,
    json_response,
    serve_forever,
)

PROJECT_ID = "fake-project"
CLIENT_EMAIL = "push@fake-project.iam.gserviceaccount.com"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
MAX_PAYLOAD_BYTES = 4096
ONCE_PREFIXES = ("flaky503-", "quota-", "slow-", "garbled-", "internal-")


def fcm_error(status: int, grpc_status: str, message: str, error_code: str | None = None, extra=None) -> dict:
    details: list[dict[str, Any]] = []
    if error_code:
        details.append({"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code})
    details.extend(extra or [])
    return {"error": {"code": status, "message": message, "status": grpc_status, "details": details}}


class FakeFCMApp(FakeProviderApp):
    name = "fcm"

    def __init__(
        self,
        *,
        faults: Faults | None = None,
        record_limit: int | None = None,
        token_lifetime: int = 3600,
        history: bool = False,
    ):
        super().__init__(faults=faults, record_limit=record_limit, history=history)
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_key_id = secrets.token_hex(8)
        self.token_lifetime = token_lifetime
        self.access_tokens: dict[str, float] = {}  # token -> expiry
        self.token_requests = 0
        self.base_url = ""

    def service_account(self) -> dict[str, str]:
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return {
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": self.private_key_id,
            "private_key": pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "1234567890",
            "token_uri": f"{self.base_url}/token",
        }

    def revoke_tokens(self) -> None:
        self.access_tokens.clear()

    def control_extra(self, method: str, path: str, body: bytes) -> Response | None:
        if path == "/_fake/credentials":
            return json_response(200, self.service_account())
        if path == "/_fake/revoke-tokens" and method == "POST":
            self.revoke_tokens()
            return json_response(200, {"ok": True})
        return None

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "token_requests": self.token_requests}

    async def handle(self, method: str, path: str, headers: dict[str, str], body: bytes, http_version: str) -> Response:
        if path == "/token" and method == "POST":
            return self._token(body)
        prefix = f"/v1/projects/{PROJECT_ID}/messages:send"
        if path.startswith("/v1/projects/") and path.endswith("/messages:send") and method == "POST":
            if path != prefix:
                return json_response(403, fcm_error(403, "PERMISSION_DENIED", "Unknown project", "SENDER_ID_MISMATCH"))
            return await self._send(headers, body)
        return json_response(404, fcm_error(404, "NOT_FOUND", f"No such path: {path}"))

    def _token(self, body: bytes) -> Response:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return json_response(400, {"error": "unsupported_grant_type"})
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                self.private_key.public_key(),
                algorithms=["RS256"],
                audience=f"{self.base_url}/token",
                options={"require": ["iss", "aud", "iat", "exp"]},
            )
        except jwt.PyJWTError as exc:
            return json_response(400, {"error": "invalid_grant", "error_description": str(exc)})
        if claims.get("iss") != CLIENT_EMAIL or SCOPE not in str(claims.get("scope", "")).split():
            return json_response(400, {"error": "invalid_scope"})
        token = "fake-access-" + secrets.token_urlsafe(16)
        self.access_tokens[token] = time.time() + self.token_lifetime
        self.token_requests += 1
        return json_response(200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"})

    async def _send(self, headers: dict[str, str], body: bytes) -> Response:
        auth = headers.get("authorization", "")
        bearer = auth[7:] if auth.lower().startswith("bearer ") else ""
        if self.access_tokens.get(bearer, 0) < time.time():
            return json_response(
                401, fcm_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
            )
        try:
            message = json.loads(body)["message"]
            token = message["token"]
        except (ValueError, KeyError, TypeError):
            return json_response(400, fcm_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received."))
        before = self.begin_request(token)
        payload = {"notification": message.get("notification", {}), "data": message.get("data", {})}
        if len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()) > MAX_PAYLOAD_BYTES:
            return self._answer(
                token,
                "invalid_payload",
                400,
                fcm_error(400, "INVALID_ARGUMENT", "Message is too big", "INVALID_ARGUMENT"),
            )
        if not all(isinstance(v, str) for v in payload["data"].values()):
            return self._answer(
                token,
                "invalid_payload",
                400,
                fcm_error(400, "INVALID_ARGUMENT", "Invalid value at 'message.data'", "INVALID_ARGUMENT"),
            )
        outcome = self._outcome_for(token, before)
        if outcome is not None:
            return await self._fault(token, outcome)
        collapse_id = (
            message.get("android", {}).get("collapse_key")
            or message.get("webpush", {}).get("headers", {}).get("Topic")
            or message.get("apns", {}).get("headers", {}).get("apns-collapse-id")
            or ""
        )
        self.count("ok", token)
        self.record_delivery(
            token,
            collapse_id,
            {
                "token": token,
                "collapse_id": collapse_id,
                "title": payload["notification"].get("title", ""),
                "body": payload["notification"].get("body", ""),
                "data": payload["data"],
                "message": message,
                "received_at": time.time(),
            },
        )
        return json_response(200, {"name": f"projects/{PROJECT_ID}/messages/{secrets.token_hex(8)}"})

    def _outcome_for(self, token: str, before: int) -> str | None:
        if token.startswith("unregistered-"):
            return "unregistered"
        if token.startswith("badtoken-"):
            return "badtoken"
        if token.startswith("mismatch-"):
            return "mismatch"
        if token.startswith("down-"):
            return "503"
        if token.startswith("payloadbad-"):
            return "invalid_payload"
        for prefix, outcome in zip(ONCE_PREFIXES, ("503", "429", "timeout", "malformed", "500"), strict=True):
            if token.startswith(prefix):
                return outcome if before == 0 else None
        return self.faults.pick(self.rng)

    def _answer(self, token: str, outcome: str, status: int, payload: dict, headers=None) -> Response:
        self.count(outcome, token)
        return json_response(status, payload, headers)

    async def _fault(self, token: str, outcome: str) -> Response:
        if outcome == "unregistered":
            return self._answer(
                token, outcome, 404, fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
            )
        if outcome == "badtoken":
            violation = {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": "message.token", "description": "Invalid registration token"}],
            }
            return self._answer(
                token,
                outcome,
                400,
                fcm_error(
                    400,
                    "INVALID_ARGUMENT",
                    "The registration token is not a valid FCM registration token",
                    "INVALID_ARGUMENT",
                    [violation],
                ),
            )
        if outcome == "invalid_payload":
            violation = {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": "message.data", "description": "Invalid data payload key: from"}],
            }
            return self._answer(
                token,
                outcome,
                400,
                fcm_error(400, "INVALID_ARGUMENT", "Invalid data payload key", "INVALID_ARGUMENT", [violation]),
            )
        if outcome == "mismatch":
            return self._answer(
                token, outcome, 403, fcm_error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH")
            )
        if outcome == "429":
            return self._answer(
                token,
                outcome,
                429,
                fcm_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", "QUOTA_EXCEEDED"),
                {"retry-after": str(self.faults.retry_after)},
            )
        if outcome == "500":
            return self._answer(
                token, outcome, 500, fcm_error(500, "INTERNAL", "Internal error encountered.", "INTERNAL")
            )
        if outcome == "timeout":
            self.count(outcome, token)
            await asyncio.sleep(self.faults.hang_seconds)
            return json_response(503, fcm_error(503, "UNAVAILABLE", "Too late.", "UNAVAILABLE"))
        if outcome == "malformed":
            self.count(outcome, token)
            return 200, {"content-type": "application/json"}, b'{"name": "projects/'
        return self._answer(
            token,
            "503",
            503,
            fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE"),
            {"retry-after": str(self.faults.retry_after)},
        )


class FakeFCM:
    """The fake on a thread of this process: `with FakeFCM(latency_ms=5) as fcm: ...; fcm.delivered`."""

    def __init__(
        self,
        *,
        faults: Faults | None = None,
        certfile=None,
        keyfile=None,
        token_lifetime: int = 3600,
        history: bool = False,
    ):
        self.app = FakeFCMApp(faults=faults, token_lifetime=token_lifetime, history=history)
        self.server = ServerThread(self.app, certfile=certfile, keyfile=keyfile)
        self.app.base_url = self.server.url

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def delivered(self) -> list[dict[str, Any]]:
        return self.app.delivered

    def stats(self) -> dict[str, Any]:
        return self.app.stats()

    def write_credentials(self, path: Path) -> Path:
        path.write_text(json.dumps(self.app.service_account()))
        return path

    def configure_settings(self, settings, directory: Path) -> None:
        """Point Django's push settings (pytest-django `settings` fixture) at this fake."""
        settings.FCM_ENDPOINT = self.url
        settings.FCM_CREDENTIALS_FILE = str(self.write_credentials(directory / "fcm-service-account.json"))
        settings.FCM_TOKEN_URI = ""

    def __enter__(self) -> FakeFCM:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = base_arguments("Fake FCM HTTP v1 server (with its OAuth2 token endpoint)")
    parser.add_argument("--credentials-out", type=Path, help="write the service-account JSON file here")
    parser.add_argument("--token-lifetime", type=int, default=3600)
    args = parser.parse_args(argv)
    from tests.fakes.push_server import free_port

    args.port = args.port or free_port()
    app = FakeFCMApp(faults=faults_from_args(args), record_limit=args.record_limit, token_lifetime=args.token_lifetime)
    app.base_url = f"{'https' if args.tls else 'http'}://{args.host}:{args.port}"
    if args.credentials_out:
        args.credentials_out.parent.mkdir(parents=True, exist_ok=True)
        args.credentials_out.write_text(json.dumps(app.service_account()))
    serve_forever(app, args)


if __name__ == "__main__":
    main(sys.argv[1:])
