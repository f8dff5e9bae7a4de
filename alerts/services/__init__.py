"""Alert services: every rule about alerts lives in exactly one function here.

compose     drafts, audience preview, four-eyes approval, corrections
audience    the four-eyes count, the freeze of the audience into deliveries (run by the kickoff)
lifecycle   publish (now or scheduled), cancel, expire
fanout      kickoff (freeze, then id ranges), batch send, outcome recording, retries
monitoring  sweeper and self-check
replies     "I am safe" / "I need help"
"""

from alerts.services.audience import alert_audience_freeze
from alerts.services.compose import (
    EDITABLE_FIELDS,
    AudiencePreview,
    alert_approve,
    alert_audience_preview,
    alert_create,
    alert_supersede,
    alert_update,
    alert_validate,
    approval_required,
)
from alerts.services.fanout import BatchReport, alert_fanout_start, delivery_batch_send, delivery_ranges
from alerts.services.lifecycle import (
    alert_cancel,
    alert_expire_due,
    alert_publish,
    alert_publish_due,
)
from alerts.services.monitoring import SweepReport, alert_self_check, alerts_health_check, alerts_sweep, stuck_alerts
from alerts.services.replies import safety_reply_submit

__all__ = [
    "EDITABLE_FIELDS",
    "AudiencePreview",
    "BatchReport",
    "SweepReport",
    "alert_approve",
    "alert_audience_freeze",
    "alert_audience_preview",
    "alert_cancel",
    "alert_create",
    "alert_expire_due",
    "alert_fanout_start",
    "alert_publish",
    "alert_publish_due",
    "alert_self_check",
    "alert_supersede",
    "alert_update",
    "alert_validate",
    "alerts_health_check",
    "alerts_sweep",
    "approval_required",
    "delivery_batch_send",
    "delivery_ranges",
    "safety_reply_submit",
    "stuck_alerts",
]
