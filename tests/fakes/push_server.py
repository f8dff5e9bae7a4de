"""What the fake FCM and APNs servers share: a hypercorn server (HTTP/1.1, HTTP/2 over TLS or h2c prior
knowledge) run either on a thread of the test process or as a standalone process, a fault mix, a record of
what was delivered, and a small control API under `/_fake/` for tests and benchmarks in other processes.

Deliberately free of Django: `python -m tests.fakes.fcm --port 9000 --latency-ms 20` runs it anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import logging
import random
import signal
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from hypercorn.asyncio import serve
from hypercorn.config import Config

logger = logging.getLogger("fakes")

Response = tuple[int, dict[str, str], bytes]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key; clients trust it via PUSH_TLS_CA_FILE."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake push provider")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "fake-provider.crt", directory / "fake-provider.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@dataclass
class Faults:
    """How the fake misbehaves. `mix` maps an outcome name to its probability for any request that no token
    prefix rule decided; outcomes are provider specific ("503", "429", "timeout", "malformed", ...)."""

    latency_ms: float = 0.0
    mix: dict[str, float] = field(default_factory=dict)
    retry_after: int = 1
    hang_seconds: float = 30.0  # how long a "timeout" answer takes (the client gives up long before)
    seed: int | None = None

    def pick(self, rng: random.Random) -> str | None:
        roll = rng.random()
        for outcome, probability in self.mix.items():
            if roll < probability:
                return outcome
            roll -= probability
        return None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        return cls(
            latency_ms=float(data.get("latency_ms", 0)),
            mix={str(k): float(v) for k, v in (data.get("mix") or {}).items()},
            retry_after=int(data.get("retry_after", 1)),
            hang_seconds=float(data.get("hang_seconds", 30)),
            seed=data.get("seed"),
        )


class FakeProviderApp:
    """Base ASGI app: request plumbing, the record and the `/_fake/` control API. Subclasses implement
    `handle(method, path, headers, body, http_version)`."""

    name = "fake"

    def __init__(self, *, faults: Faults | None = None, record_limit: int | None = None, history: bool = False) -> None:
        self.faults = faults or Faults()
        self.record_limit = record_limit
        self.keep_history = history  # per token: (arrival time, outcome) of every request (fault tests)
        self._lock = threading.Lock()
        self.reset()

    # --- record -------------------------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.delivered: list[dict[str, Any]] = []
            self.outcomes: Counter[str] = Counter()
            self.per_token: Counter[str] = Counter()  # deliveries per token (duplicates show as > 1)
            self.attempts_per_token: Counter[str] = Counter()
            self.collapse_ids: Counter[str] = Counter()
            self.http_versions: Counter[str] = Counter()
            self.history: dict[str, list[tuple[float, str]]] = {}
            self._arrived: dict[str, float] = {}
            self.rng = random.Random(self.faults.seed)

    def begin_request(self, token: str) -> int:
        """Count a request for `token`; returns how many requests this token had before this one."""
        with self._lock:
            before = self.attempts_per_token[token]
            self.attempts_per_token[token] += 1
            if self.keep_history:
                self._arrived[token] = time.monotonic()
            return before

    def count(self, outcome: str, token: str | None = None) -> None:
        with self._lock:
            self.outcomes[outcome] += 1
            if self.keep_history and token is not None:
                arrived = self._arrived.get(token, time.monotonic())
                self.history.setdefault(token, []).append((arrived, outcome))

    def record_delivery(self, token: str, collapse_id: str, record: dict[str, Any]) -> None:
        with self._lock:
            self.per_token[token] += 1
            self.collapse_ids[collapse_id] += 1
            if self.record_limit is None or len(self.delivered) < self.record_limit:
                self.delivered.append(record)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "delivered": sum(self.per_token.values()),
                "distinct_tokens": len(self.per_token),
                "duplicates": sum(n - 1 for n in self.per_token.values() if n > 1),
                "outcomes": dict(self.outcomes),
                "collapse_ids": dict(self.collapse_ids),
                "http_versions": dict(self.http_versions),
                "requests": sum(self.attempts_per_token.values()),
            }

    def delivered_to(self, token: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.delivered if r["token"] == token]

    # --- ASGI ---------------------------------------------------------------------------------------------
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"]
        with self._lock:
            self.http_versions[scope.get("http_version", "?")] += 1
        if path.startswith("/_fake/"):
            status, out_headers, payload = self.control(
                scope["method"], path, scope.get("query_string", b""), b"".join(chunks)
            )
        else:
            if self.faults.latency_ms:
                await asyncio.sleep(self.faults.latency_ms / 1000)
            status, out_headers, payload = await self.handle(
                scope["method"], path, headers, b"".join(chunks), scope.get("http_version", "")
            )
        out_headers = {**out_headers, "content-length": str(len(payload))}  # keeps HTTP/1.1 connections alive
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in out_headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def handle(self, method: str, path: str, headers: dict[str, str], body: bytes, http_version: str) -> Response:
        raise NotImplementedError

    def control_extra(self, method: str, path: str, body: bytes) -> Response | None:
        return None

    def control(self, method: str, path: str, query: bytes, body: bytes) -> Response:
        if path == "/_fake/stats":
            return json_response(200, self.stats())
        if path == "/_fake/messages":
            params = parse_qs(query.decode())
            offset = int(params.get("offset", ["0"])[0])
            limit = int(params.get("limit", ["1000"])[0])
            with self._lock:
                return json_response(200, {"messages": self.delivered[offset : offset + limit]})
        if path == "/_fake/reset" and method == "POST":
            self.reset()
            return json_response(200, {"ok": True})
        if path == "/_fake/faults" and method == "POST":
            self.faults = Faults.from_dict(json.loads(body or b"{}"))
            self.rng = random.Random(self.faults.seed)
            return json_response(200, {"ok": True})
        extra = self.control_extra(method, path, body)
        return extra or json_response(404, {"error": "unknown control path"})


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return status, {"content-type": "application/json", **(headers or {})}, json.dumps(payload).encode()


def hypercorn_config(
    *, host: str, port: int, certfile: Path | None = None, keyfile: Path | None = None, quiet: bool = True
) -> Config:
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.graceful_timeout = 1
    config.h2_max_concurrent_streams = 250
    config.keep_alive_timeout = 60
    # Hypercorn closes a connection after 1000 requests by default, aborting the streams in flight; a
    # provider recycles connections more gracefully, and the fake must not invent duplicates.
    config.keep_alive_max_requests = 10**9
    config.accesslog = None
    if quiet:
        config.loglevel = "WARNING"
    if certfile and keyfile:
        config.certfile, config.keyfile = str(certfile), str(keyfile)
        config.alpn_protocols = ["h2", "http/1.1"]
    return config


class ServerThread:
    """Serves an app on loopback from a daemon thread of the current process (for tests)."""

    def __init__(self, app, *, port: int = 0, certfile: Path | None = None, keyfile: Path | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self.tls = bool(certfile)
        self.config = hypercorn_config(host="127.0.0.1", port=self.port, certfile=certfile, keyfile=keyfile)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            loop.set_exception_handler(_quiet_cancellations)
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._stop = asyncio.Event()
            ready.set()
            loop.run_until_complete(serve(self.app, self.config, shutdown_trigger=self._stop.wait))
            loop.close()

        self._thread = threading.Thread(target=run, name=f"fake-{self.port}", daemon=True)
        self._thread.start()
        ready.wait(5)
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self._loop and self._stop and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread:
            self._thread.join(10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _quiet_cancellations(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """Stopping the server cancels answers still waiting (the "timeout" fault): not an error."""
    if not isinstance(context.get("exception"), asyncio.CancelledError):
        loop.default_exception_handler(context)


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def base_arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: pick a free port and print it")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="fixed latency added to every answer")
    parser.add_argument(
        "--fault", action="append", default=[], metavar="OUTCOME=P", help="e.g. 503=0.1 429=0.05 timeout=0.01"
    )
    parser.add_argument("--retry-after", type=int, default=1)
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--record-limit", type=int, default=None, help="keep at most this many full records")
    parser.add_argument("--tls", action="store_true", help="HTTPS with a self-signed certificate (--cert-dir)")
    parser.add_argument("--cert-dir", type=Path, default=Path("var/fake-certs"))
    return parser


def faults_from_args(args: argparse.Namespace) -> Faults:
    mix = {}
    for item in args.fault:
        outcome, _, probability = item.partition("=")
        mix[outcome] = float(probability)
    return Faults(
        latency_ms=args.latency_ms,
        mix=mix,
        retry_after=args.retry_after,
        hang_seconds=args.hang_seconds,
        seed=args.seed,
    )


def serve_forever(app, args: argparse.Namespace) -> None:
    """Run the app in the foreground until SIGTERM/SIGINT; prints one JSON line describing where it listens."""
    port = args.port or free_port()
    certfile = keyfile = None
    if args.tls:
        certfile, keyfile = self_signed_cert(args.cert_dir)
    config = hypercorn_config(host=args.host, port=port, certfile=certfile, keyfile=keyfile)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        scheme = "https" if certfile else "http"
        print(
            json.dumps({"url": f"{scheme}://{args.host}:{port}", "port": port, "ca_file": str(certfile or "")}),
            flush=True,
        )
        await serve(app, config, shutdown_trigger=stop.wait)

    asyncio.run(main())
