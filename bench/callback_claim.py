"""Claims per second with 8 concurrent staff: `callback_request_claim_next` against a bare SQL loop.

Run from the repository root: `.venv/bin/python bench/callback_claim.py [--requests N] [--workers 8]
[--rounds 3] [--quick]`. It uses its own database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/fa_bench_callbacks), creating and migrating it, and its own Celery
broker queue (BENCH_BROKER_URL, default redis://127.0.0.1:6379/10, emptied afterwards): each claim through
the service enqueues its push on commit, as in production.

Each round queues N requests (a quarter urgent, every traveler with an active push device) in one mission
and starts `workers` OS processes, each with its own connection, released together by a barrier; each
takes requests until the queue is empty:
  service:   callback_request_claim_next(staff=..., mission=...): the membership check, the claim statement
             `UPDATE ... WHERE id = (SELECT id ... ORDER BY priority, queued_at, id LIMIT 1 FOR UPDATE SKIP
             LOCKED) RETURNING ...` (which also records the traveler's push as pending), the model instance,
             and the kick of the notice sender after the commit (a Celery task published to Redis at most
             once a second per process);
  bare:      the same claim statement, run by psycopg directly in a loop (the baseline of the ratio);
  bare-2stm: for reference, the textbook form: BEGIN; SELECT id ... FOR UPDATE SKIP LOCKED; UPDATE; COMMIT.
Printed: claims/second of each (median over rounds, order rotated per round), the ratio service/bare, and
the double claims and skipped requests (both must be 0). Figures only; nothing here fails on timing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Its own database, never the one DATABASE_URL names: each round queues and claims thousands of rows there.
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fa_bench_callbacks"
)
if "bench" not in os.environ["DATABASE_URL"].rsplit("/", 1)[-1]:
    sys.exit("BENCH_DATABASE_URL must name a database whose name contains 'bench' (its rows are replaced).")
os.environ["CELERY_BROKER_URL"] = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/10")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DJANGO_DEBUG"] = "false"  # no query log in memory
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "localhost")

CLAIM_SQL = """
    SELECT id FROM callbacks_callbackrequest
    WHERE mission_id = %s AND status IN ('queued', 'no_answer') AND available_at <= now()
    ORDER BY priority, queued_at, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
"""
MARK_SQL = (
    "UPDATE callbacks_callbackrequest SET status = 'in_progress', claimed_by_id = %s, claimed_at = now() WHERE id = %s"
)


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def seed(*, requests: int, workers: int) -> tuple[int, list[int]]:
    """The mission and its staff (kept across rounds)."""
    from django.contrib.auth import get_user_model

    from countries.models import Country, Mission, StaffMembership

    country, _ = Country.objects.get_or_create(code="AM", defaults={"callbacks_enabled": True})
    mission = Mission.objects.filter(country=country, name_en="Bench embassy").first() or Mission.objects.create(
        country=country,
        kind="embassy",
        name_ru="Посольство (бенчмарк)",
        name_en="Bench embassy",
        city_ru="Ереван",
        city_en="Yerevan",
        address_ru="-",
        address_en="-",
        latitude=40.18,
        longitude=44.5,
        time_zone="Asia/Yerevan",
    )
    staff = []
    for n in range(workers):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-staff-{n}", defaults={"is_staff": True})
        StaffMembership.objects.get_or_create(user=user, mission=mission)
        staff.append(user.pk)
    return mission.pk, staff


def queue_requests(*, mission_id: int, requests: int) -> None:
    """A fresh queue of `requests` waiting requests (one traveler each), a quarter of them urgent."""
    from django.db import connection
    from django.utils import timezone

    from callbacks.models import CallbackRequest, Topic
    from travelers.models import Device, Traveler

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE callbacks_callbackattempt, callbacks_callbackrequest")
    Traveler.objects.filter(phone__startswith="+3749").delete()
    travelers = Traveler.objects.bulk_create([Traveler(phone=f"+3749{n:07d}") for n in range(requests)])
    Device.objects.bulk_create(
        [
            Device(traveler=t, platform="android", token=f"bench-{n}", token_hash=hashlib.sha256(b"%d" % n).hexdigest())
            for n, t in enumerate(travelers)
        ],
        batch_size=2000,
    )
    now = timezone.now()
    topics = [Topic.OTHER, Topic.LOST_DOCUMENTS, Topic.ACCIDENT, Topic.CRIME_VICTIM]
    CallbackRequest.objects.bulk_create(
        [
            CallbackRequest(
                traveler=t,
                country_id="AM",
                mission_id=mission_id,
                topic=topics[n % 4],
                queued_at=now,
                available_at=now,
            )
            for n, t in enumerate(travelers)
        ],
        batch_size=2000,
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE callbacks_callbackrequest")


def service_worker(staff_id: int, mission_id: int, barrier, results) -> None:
    from django.contrib.auth import get_user_model

    from callbacks import services
    from callbacks.services import callback_request_claim_next
    from core import queue
    from countries.models import Mission
    from countries.selectors import staff_mission_ids

    staff = get_user_model().objects.get(pk=staff_id)
    mission = Mission.objects.get(pk=mission_id)
    staff_mission_ids(user=staff)  # as a signed-in session would have it
    # A running web process has its broker connection open already.
    queue.enqueue(services.SEND_NOTICES, countdown=services.NOTICE_BATCH_SECONDS, retry=False)
    barrier.wait()
    claimed = []
    while (request := callback_request_claim_next(staff=staff, mission=mission)) is not None:
        claimed.append(request.pk)
    results.put((claimed, time.perf_counter()))


def bare_worker(staff_id: int, mission_id: int, barrier, results) -> None:
    """The service's own claim statement, straight through psycopg (autocommit, like the service)."""
    import psycopg

    from callbacks.services import _claim_statement

    sql, _attnames = _claim_statement()
    params = ["in_progress", staff_id, None, "in_progress", mission_id, "queued", "no_answer", None]
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("SELECT 1")
        barrier.wait()
        claimed = []
        while True:
            now = dt.datetime.now(tz=dt.UTC)
            params[2] = params[7] = now
            row = conn.execute(sql, params).fetchone()
            if row is None:
                break
            claimed.append(row[0])
    results.put((claimed, time.perf_counter()))


def bare_two_statement_worker(staff_id: int, mission_id: int, barrier, results) -> None:
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        conn.execute("SELECT 1")
        conn.commit()
        barrier.wait()
        claimed = []
        while True:
            with conn.transaction():
                row = conn.execute(CLAIM_SQL, (mission_id,)).fetchone()
                if row is None:
                    break
                conn.execute(MARK_SQL, (staff_id, row[0]))
            claimed.append(row[0])
    results.put((claimed, time.perf_counter()))


WORKERS = {"service": service_worker, "bare": bare_worker, "bare-2stm": bare_two_statement_worker}


def run_round(kind: str, *, mission_id: int, staff: list[int], requests: int) -> tuple[float, int, int]:
    from django.db import connections

    from callbacks.models import CallbackRequest

    queue_requests(mission_id=mission_id, requests=requests)
    expected = set(CallbackRequest.objects.values_list("id", flat=True))
    connections.close_all()  # children must not share the parent's connection
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(len(staff) + 1)
    results = ctx.Queue()
    target = WORKERS[kind]
    procs = [ctx.Process(target=target, args=(sid, mission_id, barrier, results)) for sid in staff]
    for proc in procs:
        proc.start()
    barrier.wait()
    started = time.perf_counter()
    outcomes = [results.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    elapsed = max(end for _claimed, end in outcomes) - started
    claimed = [pk for batch, _end in outcomes for pk in batch]
    doubles = len(claimed) - len(set(claimed))
    skipped = len(expected - set(claimed))
    in_db = CallbackRequest.objects.filter(status="in_progress").count()
    if in_db != len(set(claimed)):
        doubles += abs(in_db - len(set(claimed)))
    return len(claimed) / elapsed, doubles, skipped


def purge_broker() -> None:
    import redis

    redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).delete("celery")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1000 requests, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.rounds = 1000, 1

    ensure_database(os.environ["DATABASE_URL"])
    setup_django()
    from django.db import connection

    mission_id, staff = seed(requests=args.requests, workers=args.workers)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(
        f"callback claim: {args.requests} queued requests, {args.workers} concurrent staff processes, "
        f"{args.rounds} round(s), PostgreSQL {version}, database {connection.settings_dict['NAME']}"
    )
    rates: dict[str, list[float]] = {kind: [] for kind in WORKERS}
    doubles = skipped = 0
    kinds = list(WORKERS)
    try:
        for n in range(args.rounds):
            for kind in kinds[n % 3 :] + kinds[: n % 3]:
                rate, d, s = run_round(kind, mission_id=mission_id, staff=staff, requests=args.requests)
                rates[kind].append(rate)
                doubles += d
                skipped += s
                print(f"  round {n + 1} {kind:>9}: {rate:8.0f} claims/s  double claims {d}  skipped {s}")
    finally:
        purge_broker()
    service, bare = statistics.median(rates["service"]), statistics.median(rates["bare"])
    print(f"service (callback_request_claim_next):        {service:8.0f} claims/s")
    print(f"bare SQL loop (the same claim statement):     {bare:8.0f} claims/s")
    two = statistics.median(rates["bare-2stm"])
    print(f"bare SQL loop (SELECT SKIP LOCKED + UPDATE):  {two:8.0f} claims/s")
    print(f"ratio service/bare: {service / bare:.0%} (aim: 50% or more); to the textbook loop: {service / two:.0%}")
    print(f"double claims: {doubles} (must be 0); skipped requests: {skipped} (must be 0)")
    return 0 if doubles == 0 and skipped == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
