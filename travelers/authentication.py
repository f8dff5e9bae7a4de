"""Bearer-token authentication for travelers. Tokens are opaque; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from travelers.models import AuthToken, Traveler


def request_traveler(request) -> Traveler:
    """The traveler a bearer-token request is for (the views that call this require authentication)."""
    user = request.user
    if not isinstance(user, Traveler):
        raise exceptions.NotAuthenticated()
    return user


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class BearerTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid Authorization header."), code="invalid_token")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(_("Invalid token."), code="invalid_token") from exc
        token = (
            AuthToken.objects.select_related("traveler")
            .filter(digest=token_digest(raw), kind=AuthToken.Kind.ACCESS, expires_at__gt=timezone.now())
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed(_("The token is invalid, expired or revoked."), code="invalid_token")
        return token.traveler, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}
