"""Call-back tasks: thin, idempotent, each calling one service."""

from __future__ import annotations

from celery import shared_task

from callbacks import notifications, services


@shared_task(
    acks_late=True,
    bind=True,
    max_retries=5,
    soft_time_limit=60,
    time_limit=90,
)
def push_status_update(self, request_ids: list[int], status: str) -> None:
    """Push "taken" / "closed" to the travelers' devices; retried (with backoff) only where the provider asked.

    Safe to run twice: the notice has a per-request collapse id, so a repeat replaces itself on the phone.
    """
    retry = notifications.callback_push_status(request_ids=request_ids, status=status)
    if retry:
        raise self.retry(args=(retry, status), countdown=min(600, 30 * 2**self.request.retries))


@shared_task(acks_late=True, soft_time_limit=240, time_limit=280)
def expire_stale() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): close requests waiting longer than CALLBACK_EXPIRE_HOURS."""
    return services.callback_requests_expire_stale()
