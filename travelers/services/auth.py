"""Sign-in by a one-time SMS code, and the bearer tokens that follow.

Codes: six digits, stored only as HMAC-SHA256(SECRET_KEY, phone:code); a new code voids the phone's
earlier ones; a code works once, for OTP_TTL_SECONDS, and is void after OTP_MAX_ATTEMPTS wrong tries.
Tokens: opaque random strings, stored as SHA-256 digests (travelers.authentication). One sign-in is one
`session`; refreshing rotates the pair inside the session, and presenting an already rotated refresh token
again revokes the whole session (it leaked). Deleting a token row revokes it at once.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.errors import ApplicationError, UnauthorizedError
from core.queue import enqueue_on_commit
from travelers.authentication import token_digest
from travelers.models import AuthToken, OneTimeCode, Traveler

CODE_DIGITS = 6


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    access_expires_at: datetime
    refresh_expires_at: datetime


@dataclass(frozen=True)
class SignInResult:
    traveler: Traveler
    tokens: TokenPair
    created: bool


def code_hash(*, phone: str, code: str) -> str:
    return salted_hmac("travelers.otp", f"{phone}:{code}", algorithm="sha256").hexdigest()


@transaction.atomic
def otp_request(*, phone: str) -> str:
    """A new sign-in code for `phone` (E.164), sent by SMS once the transaction commits.

    Answers the same whether or not a traveler has this phone. Returns the code, which only tests use:
    the API never shows it.
    """
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    OneTimeCode.objects.filter(phone=phone).delete()
    OneTimeCode.objects.create(
        phone=phone,
        code_hash=code_hash(phone=phone, code=code),
        expires_at=timezone.now() + timedelta(seconds=settings.OTP_TTL_SECONDS),
    )
    # The Russian text is UCS-2 (70 characters a segment): it is kept to one segment. The code comes right
    # after the first ": " in every language (tests read it from there).
    minutes = max(1, settings.OTP_TTL_SECONDS // 60)
    body = ngettext(
        "Foreign Assistant sign-in code: %(code)s. It is valid for %(minutes)d minute. Do not share it.",
        "Foreign Assistant sign-in code: %(code)s. It is valid for %(minutes)d minutes. Do not share it.",
        minutes,
    ) % {"code": code, "minutes": minutes}
    # After commit, never raising: if the broker is down the traveler simply asks for a code again. The message
    # expires with the code, so a backlog never delivers codes that no longer work.
    enqueue_on_commit("travelers.tasks.sms_send", kwargs={"to": phone, "body": body}, expires=settings.OTP_TTL_SECONDS)
    return code


def sign_in(*, phone: str, code: str, device_platform: str = "", device_token: str = "") -> SignInResult:
    """Exchange a sign-in code for a token pair, creating the traveler on first sign-in.

    Errors (400): `invalid_code` (wrong, or no code was requested), `code_expired`, `code_locked` (the code
    took OTP_MAX_ATTEMPTS wrong tries and is void: ask for a new one). A wrong try is counted even though
    the request fails, so the check and the count commit before the error is raised. When a device
    (platform and push token) is given, it is attached to the traveler.
    """
    error: ApplicationError | None = None
    with transaction.atomic():
        otp = OneTimeCode.objects.select_for_update().filter(phone=phone).order_by("-created_at").first()
        if otp is None:
            error = ApplicationError(_("The code is wrong."), code="invalid_code", field="code")
        elif otp.attempts >= settings.OTP_MAX_ATTEMPTS:
            error = ApplicationError(
                _("Too many wrong codes were entered. Ask for a new code."), code="code_locked", field="code"
            )
        elif otp.expires_at <= timezone.now():
            error = ApplicationError(_("The code has expired. Ask for a new code."), code="code_expired", field="code")
        elif not constant_time_compare(otp.code_hash, code_hash(phone=phone, code=code)):
            OneTimeCode.objects.filter(pk=otp.pk).update(attempts=F("attempts") + 1)
            error = ApplicationError(_("The code is wrong."), code="invalid_code", field="code")
        else:
            OneTimeCode.objects.filter(phone=phone).delete()  # a code works once
            traveler, created = Traveler.objects.get_or_create(phone=phone)
            Traveler.objects.filter(pk=traveler.pk).update(last_seen_at=timezone.now())
            if device_platform and device_token:
                from travelers.services.devices import device_attach

                device_attach(traveler=traveler, platform=device_platform, token=device_token)
            result = SignInResult(traveler=traveler, tokens=token_pair_issue(traveler=traveler), created=created)
    if error is not None:
        raise error
    return result


@transaction.atomic
def token_pair_issue(*, traveler: Traveler, session: uuid.UUID | None = None) -> TokenPair:
    """A new access + refresh token (for a new sign-in session unless `session` is given)."""
    now = timezone.now()
    session = session or uuid.uuid4()
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


def _invalid_refresh() -> UnauthorizedError:
    return UnauthorizedError(
        _("The refresh token is invalid, expired or revoked. Sign in again."), code="invalid_token"
    )


def token_refresh(*, refresh: str) -> TokenPair:
    """Rotate: a valid refresh token gives a new pair in the same session; the old access token is revoked
    and the old refresh token is kept as `rotated` until it expires. Presenting a rotated token again
    revokes the session (401 `invalid_token`, as for unknown, expired or revoked tokens)."""
    with transaction.atomic():
        row = (
            AuthToken.objects.select_for_update()
            .select_related("traveler")
            .filter(digest=token_digest(refresh), kind__in=[AuthToken.Kind.REFRESH, AuthToken.Kind.ROTATED])
            .first()
        )
        if row is not None and row.expires_at > timezone.now():
            if row.kind == AuthToken.Kind.ROTATED:
                AuthToken.objects.filter(session=row.session).delete()  # committed before the 401 below
            else:
                AuthToken.objects.filter(session=row.session, kind=AuthToken.Kind.ACCESS).delete()
                AuthToken.objects.filter(pk=row.pk).update(kind=AuthToken.Kind.ROTATED)
                Traveler.objects.filter(pk=row.traveler_id).update(last_seen_at=timezone.now())
                return token_pair_issue(traveler=row.traveler, session=row.session)
    # One answer for unknown, expired, revoked and reused tokens: the caller learns nothing more.
    raise _invalid_refresh()


@transaction.atomic
def session_revoke(*, token: AuthToken) -> int:
    """Sign out: every token of the sign-in session that `token` belongs to stops working at once."""
    deleted, _by_model = AuthToken.objects.filter(session=token.session).delete()
    return deleted
