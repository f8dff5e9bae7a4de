"""Tasks: the push on claim and close (enqueued on commit to the real broker, then run), expiry, retries."""

import base64
import datetime as dt
import json

import pytest
import redis
import time_machine
from celery.exceptions import Retry
from django.conf import settings
from django.test import override_settings

from callbacks import tasks
from callbacks.models import CallbackRequest, Outcome, Status
from callbacks.services import (
    callback_attempt_record,
    callback_request_cancel,
    callback_request_claim_next,
    callback_request_create,
)
from tests.factories.callbacks import CallbackRequestFactory
from tests.factories.travelers import DeviceFactory, TravelerFactory
from travelers.models import Device
from travelers.push import PushResult, PushStatus, reset_backends

pytestmark = pytest.mark.django_db
QUEUE = "celery"


@pytest.fixture
def broker():
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(QUEUE)
    yield client
    client.delete(QUEUE)


def enqueued(broker) -> list[tuple[str, list]]:
    """The tasks waiting in the broker, oldest first, as (name, args)."""
    out = []
    for raw in reversed(broker.lrange(QUEUE, 0, -1)):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        out.append((message["headers"]["task"], args))
    return out


def run_enqueued(broker) -> None:
    for name, args in enqueued(broker):
        assert name == "callbacks.tasks.push_status_update"
        tasks.push_status_update.apply(args=args).get()
    broker.delete(QUEUE)


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
    with django_capture_on_commit_callbacks(execute=False) as pending:
        callback_request_claim_next(staff=staff, mission=embassy)
    assert enqueued(broker) == []  # nothing before the commit
    for callback in pending:
        callback()
    assert enqueued(broker) == [("callbacks.tasks.push_status_update", [[request.pk], "in_progress"])]
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


@pytest.mark.parametrize(
    ("outcomes", "status"),
    [(["completed"], "completed"), (["no_answer", "busy", "no_answer"], "unreachable")],
)
def test_closing_pushes_the_final_status(
    caller, staff, embassy, broker, outbox, django_capture_on_commit_callbacks, outcomes, status
):
    request = callback_request_create(traveler=caller, country="AM", topic="other")
    for n, outcome in enumerate(outcomes):
        with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(hours=n)):
            taken = callback_request_claim_next(staff=staff, mission=embassy)
            with django_capture_on_commit_callbacks(execute=True):
                callback_attempt_record(request=taken, staff=staff, outcome=outcome)
    run_enqueued(broker)
    assert {m.data["status"] for m in outbox} == {status}
    assert len(outbox) == 2
    assert all(m.data["callback_id"] == str(request.pk) for m in outbox)


@pytest.mark.parametrize("outcome", [Outcome.NO_ANSWER, Outcome.RELEASED])
def test_no_push_while_the_request_stays_open(
    caller, staff, embassy, broker, outcome, django_capture_on_commit_callbacks
):
    callback_request_create(traveler=caller, country="AM", topic="other")
    taken = callback_request_claim_next(staff=staff, mission=embassy)
    with django_capture_on_commit_callbacks(execute=True):
        callback_attempt_record(request=taken, staff=staff, outcome=outcome)
    assert enqueued(broker) == []


def test_no_push_when_the_traveler_cancels(caller, broker, django_capture_on_commit_callbacks):
    request = callback_request_create(traveler=caller, country="AM", topic="other")
    with django_capture_on_commit_callbacks(execute=True):
        callback_request_cancel(traveler=caller, request_id=request.pk)
    assert enqueued(broker) == []


def test_expire_stale_task_expires_and_pushes(caller, embassy, broker, outbox, django_capture_on_commit_callbacks):
    now = dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC)
    old = CallbackRequestFactory(traveler=caller, mission=embassy, country=embassy.country, queued_at=now)
    with time_machine.travel(now + dt.timedelta(hours=49), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.expire_stale.apply().get() == 1
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.expire_stale.apply().get() == 0  # safe to run twice
    old.refresh_from_db()
    assert old.status == Status.EXPIRED
    assert enqueued(broker) == [("callbacks.tasks.push_status_update", [[old.pk], "expired"])]
    run_enqueued(broker)
    assert {m.data["status"] for m in outbox} == {"expired"}


def test_push_for_a_traveler_without_devices_does_nothing(embassy, outbox):
    request = CallbackRequestFactory(mission=embassy, country=embassy.country)
    tasks.push_status_update.apply(args=[[request.pk], "completed"]).get()
    assert outbox == []


def test_push_for_a_deleted_request_does_nothing(outbox, db):
    tasks.push_status_update.apply(args=[[987654], "completed"]).get()
    assert outbox == []


# --- provider answers: dead tokens are deactivated, transient failures retried ----------------------------------


class ScriptedBackend:
    """A provider double at the backend interface: answers by token prefix (dead-*, busy-*, else sent)."""

    sent: list = []
    invalid_since = None

    def send_batch(self, messages):
        ScriptedBackend.sent.extend(messages)
        return [
            PushResult(PushStatus.INVALID_TOKEN, invalid_since=self.invalid_since)
            if m.token.startswith(("dead-", "stale-"))
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


def test_dead_tokens_are_deactivated(embassy, scripted):
    request = CallbackRequestFactory(mission=embassy, country=embassy.country)
    dead = DeviceFactory(traveler=request.traveler, token="dead-1")
    alive = DeviceFactory(traveler=request.traveler, token="ok-1")
    tasks.push_status_update.apply(args=[[request.pk], "completed"]).get()
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.is_active, dead.deactivated_reason) == (False, "push provider: token unregistered or invalid")
    assert alive.is_active


def test_a_token_registered_again_after_it_died_is_kept(embassy, scripted):
    request = CallbackRequestFactory(mission=embassy, country=embassy.country)
    device = DeviceFactory(traveler=request.traveler, token="stale-1")
    ScriptedBackend.invalid_since = device.last_seen_at - dt.timedelta(minutes=1)
    try:
        tasks.push_status_update.apply(args=[[request.pk], "completed"]).get()
    finally:
        ScriptedBackend.invalid_since = None
    device.refresh_from_db()
    assert device.is_active


def test_transient_failures_are_retried_for_those_requests_only(embassy, scripted):
    busy = CallbackRequestFactory(mission=embassy, country=embassy.country)
    fine = CallbackRequestFactory(mission=embassy, country=embassy.country)
    DeviceFactory(traveler=busy.traveler, token="busy-1")
    DeviceFactory(traveler=fine.traveler, token="ok-2")
    with pytest.raises(Retry) as retry:
        tasks.push_status_update.apply(args=[[busy.pk, fine.pk], "expired"])
    assert sorted(m.token for m in scripted.sent) == ["busy-1", "ok-2"]
    assert tuple(retry.value.sig.args) == ([busy.pk], "expired")  # only the request the provider deferred
    assert retry.value.when == 30
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


def test_a_claim_succeeds_when_the_broker_is_down(
    caller, staff, embassy, broker_down, caplog, django_capture_on_commit_callbacks
):
    import time

    request = callback_request_create(traveler=caller, country="AM", topic="other")
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        claimed = callback_request_claim_next(staff=staff, mission=embassy)
    assert time.monotonic() - started < 3  # no publish retries holding up the staff member
    assert claimed.pk == request.pk
    assert CallbackRequest.objects.get(pk=request.pk).status == Status.IN_PROGRESS
    assert "enqueue_push" in caplog.text
    assert "Connection refused" in caplog.text or "Error 111" in caplog.text
