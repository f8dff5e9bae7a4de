"""Writes and rules about travelers. (The travelers work fills this module in.)"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from travelers.authentication import token_digest
from travelers.models import AuthToken, Traveler


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    access_expires_at: object
    refresh_expires_at: object


@transaction.atomic
def token_pair_issue(*, traveler: Traveler) -> TokenPair:
    """A new access + refresh token for one sign-in session; only their digests are stored."""
    now = timezone.now()
    session = uuid.uuid4()
    access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    access_exp, refresh_exp = now + settings.ACCESS_TOKEN_TTL, now + settings.REFRESH_TOKEN_TTL
    AuthToken.objects.bulk_create(
        [
            AuthToken(
                digest=token_digest(access),
                traveler=traveler,
                kind=AuthToken.Kind.ACCESS,
                session=session,
                expires_at=access_exp,
            ),
            AuthToken(
                digest=token_digest(refresh),
                traveler=traveler,
                kind=AuthToken.Kind.REFRESH,
                session=session,
                expires_at=refresh_exp,
            ),
        ]
    )
    return TokenPair(access, refresh, access_exp, refresh_exp)
