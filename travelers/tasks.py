"""Celery tasks of the travelers app: thin, each calls one service and owns its retry policy."""

from __future__ import annotations

import logging

from celery import shared_task

from core.sms import SmsError, send_sms
from travelers import services

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=4, soft_time_limit=30, time_limit=60)
def sms_send(self, *, to: str, body: str) -> None:
    """Send one text message (a sign-in code). The code is only in the message, never in the database, so this
    task takes the text itself rather than an id; it is enqueued with `expires` equal to the code's lifetime.
    Transient provider errors are retried with a short backoff; a permanent refusal is logged and dropped
    (the traveler can ask for a new code). At worst a retry after a lost acknowledgement sends the same code
    twice, which is harmless."""
    try:
        send_sms(to=to, body=body)
    except SmsError as exc:
        if not exc.retryable:
            logger.error("sms to %s*** refused: %s", to[:4], exc)
            return
        countdown = exc.retry_after or 5 * 2**self.request.retries
        logger.warning("sms to %s*** failed, retry %d in %ss: %s", to[:4], self.request.retries + 1, countdown, exc)
        raise self.retry(exc=exc, countdown=min(countdown, 60)) from exc


@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1900)
def retention_purge() -> dict[str, int]:
    """Daily (CELERY_BEAT_SCHEDULE "travelers-retention-purge"); idempotent."""
    result = services.retention_purge()
    logger.info("retention purge: %s", result)
    return {"trips": result.trips, "devices": result.devices, "codes": result.codes, "tokens": result.tokens}
