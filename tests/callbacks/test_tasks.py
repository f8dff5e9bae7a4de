"""The traveler's push on claim and close (the row as outbox, a kick on commit to the real broker, a periodic
sweep), expiry, provider answers, and a broker outage."""

import base64
import datetime as dt
import json

import pytest
import redis
import time_machine
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from callbacks import tasks
from callbacks.models import CallbackRequest, Outcome, Status
from callbacks.services import (
    NOTICE_BATCH_SECONDS,
    callback_attempt_record,
    callback_request_cancel,
    callback_request_claim_next,
    callback_request_create,
)
from core.push import PushResult, PushStatus, reset_backends
from tests.factories.callbacks import CallbackRequestFactory
from tests.factories.travelers import DeviceFactory, TravelerFactory
from travelers.models import Device

pytestmark = pytest.mark.django_db
QUEUE = "celery"


@pytest.fixture
def broker():
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(QUEUE)
    yield client
    client.delete(QUEUE)


def enqueued(broker) -> list[tuple[str, list, str | None]]:
    """The tasks waiting in the broker, oldest first, as (name, args, eta)."""
    out = []
    for raw in reversed(broker.lrange(QUEUE, 0, -1)):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        out.append((message["headers"]["task"], args, message["headers"].get("eta")))
    return out


def run_enqueued(broker) -> None:
    """Run what the broker holds, as a worker would."""
    for name, args, _eta in enqueued(broker):
        assert (name, args) == ("callbacks.tasks.send_notices", [])
        tasks.send_notices.apply().get()
    broker.delete(QUEUE)


def pending(request) -> str:
    return CallbackRequest.objects.values_list("push_pending", flat=True).get(pk=request.pk)


@pytest.fixture
def caller(embassy):
    traveler = TravelerFactory(full_name="Ivan Petrov", phone="+37490111222", language="ru")
    DeviceFactory(traveler=traveler, platform="android", locale="ru", token="tok-ru")
    DeviceFactory(traveler=traveler, platform="ios", locale="en", token="tok-en")
    DeviceFactory(traveler=traveler, is_active=False, token="tok-dead")
    DeviceFactory(token="someone-else")  # another traveler's device
    return traveler


def assert_no_personal_data(message, request: CallbackRequest) -> None:
    flat = json.dumps([message.title, message.body, message.collapse_id, message.data], ensure_ascii=False)
    for private in ("Ivan", "Petrov", "+374", "90111222", "Gyumri", "passport", request.message):
        assert private not in flat


def test_claim_pushes_to_every_active_device_of_the_traveler_after_commit(
    caller, staff, embassy, broker, outbox, django_capture_on_commit_callbacks
):
    request = callback_request_create(
        traveler=caller, country="AM", topic="lost_documents", message="Lost my passport", city="Gyumri"
    )
    with django_capture_on_commit_callbacks(execute=False) as commit_hooks:
        callback_request_claim_next(staff=staff, mission=embassy)
    assert pending(request) == Status.IN_PROGRESS  # recorded with the claim, in the same statement
    assert enqueued(broker) == []  # nothing before the commit
    kicked_at = timezone.now()
    for hook in commit_hooks:
        hook()
    [(name, args, eta)] = enqueued(broker)
    assert (name, args) == ("callbacks.tasks.send_notices", [])
    assert dt.datetime.fromisoformat(eta) >= kicked_at + dt.timedelta(seconds=NOTICE_BATCH_SECONDS * 0.9)
    run_enqueued(broker)

    assert sorted(m.token for m in outbox) == ["tok-en", "tok-ru"]
    by_token = {m.token: m for m in outbox}
    assert by_token["tok-en"].title == "A diplomat is calling you"
    assert by_token["tok-en"].body == "A diplomat has taken your call-back request and will call you shortly."
    for message in outbox:
        assert message.data == {"type": "callback", "callback_id": str(request.pk), "status": "in_progress"}
        assert message.collapse_id == f"callback-{request.pk}"
        assert message.expires_at is not None
        assert_no_personal_data(message, request)
    assert pending(request) == ""


def test_a_burst_of_claims_is_one_task_that_sends_them_all(
    embassy, staff, broker, outbox, django_capture_on_commit_callbacks
):
    requests = [CallbackRequestFactory(mission=embassy, country=embassy.country) for _ in range(5)]
    for request in requests:
        DeviceFactory(traveler=request.traveler)
    for _ in requests:
        with django_capture_on_commit_callbacks(execute=True):
            callback_request_claim_next(staff=staff, mission=embassy)
    assert len(enqueued(broker)) == 1
    run_enqueued(broker)
    assert sorted(int(m.data["callback_id"]) for m in outbox) == sorted(r.pk for r in requests)


@pytest.mark.parametrize(
    ("outcomes", "status"),
    [(["completed"], "completed"), (["no_answer", "busy", "no_answer"], "unreachable")],
)
def test_closing_pushes_the_final_status(caller, staff, embassy, outbox, outcomes, status):
    request = callback_request_create(traveler=caller, country="AM", topic="other")
    for n, outcome in enumerate(outcomes):
        with time_machine.travel(timezone.now() + dt.timedelta(hours=n)):
            taken = callback_request_claim_next(staff=staff, mission=embassy)
            callback_attempt_record(request=taken, staff=staff, outcome=outcome)
    assert pending(request) == status
    assert tasks.send_notices.apply().get() == 1
    assert [m.data["status"] for m in outbox] == [status, status]
    assert all(m.data["callback_id"] == str(request.pk) for m in outbox)


@pytest.mark.parametrize("outcome", [Outcome.NO_ANSWER, Outcome.RELEASED])
def test_nothing_to_push_while_the_request_stays_open(caller, staff, embassy, outbox, outcome):
    request = callback_request_create(traveler=caller, country="AM", topic="other")
    taken = callback_request_claim_next(staff=staff, mission=embassy)
    callback_attempt_record(request=taken, staff=staff, outcome=outcome)
    assert pending(request) == ""  # the "taken" notice not yet sent is stale now
    assert tasks.send_notices.apply().get() == 0
    assert outbox == []


def test_nothing_to_push_when_the_traveler_cancels(caller, outbox):
    request = callback_request_create(traveler=caller, country="AM", topic="other")
    callback_request_cancel(traveler=caller, request_id=request.pk)
    assert pending(request) == ""


def test_expire_stale_task_expires_and_the_notice_follows(caller, embassy, outbox, settings):
    now = dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC)
    old = CallbackRequestFactory(traveler=caller, mission=embassy, country=embassy.country, queued_at=now)
    with time_machine.travel(now + dt.timedelta(hours=settings.CALLBACK_EXPIRE_HOURS + 1), tick=False):
        assert tasks.expire_stale.apply().get() == 1
        assert tasks.expire_stale.apply().get() == 0  # safe to run twice
        assert tasks.send_notices.apply().get() == 1
    old.refresh_from_db()
    assert (old.status, old.push_pending) == (Status.EXPIRED, "")
    assert {m.data["status"] for m in outbox} == {"expired"}


def test_release_stale_claims_task_puts_a_forgotten_claim_back_in_the_queue(caller, staff, embassy, settings):
    now = dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC)
    with time_machine.travel(now, tick=False):
        request = callback_request_create(traveler=caller, country="AM", topic="other")
        callback_request_claim_next(staff=staff, mission=embassy)
    with time_machine.travel(now + dt.timedelta(minutes=settings.CALLBACK_CLAIM_TIMEOUT_MINUTES - 1), tick=False):
        assert tasks.release_stale_claims.apply().get() == 0
    with time_machine.travel(now + dt.timedelta(minutes=settings.CALLBACK_CLAIM_TIMEOUT_MINUTES + 1), tick=False):
        assert tasks.release_stale_claims.apply().get() == 1
    request.refresh_from_db()
    assert (request.status, request.claimed_by_id) == (Status.QUEUED, None)
    assert "callbacks.tasks.release_stale_claims" in {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}


def test_the_sweep_sends_notices_no_task_was_kicked_for(caller, staff, embassy, outbox):
    request = callback_request_create(traveler=caller, country="AM", topic="other")
    callback_request_claim_next(staff=staff, mission=embassy)  # test transaction: the kick never happens
    assert tasks.send_notices.apply().get() == 1
    assert len(outbox) == 2
    assert tasks.send_notices.apply().get() == 0  # sent once
    assert pending(request) == ""


def test_a_taken_notice_older_than_an_hour_is_dropped(caller, staff, embassy, outbox):
    request = callback_request_create(traveler=caller, country="AM", topic="other")
    callback_request_claim_next(staff=staff, mission=embassy)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1, seconds=1)):
        assert tasks.send_notices.apply().get() == 0
    assert outbox == []
    assert pending(request) == ""


def test_a_traveler_without_devices_is_skipped(embassy, staff, outbox):
    request = CallbackRequestFactory(mission=embassy, country=embassy.country)
    callback_request_claim_next(staff=staff, mission=embassy)
    tasks.send_notices.apply().get()
    assert outbox == []
    assert pending(request) == ""


# --- provider answers: dead tokens are deactivated, deferred notices stay pending ------------------------------


class ScriptedBackend:
    """A provider double at the backend interface: answers by token prefix (dead-*, busy-*, else sent)."""

    sent: list = []

    def send_batch(self, messages):
        ScriptedBackend.sent.extend(messages)
        return [
            PushResult(PushStatus.INVALID_TOKEN)
            if m.token.startswith("dead-")
            else PushResult(PushStatus.RETRY, retry_after=1)
            if m.token.startswith("busy-")
            else PushResult(PushStatus.SENT)
            for m in messages
        ]


@pytest.fixture
def scripted():
    ScriptedBackend.sent = []
    with override_settings(PUSH_BACKEND="tests.callbacks.test_tasks.ScriptedBackend"):
        reset_backends()
        yield ScriptedBackend
    reset_backends()


def closed(embassy, **kwargs):
    return CallbackRequestFactory(
        mission=embassy,
        country=embassy.country,
        status=Status.COMPLETED,
        closed_at=timezone.now(),
        push_pending=Status.COMPLETED,
        **kwargs,
    )


def test_dead_tokens_are_deactivated(embassy, scripted):  # the rule itself: tests/travelers/test_device_services.py
    request = closed(embassy)
    dead = DeviceFactory(traveler=request.traveler, token="dead-1")
    alive = DeviceFactory(traveler=request.traveler, token="ok-1")
    tasks.send_notices.apply().get()
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.is_active, dead.deactivated_reason) == (False, "push provider: token unregistered or invalid")
    assert alive.is_active


def test_a_deferred_notice_stays_pending_for_the_next_sweep(embassy, scripted):
    busy, fine = closed(embassy), closed(embassy)
    DeviceFactory(traveler=busy.traveler, token="busy-1")
    DeviceFactory(traveler=fine.traveler, token="ok-2")
    assert tasks.send_notices.apply().get() == 1
    assert (pending(busy), pending(fine)) == (Status.COMPLETED, "")
    tasks.send_notices.apply().get()
    assert [m.token for m in scripted.sent] == ["busy-1", "ok-2", "busy-1"]
    assert Device.objects.filter(is_active=False).count() == 0


# --- a broker outage never fails or holds up a claim ---------------------------------------------------------


@pytest.fixture
def broker_down(monkeypatch):
    """Point the Celery app at a port where nothing listens (a real refused connection), then restore it."""
    import socket

    from kombu import pools

    from config.celery import app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    def reset_pools():
        pools.reset()  # kombu keeps producer pools per broker URL, process-wide
        app._pool = None
        app.amqp._producer_pool = None

    reset_pools()
    # Celery reads CELERY_BROKER_URL from the environment before its own configuration
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://127.0.0.1:{port}/0")
    assert app.connection_for_write().as_uri().endswith(f":{port}/0")
    yield
    monkeypatch.undo()
    reset_pools()


def test_a_claim_succeeds_when_the_broker_is_down_and_the_sweep_sends_later(
    caller, staff, embassy, broker_down, caplog, outbox, django_capture_on_commit_callbacks
):
    import time

    request = callback_request_create(traveler=caller, country="AM", topic="other")
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        claimed = callback_request_claim_next(staff=staff, mission=embassy)
    assert time.monotonic() - started < 3  # no publish retries holding up the staff member
    assert claimed.pk == request.pk
    assert CallbackRequest.objects.get(pk=request.pk).status == Status.IN_PROGRESS
    assert "could not enqueue callbacks.tasks.send_notices" in caplog.text
    assert "Connection refused" in caplog.text or "Error 111" in caplog.text
    assert tasks.send_notices.apply().get() == 1  # the periodic sweep, once a worker runs it
    assert len(outbox) == 2
