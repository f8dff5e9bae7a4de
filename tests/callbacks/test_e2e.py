"""End to end on the real broker: a claim's push is published on commit and sent by a real Celery worker."""

import json
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings

from callbacks.models import Outcome
from callbacks.services import callback_attempt_record, callback_request_claim_next, callback_request_create
from tests.factories.travelers import DeviceFactory, TravelerFactory
from tests.workers import celery_worker, log_tail


def _read_pushes(directory: Path) -> list[dict]:
    return [json.loads(line) for path in directory.glob("push-*.jsonl") for line in path.read_text().splitlines()]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_pushes_taken_and_closed_without_personal_data(embassy, staff, tmp_path):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery")
    traveler = TravelerFactory(full_name="Anna Smirnova", phone="+37491555444")
    DeviceFactory(traveler=traveler, token="e2e-token", locale="en")
    request = callback_request_create(traveler=traveler, country="AM", topic="medical_emergency", message="Fell")
    log = tmp_path / "worker.log"

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 60
        while len(_read_pushes(tmp_path)) < count and time.monotonic() < deadline:
            time.sleep(0.2)

    try:
        with celery_worker(log, pool="solo", concurrency=1, PUSH_BACKEND="file", PUSH_FILE_PATH=str(tmp_path)):
            # no surrounding transaction here: each service commits and kicks the sender as in production
            callback_request_claim_next(staff=staff, mission=embassy)
            wait_for(1)
            callback_attempt_record(request=request, staff=staff, outcome=Outcome.COMPLETED)
            wait_for(2)
    finally:
        broker.delete("celery")
    pushes = _read_pushes(tmp_path)
    assert [p["data"]["status"] for p in pushes] == ["in_progress", "completed"], log_tail(log)
    for push in pushes:
        assert push["token"] == "e2e-token"
        assert push["collapse_id"] == f"callback-{request.pk}"
        assert push["data"] == {"type": "callback", "callback_id": str(request.pk), "status": push["data"]["status"]}
        text = json.dumps(push, ensure_ascii=False)
        for private in ("Anna", "Smirnova", "+374", "91555444", "Fell", "medical"):
            assert private not in text
