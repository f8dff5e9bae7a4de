"""Requests per second of the country pack under gunicorn, against a bare Django view serving the same bytes.

Run from the repository root: `.venv/bin/python bench/api_read.py [--seconds 6] [--clients 4] [--rounds 2]
[--quick]`. It uses its own database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/fa_bench:
created, migrated and loaded with the reference data) and its own cache (BENCH_REDIS_URL, default
redis://127.0.0.1:6379/11), and starts gunicorn (2 sync workers, DEBUG off) on a free port of 127.0.0.1 with
bench/settings_bench.py, whose URLconf adds the baseline view to the project's URLs (never in production).

Measured with the same server, data and load, in rotating order:
  pack 200   GET /api/v1/countries/AM/                       the endpoint: DRF view, cache round trip
                                                              (pack + generation), conditional response
  bare 200   GET /bench/bare/countries/AM/                   plain Django view: one cache get of the same
                                                              rendered bytes, HttpResponse
  pack 304   the pack endpoint with If-None-Match: <its ETag>
  bare 304   the bare view with the same header (compares it, answers 304)
The load generator: `--clients` processes, each sending requests back to back over http.client for `--seconds`
(gunicorn's sync workers close the connection after each response, for both variants alike). Each round
measures the four cases back to back, in an order rotated per round; a round's ratio compares a pack case with
the bare case measured next to it, so a machine shared with other work shifts both alike. Printed: the median
req/s of each case, the median of the per-round ratios pack/bare, and how many of the server's database
sessions (pg_stat_activity, by application_name) connected or ran a statement during the pack's 304 runs
(expected 0: a 304 is answered from the cache). Also printed: the workers' CPU time per request of each case
(from /proc), whose ratio bare/pack is the throughput ratio a quiet machine would show. Figures only; nothing
fails on timing.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from multiprocessing.queues import Queue as ProcessQueue
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fa_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
APPLICATION_NAME = "fa-bench-gunicorn"  # marks the server's database sessions in pg_stat_activity
PACK_PATH = "/api/v1/countries/AM/"
BARE_PATH = "/bench/bare/countries/AM/"


def server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "bench.settings_bench",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"{DATABASE_URL}?application_name={APPLICATION_NAME}",
        "REDIS_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": "fa-bench",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    return env


def ensure_database() -> None:
    import psycopg

    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=server_env(), check=True)


def database_now():
    import psycopg

    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        row = conn.execute("SELECT now()").fetchone()
        assert row is not None
        return row[0]


def server_sessions_active_since(instant) -> int:
    """Sessions of the server that connected or ran a statement since `instant` (pg_stat_activity)."""
    import psycopg

    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            " AND (backend_start >= %s OR state_change >= %s OR query_start >= %s)",
            (APPLICATION_NAME, instant, instant, instant),
        ).fetchone()
    assert row is not None
    return row[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int) -> subprocess.Popen:
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    process = subprocess.Popen(
        [
            gunicorn,
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
            "--chdir",
            str(ROOT),
        ],
        cwd=ROOT,
        env=server_env(),
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            status, _headers, _body = request(port, "/healthz")
            if status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


def request(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def client_loop(port: int, path: str, headers: dict[str, str], expect: int, seconds: float, start, out) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    done = errors = 0
    start.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status == expect:
            done += 1
        else:
            errors += 1
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
    conn.close()
    out.put((done, errors))


def server_cpu_seconds(master_pid: int) -> float:
    """User + system CPU time consumed so far by gunicorn's worker processes (Linux /proc)."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    ticks = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(
    port: int, path: str, headers: dict[str, str], expect: int, seconds: float, clients: int, server_pid: int
) -> tuple[float, float]:
    """(requests per second, server CPU seconds per request)."""
    start = mp.Event()
    out: ProcessQueue[tuple[int, int]] = mp.Queue()
    workers = [
        mp.Process(target=client_loop, args=(port, path, headers, expect, seconds, start, out)) for _ in range(clients)
    ]
    for worker in workers:
        worker.start()
    time.sleep(0.3)
    cpu_before = server_cpu_seconds(server_pid)
    began = time.monotonic()
    start.set()
    results = [out.get(timeout=seconds + 30) for _ in workers]
    elapsed = time.monotonic() - began
    cpu = server_cpu_seconds(server_pid) - cpu_before
    for worker in workers:
        worker.join()
    done, errors = sum(r[0] for r in results), sum(r[1] for r in results)
    if errors:
        print(f"  warning: {errors} responses to {path} were not {expect}")
    return done / elapsed, cpu / max(done + errors, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.5, help="duration of each measurement")
    parser.add_argument("--clients", type=int, default=4, help="load-generator processes")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each measuring all four cases")
    parser.add_argument("--quick", action="store_true", help="two rounds of 1.5 seconds per case")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds = 1.5, 2

    os.chdir(ROOT)
    ensure_database()
    manage("migrate", "--noinput", "-v0")
    manage("load_reference_data")
    port = free_port()
    server = start_gunicorn(port)
    try:
        pack_status, headers, body = request(port, PACK_PATH)  # builds and caches the pack
        assert pack_status == 200, pack_status
        etag = headers["ETag"]
        bare_status, _bare_headers, bare_body = request(port, BARE_PATH)
        assert (bare_status, bare_body) == (200, body), "the bare view must serve the very same bytes"
        cases = {
            ("200", "pack"): (PACK_PATH, {}, 200),
            ("200", "bare"): (BARE_PATH, {}, 200),
            ("304", "pack"): (PACK_PATH, {"If-None-Match": etag}, 304),
            ("304", "bare"): (BARE_PATH, {"If-None-Match": etag}, 304),
        }
        rates: dict[tuple[str, str], list[float]] = {case: [] for case in cases}
        cpu: dict[tuple[str, str], list[float]] = {case: [] for case in cases}
        ratios: dict[str, list[float]] = {"200": [], "304": []}
        busy_sessions = 0
        order = list(cases)
        for round_number in range(args.rounds):
            shift = round_number % len(order)
            measured: dict[tuple[str, str], float] = {}
            for case in order[shift:] + order[:shift]:
                path, case_headers, expect = cases[case]
                request(port, PACK_PATH)  # keep the pack cached (its TTL follows the missions' hours)
                began = database_now() if case == ("304", "pack") else None
                measured[case], cpu_per_request = measure(
                    port, path, case_headers, expect, args.seconds, args.clients, server.pid
                )
                cpu[case].append(cpu_per_request)
                if began is not None:
                    busy_sessions += server_sessions_active_since(began)
            for case, rate in measured.items():
                rates[case].append(rate)
            for status in ratios:
                ratios[status].append(measured[(status, "pack")] / measured[(status, "bare")])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    print(
        f"Country pack {PACK_PATH} ({len(body)} bytes), gunicorn 2 sync workers on 127.0.0.1, "
        f"{args.clients} client processes, {args.seconds:g} s per case, median of {args.rounds} rounds"
    )
    print(f"{'':22}{'bare view':>14}{'pack endpoint':>16}{'ratio':>9}")
    for status, label in (("200", "200 (full body)"), ("304", "304 (If-None-Match)")):
        bare, pack = statistics.median(rates[(status, "bare")]), statistics.median(rates[(status, "pack")])
        print(f"{label:22}{bare:>10.0f} r/s{pack:>12.0f} r/s{statistics.median(ratios[status]):>9.0%}")
    print("Server CPU per request (gunicorn workers' user+system time; less sensitive to other load on the machine):")
    for status, label in (("200", "200 (full body)"), ("304", "304 (If-None-Match)")):
        bare, pack = statistics.median(cpu[(status, "bare")]), statistics.median(cpu[(status, "pack")])
        print(f"{label:22}{bare * 1e6:>11.0f} us{pack * 1e6:>13.0f} us{bare / pack:>9.0%}  (bare/pack)")
    print(f"Server database sessions that ran a statement during the pack's 304 runs: {busy_sessions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
