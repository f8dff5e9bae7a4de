"""A fake Apple Push Notification service (provider API, token-based auth) on loopback.

HTTP/2 only, as APNs: over TLS with a self-signed certificate (ALPN h2; the client trusts it through
PUSH_TLS_CA_FILE) or h2c with prior knowledge; an HTTP/1.1 request is refused. It verifies the ES256 provider
token against its own .p8 key, the apns-topic and apns-push-type headers, the collapse id length and the
4096-byte payload limit, and answers like APNs. Behaviour by device token prefix:

    unregistered-*  410 Unregistered with timestamp = now, always
    unregold-*      410 Unregistered with a timestamp in 2020 (the device registered after it), always
    baddevice-*     400 BadDeviceToken, always
    down-*          503 ServiceUnavailable, always
    throttle-*      429 TooManyRequests once, then OK
    unavailable-*   503 ServiceUnavailable once, then OK

Other tokens get the random fault mix (`--fault 503=0.1 --fault 429=0.05 --fault 500=0.01 --fault
timeout=0.01 --fault unregistered=0.01`), else 200 with an apns-id. Every accepted notification is recorded.
Standalone: `python -m tests.fakes.apns --tls --port 9001 --key-out var/apns.p8`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

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

KEY_ID = "FAKEKEY123"
TEAM_ID = "FAKETEAM01"
TOPIC = "org.example.foreignassistant"
MAX_PAYLOAD_BYTES = 4096
OLD_TIMESTAMP_MS = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp() * 1000)


def reason(status: int, why: str, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    return json_response(status, {"reason": why, **extra}, {"apns-id": str(uuid.uuid4()), **(headers or {})})


class FakeAPNsApp(FakeProviderApp):
    name = "apns"

    def __init__(self, *, faults: Faults | None = None, record_limit: int | None = None, topic: str = TOPIC):
        super().__init__(faults=faults, record_limit=record_limit)
        self.signing_key = ec.generate_private_key(ec.SECP256R1())
        self.topic = topic
        self.provider_tokens_seen: set[str] = set()

    def key_pem(self) -> str:
        return self.signing_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "provider_tokens": len(self.provider_tokens_seen)}

    def _check_provider_token(self, headers: dict[str, str]) -> Response | None:
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return reason(403, "MissingProviderToken")
        token = auth[7:]
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(
                token, self.signing_key.public_key(), algorithms=["ES256"], options={"require": ["iat"]}
            )
        except jwt.PyJWTError:
            return reason(403, "InvalidProviderToken")
        if header.get("kid") != KEY_ID or claims.get("iss") != TEAM_ID:
            return reason(403, "InvalidProviderToken")
        if time.time() - float(claims["iat"]) > 3600:
            return reason(403, "ExpiredProviderToken")
        self.provider_tokens_seen.add(token)
        return None

    async def handle(self, method: str, path: str, headers: dict[str, str], body: bytes, http_version: str) -> Response:
        if http_version != "2":
            return reason(505, "HTTP/2 is required")
        if method != "POST" or not path.startswith("/3/device/"):
            return reason(
                405 if path.startswith("/3/device/") else 404, "MethodNotAllowed" if method != "POST" else "BadPath"
            )
        device_token = unquote(path.removeprefix("/3/device/"))
        refused = self._check_provider_token(headers)
        if refused:
            return refused
        if headers.get("apns-topic") != self.topic:
            return reason(400, "MissingTopic" if not headers.get("apns-topic") else "TopicDisallowed")
        if headers.get("apns-push-type") not in {"alert", "background"}:
            return reason(400, "InvalidPushType")
        collapse_id = headers.get("apns-collapse-id", "")
        if len(collapse_id.encode()) > 64:
            return reason(400, "BadCollapseId")
        if len(body) > MAX_PAYLOAD_BYTES:
            return reason(413, "PayloadTooLarge")
        try:
            payload = json.loads(body)
            alert = payload["aps"]["alert"]
        except (ValueError, KeyError, TypeError):
            return reason(400, "PayloadEmpty" if not body else "BadPayload")
        before = self.begin_request(device_token)
        outcome = self._outcome_for(device_token, before)
        if outcome is not None:
            return await self._fault(outcome)
        self.count("ok")
        self.record_delivery(
            device_token,
            collapse_id,
            {
                "token": device_token,
                "collapse_id": collapse_id,
                "title": alert.get("title", "") if isinstance(alert, dict) else "",
                "body": alert.get("body", "") if isinstance(alert, dict) else str(alert),
                "headers": {k: v for k, v in headers.items() if k.startswith("apns-")},
                "payload": payload,
                "received_at": time.time(),
            },
        )
        return 200, {"apns-id": str(uuid.uuid4())}, b""

    def _outcome_for(self, token: str, before: int) -> str | None:
        for prefix, outcome in (
            ("unregistered-", "unregistered"),
            ("unregold-", "unregistered_old"),
            ("baddevice-", "baddevice"),
            ("down-", "503"),
        ):
            if token.startswith(prefix):
                return outcome
        if token.startswith("throttle-"):
            return "429" if before == 0 else None
        if token.startswith("unavailable-"):
            return "503" if before == 0 else None
        return self.faults.pick(self.rng)

    async def _fault(self, outcome: str) -> Response:
        self.count(outcome)
        if outcome == "unregistered":
            return reason(410, "Unregistered", timestamp=int(time.time() * 1000))
        if outcome == "unregistered_old":
            return reason(410, "Unregistered", timestamp=OLD_TIMESTAMP_MS)
        if outcome == "baddevice":
            return reason(400, "BadDeviceToken")
        if outcome == "429":
            return reason(429, "TooManyRequests", {"retry-after": str(self.faults.retry_after)})
        if outcome == "500":
            return reason(500, "InternalServerError")
        if outcome == "timeout":
            await asyncio.sleep(self.faults.hang_seconds)
            return reason(503, "ServiceUnavailable")
        return reason(503, "ServiceUnavailable", {"retry-after": str(self.faults.retry_after)})


class FakeAPNs:
    """The fake on a thread of this process. TLS (self-signed, `cert_dir`) unless `tls=False` (h2c)."""

    def __init__(self, *, faults: Faults | None = None, cert_dir: Path | None = None, topic: str = TOPIC):
        self.app = FakeAPNsApp(faults=faults, topic=topic)
        self.certfile = self.keyfile = None
        if cert_dir is not None:
            from tests.fakes.push_server import self_signed_cert

            self.certfile, self.keyfile = self_signed_cert(cert_dir)
        self.server = ServerThread(self.app, certfile=self.certfile, keyfile=self.keyfile)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def delivered(self) -> list[dict[str, Any]]:
        return self.app.delivered

    def stats(self) -> dict[str, Any]:
        return self.app.stats()

    def write_key(self, path: Path) -> Path:
        path.write_text(self.app.key_pem())
        return path

    def configure_settings(self, settings, directory: Path) -> None:
        """Point Django's push settings (pytest-django `settings` fixture) at this fake."""
        settings.APNS_ENDPOINT = self.url
        settings.APNS_KEY_FILE = str(self.write_key(directory / "apns-key.p8"))
        settings.APNS_KEY_ID = KEY_ID
        settings.APNS_TEAM_ID = TEAM_ID
        settings.APNS_TOPIC = self.app.topic
        if self.certfile:
            settings.PUSH_TLS_CA_FILE = str(self.certfile)

    def __enter__(self) -> FakeAPNs:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = base_arguments("Fake APNs provider API (HTTP/2, token auth)")
    parser.add_argument("--key-out", type=Path, help="write the .p8 signing key here (key id and team id are fixed)")
    parser.add_argument("--topic", default=TOPIC)
    args = parser.parse_args(argv)
    app = FakeAPNsApp(faults=faults_from_args(args), record_limit=args.record_limit, topic=args.topic)
    if args.key_out:
        args.key_out.parent.mkdir(parents=True, exist_ok=True)
        args.key_out.write_text(app.key_pem())
    print(json.dumps({"key_id": KEY_ID, "team_id": TEAM_ID, "topic": args.topic}), flush=True)
    serve_forever(app, args)


if __name__ == "__main__":
    main(sys.argv[1:])
