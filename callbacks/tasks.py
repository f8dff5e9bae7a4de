"""Call-back tasks: thin, idempotent, each calling one service."""

from __future__ import annotations

from celery import shared_task

from callbacks import notifications, services


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def send_notices() -> int:
    """Push pending "taken" / "closed" notices. Kicked about a second after a change is committed, and
    periodic (CELERY_BEAT_SCHEDULE) as the sweep that retries what a provider deferred or a lost message
    missed. Safe to run twice, also concurrently: a repeated notice replaces itself on the phone."""
    return notifications.callback_notices_send()


@shared_task(acks_late=True, soft_time_limit=240, time_limit=280)
def expire_stale() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): close requests waiting longer than CALLBACK_EXPIRE_HOURS."""
    return services.callback_requests_expire_stale()


@shared_task(acks_late=True, soft_time_limit=240, time_limit=280)
def release_stale_claims() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): give back requests in progress longer than CALLBACK_CLAIM_TIMEOUT_MINUTES."""
    return services.callback_claims_release_stale()
