"""Celery tasks of the alerts app: thin. They take ids, call one service and own only the retry policy.

Every task runs with acks_late (a message is acknowledged when the task is done, so a killed worker's task
is delivered again) and is safe to run twice. The periodic ones are named in CELERY_BEAT_SCHEDULE and expire
before their next run, so a backlog of them (workers down for an hour) does not replay an hour of sweeps.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from alerts import services

# A database outage makes a task wait and try again instead of failing: its rows stay in PostgreSQL.
DB_RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 20,
}
# A batch must end (or be killed) before its lease on the rows runs out, or another batch could take them.
BATCH_SOFT_LIMIT = max(10, settings.ALERT_LEASE_SECONDS - 10)
# A sweep that waited in the queue past the next one is dropped (ALERT_SWEEP_INTERVAL_SECONDS, 60 by default).
SWEEP_EXPIRES = max(1.0, settings.CELERY_BEAT_SCHEDULE["alerts-sweep"]["schedule"].total_seconds() * 0.9)


@shared_task(name="alerts.tasks.fanout_start", acks_late=True, **DB_RETRY)
def fanout_start(alert_id: int) -> int:
    return services.alert_fanout_start(alert_id=alert_id)


@shared_task(
    bind=True,
    name="alerts.tasks.send_batch",
    acks_late=True,
    soft_time_limit=BATCH_SOFT_LIMIT,
    time_limit=BATCH_SOFT_LIMIT + 5,
    **DB_RETRY,
)
def send_batch(self, alert_id: int, first_id: int, last_id: int) -> int:
    return services.delivery_batch_send(
        alert_id=alert_id, first_id=first_id, last_id=last_id, owner=self.request.id
    ).sent


@shared_task(name="alerts.tasks.publish_due", acks_late=True, expires=25)
def publish_due() -> list[int]:
    return services.alert_publish_due()


@shared_task(name="alerts.tasks.expire_due", acks_late=True, expires=55)
def expire_due() -> list[int]:
    return services.alert_expire_due()


@shared_task(name="alerts.tasks.sweep", acks_late=True, expires=SWEEP_EXPIRES)
def sweep() -> dict:
    report = services.alerts_sweep()
    return {"kickoffs": report.kickoffs, "requeued": report.requeued, "completed": report.completed}


@shared_task(name="alerts.tasks.self_check", acks_late=True, expires=240)
def self_check() -> list[int]:
    return services.alert_self_check()
