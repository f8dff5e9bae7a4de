"""The push message of an alert: in the device's language, with no personal data of anyone.

The payload carries the alert id, its severity and category, the title and the text, and the collapse id (the
alert's own id, or the id of the alert a correction replaces), nothing about the traveler or the device.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from alerts.models import Alert
from core.errors import ApplicationError
from core.push import MAX_PAYLOAD_BYTES, PushMessage, payload_size

LANGUAGES = ("ru", "en")
# The longest token a provider hands out is ~200 characters; it is not part of the payload limit anyway.
_SAMPLE_TOKEN = "x" * 200


def device_language(locale: str) -> str:
    return locale if locale in LANGUAGES else "ru"


def alert_push_message(*, alert: Alert, language: str, platform: str, token: str) -> PushMessage:
    return PushMessage(
        platform=platform,
        token=token,
        collapse_id=alert.collapse_id or str(alert.pk),
        title=alert.title_in(language),
        body=alert.text_in(language),
        data={
            "type": "alert",
            "alert_id": str(alert.pk),
            "severity": alert.severity,
            "category": alert.category,
        },
        expires_at=alert.expires_at,
    )


def alert_payload_check(*, alert: Alert) -> None:
    """Refuse an alert whose push would be larger than the providers accept (checked before any fan-out:
    a payload error answer must never be mistaken for a dead token)."""
    for language in LANGUAGES:
        for platform in ("android", "ios"):
            message = alert_push_message(alert=alert, language=language, platform=platform, token=_SAMPLE_TOKEN)
            size = payload_size(message)
            if size > MAX_PAYLOAD_BYTES:
                raise ApplicationError(
                    _(
                        "The push notification would be %(size)d bytes; providers accept at most %(limit)d. "
                        "Shorten the title or the text."
                    )
                    % {"size": size, "limit": MAX_PAYLOAD_BYTES},
                    code="payload_too_large",
                    field=f"text_{language}",
                )
