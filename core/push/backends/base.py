"""The base class of the push backends, as django.core.mail.backends.base.BaseEmailBackend is for e-mail."""

from __future__ import annotations

from core.push import PushMessage, PushResult


class BasePushBackend:
    """`send_batch` returns one `PushResult` per message, in the order of the messages, and never raises for a
    per-message failure. One instance per process (`core.push.get_backend`): a backend may keep connections
    open, and releases them in `close`."""

    def send_batch(self, messages: list[PushMessage]) -> list[PushResult]:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections (`core.push.reset_backends`); nothing to do for most backends."""


def message_record(message: PushMessage) -> dict:
    """What the console and file backends write of a message."""
    return {
        "platform": message.platform,
        "token": message.token,
        "collapse_id": message.collapse_id,
        "title": message.title,
        "body": message.body,
        "data": message.data,
    }
