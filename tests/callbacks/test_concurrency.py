"""Several OS processes take from 1000 queued requests at once: none is claimed twice, none is skipped."""

import json
import os
import subprocess
import sys

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from callbacks.models import CallbackRequest, Status, Topic
from tests.factories.callbacks import StaffUserFactory
from tests.processes import stop_group
from tests.workers import database_url, start
from travelers.models import Traveler

REQUESTS = 1000
PROCESSES = 6


def _queue(embassy) -> list[int]:
    travelers = Traveler.objects.bulk_create([Traveler(phone=f"+3749{n:07d}") for n in range(REQUESTS)])
    now = timezone.now()
    topics = [Topic.OTHER, Topic.LOST_DOCUMENTS, Topic.ACCIDENT, Topic.CRIME_VICTIM]
    requests = CallbackRequest.objects.bulk_create(
        CallbackRequest(
            traveler=t,
            country=embassy.country,
            mission=embassy,
            topic=topics[n % len(topics)],
            queued_at=now,
            available_at=now,
        )
        for n, t in enumerate(travelers)
    )
    return [r.pk for r in requests]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_take_next_claims_each_of_1000_requests_exactly_once(embassy):
    ids = _queue(embassy)
    staff = [StaffUserFactory(missions=[embassy]) for _ in range(PROCESSES)]
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    workers = [
        start(
            [sys.executable, "-m", "tests.callbacks.claim_worker", str(embassy.pk), str(user.pk)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for user in staff
    ]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:  # all set up and connected: start them together
            worker.stdin.write("go\n")
            worker.stdin.flush()
        claimed = [json.loads(worker.communicate(timeout=120)[0]) for worker in workers]
    finally:
        for worker in workers:
            stop_group(worker, timeout=5)
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("celery")  # the pushes nobody consumes here

    every = [pk for batch in claimed for pk in batch]
    assert len(every) == REQUESTS, "a request was claimed twice or skipped"
    assert sorted(every) == sorted(ids)
    assert sum(1 for batch in claimed if batch) >= 2, "the processes did not overlap"
    rows = CallbackRequest.objects.values_list("status", "claimed_by_id")
    assert {status for status, _ in rows} == {Status.IN_PROGRESS}
    by_staff = {user.pk: set(batch) for user, batch in zip(staff, claimed, strict=True)}
    for pk, claimer in CallbackRequest.objects.values_list("pk", "claimed_by_id"):
        assert pk in by_staff[claimer]
    # each process took its requests in queue order: urgent (accident) first, then by id
    for batch in claimed:
        priorities = list(
            CallbackRequest.objects.filter(pk__in=batch).order_by("claimed_at", "pk").values_list("priority", flat=True)
        )
        assert priorities == sorted(priorities)
