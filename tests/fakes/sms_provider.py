"""A fake SMS.ru on loopback: a real HTTP server in a thread that speaks `POST /sms/send` (form fields
`api_id`, `to`, `msg`, `from`, `json=1`) and answers like SMS.ru does, so the real httpx client code runs.

Free of Django: `python -m tests.fakes.sms_provider --port 8025` serves it standalone.

    with FakeSmsRu(api_id="key") as fake:      # fake.url -> SMS_PROVIDER_URL
        fake.mode = "ok"                        # or one of MODES
        ...
        fake.messages                           # [{"to": "37410123456", "msg": "...", "from": ...}, ...]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

# ok: accepted (100). bad_api_id: request-level refusal (200). no_money: 201. stop_list: per-number refusal
# (209). busy: "service temporarily unavailable" (220, transient). http_503 / http_429: an HTTP error.
# not_json: a 200 whose body is not JSON. slow: answers after `delay` seconds.
MODES = ("ok", "bad_api_id", "no_money", "stop_list", "busy", "http_503", "http_429", "not_json", "slow")


class FakeSmsRu:
    def __init__(self, *, api_id: str = "test-api-id", port: int = 0) -> None:
        self.api_id = api_id
        self.mode = "ok"
        self.delay = 2.0
        self.messages: list[dict[str, str]] = []  # accepted messages
        self.requests: list[dict[str, str]] = []  # every request's form
        self._lock = threading.Lock()
        self._counter = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-sms-ru", daemon=True
        )  # a short poll: stop() returns at once instead of after up to 0.5 s

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> FakeSmsRu:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeSmsRu:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def answer(self, form: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(form)
            mode = self.mode
        if mode == "slow":
            time.sleep(self.delay)
            mode = "ok"
        if mode == "http_503":
            return 503, {"Content-Type": "text/html"}, b"<html>Service Unavailable</html>"
        if mode == "http_429":
            return 429, {"Retry-After": "7", "Content-Type": "text/plain"}, b"Too Many Requests"
        if mode == "not_json":
            return 200, {"Content-Type": "text/html"}, b"<html>maintenance</html>"
        if form.get("json") != "1":
            return 200, {"Content-Type": "text/plain"}, b"100\n000000-000001\nbalance=100.00"
        if mode == "bad_api_id" or form.get("api_id") != self.api_id:
            return _json({"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"})
        if mode == "no_money":
            return _json({"status": "ERROR", "status_code": 201, "status_text": "Не хватает средств на лицевом счету"})
        if mode == "busy":
            return _json({"status": "ERROR", "status_code": 220, "status_text": "Сервис временно недоступен"})
        to, text = form.get("to", ""), form.get("msg", "")
        if not text:
            return _json({"status": "ERROR", "status_code": 203, "status_text": "Нет текста сообщения"})
        if not to.isdigit() or not 10 <= len(to) <= 15:
            result = {"status": "ERROR", "status_code": 202, "status_text": "Неправильно указан номер телефона"}
        elif mode == "stop_list":
            result = {"status": "ERROR", "status_code": 209, "status_text": "Номер находится в стоп-листе"}
        else:
            with self._lock:
                self._counter += 1
                sms_id = f"{self._counter:06d}-{int(time.time()) % 10**6:06d}"
                self.messages.append({"to": to, "msg": text, "from": form.get("from", ""), "sms_id": sms_id})
            result = {"status": "OK", "status_code": 100, "sms_id": sms_id}
        return _json({"status": "OK", "status_code": 100, "sms": {to: result}, "balance": 4122.56})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if self.path.split("?", 1)[0] != "/sms/send":
                    self._reply(404, {"Content-Type": "text/plain"}, b"not found")
                    return
                form = {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}
                self._reply(*fake.answer(form))

            def _reply(self, code: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args) -> None:  # quiet
                pass

        return Handler


def _json(payload: dict) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(payload, ensure_ascii=False).encode()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="A fake SMS.ru for local runs")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--api-id", default="test-api-id")
    args = parser.parse_args()
    server = FakeSmsRu(api_id=args.api_id, port=args.port)
    print(f"fake SMS.ru at {server.url}/sms/send")
    server._server.serve_forever()
