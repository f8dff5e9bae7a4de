"""The base class of the SMS backends, as django.core.mail.backends.base.BaseEmailBackend is for e-mail."""

from __future__ import annotations

from core.sms import SmsMessage


class BaseSmsBackend:
    """One instance per process (`core.sms.get_backend`). `send` raises `core.sms.SmsError` when the message
    was not accepted."""

    def send(self, message: SmsMessage) -> str:
        """Send one message; return the provider's message id (or "" when there is none)."""
        raise NotImplementedError
