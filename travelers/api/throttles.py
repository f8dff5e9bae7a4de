"""Rate limits of the sign-in and device endpoints, counted in the shared cache (Redis) so that they hold
across every server process.

DRF's SimpleRateThrottle keeps a list of timestamps under one key and rewrites it (read-modify-write), so
two processes can both let the N+1st request through. `SlotRateThrottle` keeps N "slot" keys per client
instead and takes one with `cache.add` (Redis SET NX with the window as expiry): taking a slot is atomic, a
slot frees itself exactly one window after it was taken, so at most N requests pass in any rolling window.
"""

from __future__ import annotations

import hashlib
import math

from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import SimpleRateThrottle

from travelers.api.serializers import phone_e164

MAX_SLOTS = 1000  # one multi-get of this many keys per request is still well under a millisecond in Redis


class SlotRateThrottle(SimpleRateThrottle):
    # Set by SimpleRateThrottle.__init__ from `rate` (both None when the rate is None; never read then).
    num_requests: int
    duration: int

    def __init__(self) -> None:
        super().__init__()
        if self.num_requests is not None and self.num_requests > MAX_SLOTS:
            raise ImproperlyConfigured(
                f"{type(self).__name__}: at most {MAX_SLOTS} requests per window (got {self.rate})."
            )

    def _slot_keys(self) -> list[str]:
        return [f"{self.key}:{slot}" for slot in range(self.num_requests)]

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        keys = self._slot_keys()
        taken = self.cache.get_many(keys)
        self.now = self.timer()
        for key in keys:
            if key not in taken and self.cache.add(key, self.now, self.duration):
                return True
        self.history = sorted(taken.values(), reverse=True)
        return self.throttle_failure()

    def wait(self) -> float:
        """Seconds until the oldest slot frees (at least one)."""
        oldest = min(self.history) if self.history else self.now
        return max(1.0, math.ceil(self.duration - (self.now - oldest)))


class AddressRateThrottle(SlotRateThrottle):
    """Per client address (REMOTE_ADDR, or X-Forwarded-For behind DJANGO_NUM_PROXIES proxies)."""

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class OtpAddressRateThrottle(AddressRateThrottle):
    scope = "otp_address"


class TokenAddressRateThrottle(AddressRateThrottle):
    scope = "token_address"


class DeviceAddressRateThrottle(AddressRateThrottle):
    scope = "devices_address"


class OtpPhoneRateThrottle(SlotRateThrottle):
    """Per phone number, keyed on its E.164 form ("+374 10 123-456" and "+37410123456" are one phone) and
    hashed, so the cache never holds phone numbers. Unparsable numbers are not counted: the view rejects
    them with `invalid_phone`."""

    scope = "otp_phone"

    def get_cache_key(self, request, view) -> str | None:
        e164 = phone_e164(request.data.get("phone") if hasattr(request.data, "get") else None)
        if e164 is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": hashlib.sha256(e164.encode()).hexdigest()[:40]}
