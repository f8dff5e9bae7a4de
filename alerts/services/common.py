"""What the alert services share: locking, the names of the tasks they enqueue, cache invalidation."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from alerts.models import OPEN_DELIVERY_STATUSES, Alert, Delivery, DeliveryStatus
from core.errors import ConflictError, NotFoundError

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

logger = logging.getLogger("alerts")

# The tasks the services enqueue, by their registered names (core.queue): services never import alerts.tasks.
FANOUT_START = "alerts.tasks.fanout_start"
SEND_BATCH = "alerts.tasks.send_batch"


def lock_alert(alert_id: int) -> Alert:
    """The alert row, locked for the rest of the transaction (state changes are serialised per alert)."""
    alert = Alert.objects.select_for_update(of=("self",)).filter(pk=alert_id).first()
    if alert is None:
        raise NotFoundError(_("Alert not found."), code="alert_not_found")
    return alert


def invalid_status(alert: Alert, action: StrOrPromise) -> ConflictError:
    return ConflictError(
        _("This alert cannot be %(action)s in its current status (%(status)s).")
        % {"action": action, "status": alert.get_status_display()},
        code="invalid_alert_status",
    )


def close_open_deliveries(*, alert_ids: list[int], reason: str) -> int:
    """Deliveries not yet sent will never be: final status failed, with the reason."""
    return Delivery.objects.filter(alert_id__in=alert_ids, status__in=OPEN_DELIVERY_STATUSES).update(
        status=DeliveryStatus.FAILED, last_error=reason, leased_until=None, next_attempt_at=None
    )


def invalidate_country_packs(codes: Iterable[str]) -> None:
    """The country packs (and their ETags) of these countries change: their current alerts did. Called inside
    the transaction; the countries app drops the cached packs once it commits."""
    try:
        from countries.services import country_packs_invalidate
    except ImportError:  # the country pack is not built yet
        return
    country_packs_invalidate(codes=[str(code) for code in codes])
