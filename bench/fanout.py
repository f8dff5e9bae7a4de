"""Alert fan-out against its floor: N devices through publish -> kickoff -> batches -> fake FCM -> PostgreSQL.

Run from the repository root: `.venv/bin/python bench/fanout.py [--devices 100000] [--latency-ms 20]
[--workers 2] [--no-small] [--quick]` (`make bench` runs it with no arguments: 100,000 and 10,000 devices).

Everything it uses is its own: the database BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/fa_bench_fanout, created and migrated here, its tables truncated: the name
must contain "bench"), a redis-server on a free loopback port (broker and cache, no persistence), the fake
FCM HTTP v1 server (tests/fakes/fcm.py, HTTP/2 h2c, a fixed latency per request) as a subprocess, and, per
size, two fresh `celery -A config worker --concurrency=1` processes with PUSH_BACKEND=providers.

For each size (N/10 first, then N) it seeds the devices of N travelers, each with a trip in one country,
with generate_series (seconds, not an ORM loop), then:
  floor   the same number of OS processes as workers, each reading its half of the audience's tokens and
          POSTing the same FCM messages to the same fake with the same client (httpx, HTTP/2) and the same
          number of requests in flight (PUSH_CONCURRENCY), with no bookkeeping;
  alerts  publishes an alert through the services (create, approve, publish) and waits until the alert is
          `sent`, i.e. every delivery is recorded sent in PostgreSQL.
Printed per size: wall time (publish to the last outcome committed), deliveries/s, the ratio to the floor,
broker messages (LPUSH calls counted by the broker's own `INFO commandstats`), SQL statements per 1000
deliveries (every statement the workers and the publish sent through Django's cursors, counted by an execute
wrapper in those processes; BEGIN/COMMIT are not statements there, so PostgreSQL's own transaction counter
from pg_stat_database is printed next to it), and the peak memory (VmHWM) of the worker processes. Figures
only: nothing here fails on timing; it fails only if a device was missed or sent to twice.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fa_bench_fanout"
COUNTRIES = ("GE", "AM")  # N/10 devices in the first, N in the second
TEXT: dict[str, Any] = {
    "title_ru": "Закрыт аэропорт",
    "title_en": "Airport closed",
    "text_ru": "Аэропорт Звартноц закрыт до 18:00. Следите за сообщениями посольства.",
    "text_en": "Zvartnots airport is closed until 18:00. Follow the embassy's messages.",
}


# --- processes of the bench -----------------------------------------------------------------------------------
def free_port() -> int:
    from tests.fakes.push_server import free_port as pick

    return pick()


def start(command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A child of the bench in its own process group, from the repository root (tests/workers.py)."""
    from tests.workers import start as start_child

    return start_child(command, log=log, env=env)


def stop(process: subprocess.Popen) -> None:
    from tests.processes import stop_group

    stop_group(process, timeout=30)


def wait_for(condition, *, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def redis_commandstats(client) -> dict[str, int]:
    return {name.removeprefix("cmdstat_"): int(stats["calls"]) for name, stats in client.info("commandstats").items()}


def peak_rss_kb(pid: int) -> dict[int, int]:
    """VmHWM (peak resident set) of a process and of its children, from /proc."""
    out = {}
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(p) for p in (task / "children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    out[p] = int(line.split()[1])
        except OSError:
            continue
    return out


# --- the worker processes (this file, run with --worker-mode, is `celery -A config worker` plus a counter) ---
def worker_mode(sql_dir: str, celery_argv: list[str]) -> None:
    """Count every SQL statement this worker's pool processes send through Django's cursors (written to
    `sql_dir/sql.<pid>` after each task), then run the Celery worker as `celery` would."""
    from celery.signals import task_postrun
    from django.db.backends.signals import connection_created

    count = [0]

    def counting(execute, sql, params, many, context):
        count[0] += 1
        return execute(sql, params, many, context)

    def on_connect(sender, connection, **kwargs):
        if counting not in connection.execute_wrappers:
            connection.execute_wrappers.append(counting)

    def flush(**kwargs):
        Path(sql_dir, f"sql.{os.getpid()}").write_text(str(count[0]))

    connection_created.connect(on_connect, weak=False)
    task_postrun.connect(flush, weak=False)
    from celery.__main__ import main as celery_main

    sys.argv = ["celery", *celery_argv]
    celery_main()


# --- database --------------------------------------------------------------------------------------------------
def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to truncate tables of {name!r}: the bench database's name must contain 'bench'")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def seed(sizes: dict[str, int]) -> None:
    """`size` travelers per country, each with a trip (one leg, yesterday to next week) and one Android device,
    in set-based SQL. Kept across runs when the counts already match."""
    from django.db import connection

    from countries.models import Country

    with connection.cursor() as cursor:
        cursor.execute("SELECT country_id, count(*) FROM travelers_tripleg GROUP BY country_id")
        have = dict(cursor.fetchall())
        if have == sizes and sum(sizes.values()) == _count(cursor, "travelers_device"):
            return
        started = time.perf_counter()
        cursor.execute(
            "TRUNCATE alerts_delivery, alerts_safetyreply, alerts_alert, travelers_tripleg, travelers_trip, "
            "travelers_devicesubscription, travelers_device, travelers_traveler CASCADE"
        )
        for index, (code, size) in enumerate(sizes.items()):
            Country.objects.get_or_create(code=code)
            cursor.execute("DROP TABLE IF EXISTS bench_seed")
            cursor.execute(
                "CREATE TEMP TABLE bench_seed AS SELECT i, gen_random_uuid() AS traveler FROM generate_series(1, %s) i",
                [size],
            )
            cursor.execute(
                "INSERT INTO travelers_traveler (id, phone, full_name, email, language, emergency_contact_name, "
                "emergency_contact_phone, emergency_contact_relation, created_at) "
                "SELECT traveler, '+79' || lpad((%s * 10000000 + i)::text, 9, '0'), '', '', "
                "CASE WHEN i %% 4 = 0 THEN 'en' ELSE 'ru' END, '', '', '', now() FROM bench_seed",
                [index],
            )
            cursor.execute(
                "INSERT INTO travelers_trip (accommodation, companions, notes, start_date, end_date, created_at, "
                "updated_at, traveler_id) SELECT '', '[]', '', current_date - 1, current_date + 7, now(), now(), "
                "traveler FROM bench_seed"
            )
            cursor.execute(
                "INSERT INTO travelers_tripleg (position, cities, start_date, end_date, country_id, trip_id) "
                "SELECT 0, '[]', t.start_date, t.end_date, %s, t.id FROM travelers_trip t "
                "JOIN bench_seed s ON t.traveler_id = s.traveler",
                [code],
            )
            # FCM registration tokens are ~150 characters.
            cursor.execute(
                "INSERT INTO travelers_device (platform, token, token_hash, locale, app_version, is_active, "
                "deactivated_reason, created_at, last_seen_at, traveler_id) "
                "SELECT 'android', tok, encode(sha256(tok::bytea), 'hex'), CASE WHEN i %% 4 = 0 THEN 'en' ELSE 'ru' "
                "END, '', true, '', now(), now(), traveler FROM (SELECT i, traveler, 'bench-' || %s || '-' || i "
                "|| ':APA91b' || md5(i::text) || md5((i + 1)::text) || md5((i + 2)::text) || md5((i + 3)::text) "
                "AS tok FROM bench_seed) AS s",
                [code],
            )
        cursor.execute("DROP TABLE IF EXISTS bench_seed")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"seeded {sizes} in {time.perf_counter() - started:.0f}s", flush=True)


def _count(cursor, table: str) -> int:
    cursor.execute(f"SELECT count(*) FROM {table}")
    return cursor.fetchone()[0]


# --- the floor -------------------------------------------------------------------------------------------------
def floor_process(code: str, part: int, parts: int, concurrency: int, barrier, results) -> None:
    """Read this part of the audience's tokens, then send each its message: nothing else."""
    import django

    django.setup()
    import httpx
    import jwt
    from django.db import connection
    from django.db.models.functions import Mod

    from alerts.models import Alert
    from alerts.services.messages import alert_push_message, device_language
    from core.push.backends.fcm import SCOPE, ServiceAccount, fcm_message
    from core.push.backends.http2 import JSON_HEADERS, json_body, make_async_client
    from travelers.selectors import audience_devices

    account = ServiceAccount.from_file(os.environ["FCM_CREDENTIALS_FILE"])
    alert = Alert(pk=10**6, collapse_id=str(10**6), country_id=code, severity="warning", category="other", **TEXT)
    url = f"{os.environ['FCM_ENDPOINT']}/v1/projects/{account.project_id}/messages:send"
    connection.close()
    barrier.wait()
    started = time.perf_counter()
    audience = audience_devices(country_code=code).annotate(part=Mod("id", parts)).filter(part=part)
    rows = list(audience.values_list("token", "platform", "locale"))

    async def send_all() -> int:
        client = make_async_client(os.environ["FCM_ENDPOINT"])
        now = int(time.time())
        claims = {"iss": account.client_email, "scope": SCOPE, "aud": account.token_uri, "iat": now, "exp": now + 3600}
        grant = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": ""}
        grant["assertion"] = jwt.encode(claims, account.private_key, algorithm="RS256")
        bearer = (await client.post(account.token_uri, data=grant)).json()["access_token"]
        headers = {**JSON_HEADERS, "authorization": f"Bearer {bearer}"}
        pending = iter(rows)

        async def lane() -> int:  # `concurrency` lanes share the rows: that many requests in flight
            sent = 0
            for token, platform, locale in pending:
                language = device_language(locale)
                message = alert_push_message(alert=alert, language=language, platform=platform, token=token)
                body = json_body({"message": fcm_message(message)})
                try:
                    response = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError:
                    continue
                sent += response.status_code == 200
            return sent

        sent = sum(await asyncio.gather(*(lane() for _ in range(concurrency))))
        await client.aclose()
        return sent

    sent = asyncio.run(send_all())
    results.put((sent, len(rows), time.perf_counter() - started))


def run_floor(code: str, *, processes: int, concurrency: int) -> dict:
    from django.db import connections

    connections.close_all()
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(processes + 1), ctx.Queue()
    procs = [
        ctx.Process(target=floor_process, args=(code, part, processes, concurrency, barrier, results))
        for part in range(processes)
    ]
    for proc in procs:
        proc.start()
    barrier.wait()
    started = time.perf_counter()
    outcomes = [results.get(timeout=7200) for _ in procs]
    wall = time.perf_counter() - started
    for proc in procs:
        proc.join(30)
    sent, total = sum(o[0] for o in outcomes), sum(o[1] for o in outcomes)
    return {"sent": sent, "devices": total, "wall": wall, "rate": sent / wall}


# --- the real path ---------------------------------------------------------------------------------------------
def start_workers(count: int, env: dict[str, str], work: Path, tag: str) -> list[subprocess.Popen]:
    from tests.workers import celery_args, wait_ready

    workers, logs = [], []
    for n in range(count):
        log = work / f"worker-{tag}-{n}.log"
        celery_argv = celery_args(name=f"bench-{tag}-{n}", concurrency=1)
        command = [sys.executable, str(Path(__file__).resolve()), "--worker-mode", str(work), "--", *celery_argv]
        workers.append(start(command, log, env))
        logs.append(log)
    for n, (process, log) in enumerate(zip(workers, logs, strict=True)):
        wait_ready(process, log, what=f"worker {n}")
    return workers


def run_alerts(code: str, size: int, *, fake, broker, workers: int, work: Path) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from alerts.models import Alert, AlertStatus, Delivery
    from alerts.services import alert_approve, alert_create, alert_publish

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE alerts_delivery, alerts_safetyreply, alerts_alert CASCADE")
    author, _ = get_user_model().objects.get_or_create(username="bench-author", defaults={"is_superuser": True})
    approver, _ = get_user_model().objects.get_or_create(username="bench-approver", defaults={"is_superuser": True})
    for path in work.glob("sql.*"):
        path.unlink()
    procs = start_workers(workers, dict(os.environ), work, f"{code}{size}")
    try:
        fake("POST", "/_fake/reset")
        alert = alert_create(author=author, country=code, severity="warning", **TEXT)
        alert_approve(alert=alert, user=approver)
        commands_before, xacts_before = redis_commandstats(broker), transactions()
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as publish_queries:
            alert_publish(alert=alert, user=author)
        publish_seconds = time.perf_counter() - started
        polls = 0

        def sent() -> bool:
            nonlocal polls
            polls += 1
            return Alert.objects.filter(pk=alert.pk, status=AlertStatus.SENT).exists()

        wait_for(sent, timeout=600 + size / 50, what="every delivery recorded", interval=0.2)
        wall = time.perf_counter() - started
        commands_after = redis_commandstats(broker)
        time.sleep(1.0)  # PostgreSQL publishes a backend's counters when it goes idle (at most every second)
        xacts = transactions() - xacts_before - polls - 2
        peaks = {}
        for proc in procs:
            peaks.update(peak_rss_kb(proc.pid))
        main_pids = {proc.pid for proc in procs}
    finally:
        for proc in procs:
            stop(proc)
    alert.refresh_from_db()
    stats = fake("GET", "/_fake/stats")
    statuses = dict(Delivery.objects.filter(alert=alert).values_list("status").annotate(n=_count_all()))
    first_sent = Delivery.objects.filter(alert=alert).order_by("sent_at").values_list("sent_at", flat=True).first()
    worker_sql = sum(int(p.read_text()) for p in work.glob("sql.*"))
    lpush = sum(commands_after.get(k, 0) - commands_before.get(k, 0) for k in ("lpush", "rpush"))
    assert alert.published_at is not None, "a sent alert was published"
    assert alert.audience_frozen_at is not None, "a sent alert's audience was frozen"
    return {
        "devices": alert.audience_devices,
        "wall": wall,
        "rate": statuses.get("sent", 0) / wall,
        "publish": publish_seconds,
        "freeze": (alert.audience_frozen_at - alert.published_at).total_seconds(),
        "first_sent": (first_sent - alert.published_at).total_seconds() if first_sent else None,
        "broker_messages": lpush,
        "sql": worker_sql + len(publish_queries),
        "transactions": xacts,
        "peak_child_mb": max(kb for pid, kb in peaks.items() if pid not in main_pids) / 1024,
        "peak_main_mb": max(kb for pid, kb in peaks.items() if pid in main_pids) / 1024,
        "statuses": statuses,
        "provider": stats,
    }


def _count_all():
    from django.db.models import Count

    return Count("id")


def transactions() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


# --- main ------------------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-small", action="store_true", help="skip the N/10 run")
    parser.add_argument("--quick", action="store_true", help="20,000 devices (and 2,000)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _exit_on_signal)  # clean up the servers and workers when stopped
    signal.signal(signal.SIGINT, _exit_on_signal)
    if args.quick:
        args.devices = 20_000
    sizes = {COUNTRIES[0]: max(1, args.devices // 10), COUNTRIES[1]: args.devices}
    work = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    ensure_database(database_url)

    import httpx
    import redis

    redis_port, fake_port = free_port(), free_port()
    redis_server = start(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        work / "redis.log",
    )
    credentials = work / "fcm.json"
    fake_server = start(
        [sys.executable, "-m", "tests.fakes.fcm", "--port", str(fake_port), "--latency-ms", str(args.latency_ms),
         "--credentials-out", str(credentials), "--record-limit", "0"],
        work / "fake-fcm.log",
    )  # fmt: skip
    fake_url = f"http://127.0.0.1:{fake_port}"

    def fake(method: str, path: str) -> dict:
        return httpx.request(method, fake_url + path, timeout=60, trust_env=False).json()

    try:
        broker = redis.Redis(port=redis_port)
        wait_for(lambda: _pings(broker), timeout=10, what="redis-server")
        wait_for(lambda: credentials.exists() and _answers(fake), timeout=20, what="fake FCM")
        os.environ.update(
            {
                "DATABASE_URL": database_url,
                "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
                "REDIS_URL": f"redis://127.0.0.1:{redis_port}/1",
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DJANGO_DEBUG": "false",
                "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
                "DJANGO_ALLOWED_HOSTS": "localhost",
                "PUSH_BACKEND": "providers",
                "FCM_ENDPOINT": fake_url,
                "FCM_CREDENTIALS_FILE": str(credentials),
                "FCM_TOKEN_URI": "",
            }
        )
        import django

        django.setup()
        import logging

        from django.conf import settings
        from django.core.management import call_command

        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("alerts").setLevel(logging.WARNING)

        call_command("migrate", verbosity=0, interactive=False)
        seed(sizes)
        concurrency = settings.PUSH_CONCURRENCY
        print(
            f"alert fan-out: {args.workers} worker processes (1 slot each) vs a bare loop in {args.workers} processes, "
            f"{concurrency} requests in flight per process, batches of {settings.ALERT_BATCH_SIZE}, fake FCM "
            f"(HTTP/2 h2c) with {args.latency_ms:.0f} ms latency; 2 CPUs shared by all",
            flush=True,
        )
        rows = []
        for code, size in sizes.items():
            if args.no_small and size != args.devices:
                continue
            floor = run_floor(code, processes=args.workers, concurrency=concurrency)
            print(f"  N={size}: floor {floor['rate']:.0f}/s ({floor['sent']} sent in {floor['wall']:.1f}s)", flush=True)
            real = run_alerts(code, size, fake=fake, broker=broker, workers=args.workers, work=work)
            rows.append((size, floor, real))
            report(size, floor, real)
        if len(rows) == 2:
            (small, _, a), (large, _, b) = rows
            print(
                f"growth x{large / small:.0f} devices: wall x{b['wall'] / a['wall']:.1f}, worker peak memory "
                f"x{b['peak_child_mb'] / a['peak_child_mb']:.2f} (aim <= 1.5 for 1M vs 100k), broker messages "
                f"x{b['broker_messages'] / a['broker_messages']:.1f}"
            )
        bad = [r for _s, _f, r in rows if r["provider"]["duplicates"] or r["statuses"].get("sent") != r["devices"]]
        return 1 if bad else 0
    finally:
        stop(fake_server)
        stop(redis_server)
        if not args.keep:
            for path in sorted(work.glob("*")):
                path.unlink()
            work.rmdir()
        else:
            print(f"work directory kept: {work}")


def report(size: int, floor: dict, real: dict) -> None:
    per_thousand = 1000 / max(1, real["devices"])
    first = f"{real['first_sent']:.1f}s" if real["first_sent"] is not None else "-"
    print(
        f"  N={size}: wall {real['wall']:.1f}s (publish request {real['publish'] * 1000:.0f} ms, audience written "
        f"{real['freeze']:.1f}s after publish, first device {first})\n"
        f"    deliveries/s {real['rate']:.0f}; floor {floor['rate']:.0f}/s; ratio {real['rate'] / floor['rate']:.0%} "
        f"(aim >= 50%)\n"
        f"    broker messages {real['broker_messages']} (aim <= N/500 + 10 = {size // 500 + 10})\n"
        f"    SQL statements per 1000 deliveries {real['sql'] * per_thousand:.1f} ({real['sql']} in all); "
        f"PostgreSQL transactions per 1000 {real['transactions'] * per_thousand:.1f}\n"
        f"    worker peak RSS: pool process {real['peak_child_mb']:.0f} MB, worker main process "
        f"{real['peak_main_mb']:.0f} MB\n"
        f"    outcomes {real['statuses']}; provider: delivered {real['provider']['delivered']}, duplicates "
        f"{real['provider']['duplicates']}, outcomes {real['provider']['outcomes']}",
        flush=True,
    )


def _exit_on_signal(signum, frame) -> None:
    raise SystemExit(128 + signum)


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def _answers(fake) -> bool:
    try:
        return "delivered" in fake("GET", "/_fake/stats")
    except Exception:  # not up yet
        return False


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker-mode":
        separator = sys.argv.index("--")
        worker_mode(sys.argv[2], sys.argv[separator + 1 :])
    else:
        sys.exit(main())
