"""core.queue: tasks enqueued by name on the real Redis broker, only once the transaction commits, and never an
exception when the broker is unreachable (a port where nothing listens)."""

import logging
import time

import pytest
from celery.exceptions import NotRegistered
from django.db import transaction

from config.celery import app as celery_app
from core import queue
from tests.broker import broker_unreachable

pytestmark = pytest.mark.django_db(transaction=True)  # real commits and rollbacks, no test transaction around

NAME = "tests.core.test_queue.record"


@celery_app.task(name=NAME)
def record(*args, **kwargs):  # never run here: the tests read the broker's queue
    return args, kwargs


@pytest.fixture(autouse=True)
def _fresh():
    queue.forget_recent()
    yield
    queue.forget_recent()


def test_enqueued_by_name_only_when_the_transaction_commits(broker_queue):
    with transaction.atomic():
        queue.enqueue_on_commit(NAME, 1, 2, kwargs={"to": "x"}, expires=300)
        assert broker_queue.messages() == []  # nothing before the commit
    (message,) = broker_queue.messages()
    assert (message.task, message.args, message.kwargs) == (NAME, [1, 2], {"to": "x"})
    assert message.expires is not None


def test_nothing_is_enqueued_when_the_transaction_rolls_back(broker_queue):
    with transaction.atomic():
        queue.enqueue_on_commit(NAME, 1)
        transaction.set_rollback(True)  # the write fails after the enqueue was asked for
    assert broker_queue.messages() == []


def test_outside_a_transaction_it_is_enqueued_at_once(broker_queue):
    queue.enqueue_on_commit(NAME, 7)
    assert broker_queue.tasks(NAME) == [[7]]


def test_options_reach_the_message(broker_queue):
    assert queue.enqueue(NAME, 3, countdown=30) is True
    (message,) = broker_queue.messages()
    assert message.args == [3]
    assert message.eta is not None


def test_an_unreachable_broker_never_raises_and_is_logged(broker_queue, caplog):
    started = time.monotonic()
    with broker_unreachable(), caplog.at_level(logging.WARNING, logger="core.queue"):
        assert queue.enqueue(NAME, 1) is False
        with transaction.atomic():  # the commit that asked for it stands
            queue.enqueue_on_commit(NAME, 2)
    assert time.monotonic() - started < 3  # one quick reconnect, not the default retry policy
    assert caplog.text.count(f"could not enqueue {NAME}") == 2
    assert "Connection refused" in caplog.text or "Error 111" in caplog.text
    assert broker_queue.messages() == []
    assert queue.enqueue(NAME, 3) is True  # and it works again once the broker is back
    assert broker_queue.tasks(NAME) == [[3]]


def test_at_most_every_sends_one_message_per_process_per_period(broker_queue):
    for _ in range(3):
        with transaction.atomic():
            queue.enqueue_on_commit(NAME, at_most_every=60)
    with transaction.atomic():
        queue.enqueue_on_commit(NAME, "other args", at_most_every=60)
    assert broker_queue.tasks(NAME) == [[], ["other args"]]


def test_a_rolled_back_transaction_does_not_use_up_the_period(broker_queue):
    with transaction.atomic():
        queue.enqueue_on_commit(NAME, at_most_every=60)
        transaction.set_rollback(True)
    with transaction.atomic():
        queue.enqueue_on_commit(NAME, at_most_every=60)
    assert broker_queue.tasks(NAME) == [[]]


def test_the_tasks_of_the_apps_are_found_by_name():
    assert queue.registered_task("alerts.tasks.fanout_start").name == "alerts.tasks.fanout_start"
    assert queue.registered_task("travelers.tasks.sms_send").name == "travelers.tasks.sms_send"
    with pytest.raises(NotRegistered):
        queue.registered_task("alerts.tasks.no_such_task")


def test_enqueue_many_sends_one_message_per_call_on_one_connection(broker_queue):
    assert queue.enqueue_many(NAME, [(1, 1, 5), (1, 6, 9)]) == 2
    assert broker_queue.tasks(NAME) == [[1, 1, 5], [1, 6, 9]]


def test_enqueue_many_raises_when_the_broker_is_unreachable(broker_queue):
    with broker_unreachable(), pytest.raises(Exception):  # noqa: B017, PT011 — kombu's or redis's error
        queue.enqueue_many(NAME, [(1, 1, 5)])
