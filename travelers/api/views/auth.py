"""Sign-in by phone: ask for a code, exchange it for tokens, refresh them, sign out."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from travelers.api.serializers import (
    LogoutInputSerializer,
    OtpRequestInputSerializer,
    OtpRequestOutputSerializer,
    TokenObtainInputSerializer,
    TokenObtainOutputSerializer,
    TokenPairOutputSerializer,
    TokenRefreshInputSerializer,
)
from travelers.api.throttles import OtpAddressRateThrottle, OtpPhoneRateThrottle, TokenAddressRateThrottle
from travelers.authentication import request_traveler
from travelers.services import otp_request, session_revoke, sign_in, token_refresh
from travelers.services.devices import device_detach

TOO_MANY = OpenApiResponse(description="`throttled`, with a Retry-After header")


def _pair(tokens) -> dict:
    return {
        "token_type": "Bearer",
        "access": tokens.access,
        "refresh": tokens.refresh,
        "access_expires_at": tokens.access_expires_at,
        "refresh_expires_at": tokens.refresh_expires_at,
    }


class OtpRequestView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [OtpAddressRateThrottle, OtpPhoneRateThrottle]

    @extend_schema(
        tags=["sign-in"],
        operation_id="auth_otp_request",
        summary="Send a sign-in code by SMS",
        description="Answers 202 whether or not a traveler has this phone. At most THROTTLE_OTP_PHONE codes per "
        "phone and THROTTLE_OTP_ADDRESS requests per client address (429 `throttled` with Retry-After).",
        request=OtpRequestInputSerializer,
        responses={
            202: OtpRequestOutputSerializer,
            400: OpenApiResponse(description="`invalid_phone`"),
            429: TOO_MANY,
        },
    )
    def post(self, request):
        serializer = OtpRequestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        otp_request(phone=serializer.validated_data["phone"])
        return Response({"expires_in": settings.OTP_TTL_SECONDS}, status=status.HTTP_202_ACCEPTED)


class TokenObtainView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [TokenAddressRateThrottle]

    @extend_schema(
        tags=["sign-in"],
        operation_id="auth_token_obtain",
        summary="Exchange the SMS code for bearer tokens",
        description="Creates the traveler on the first sign-in. With `device`, that push device is attached to "
        "the traveler (and registered if it was not).",
        request=TokenObtainInputSerializer,
        responses={
            200: TokenObtainOutputSerializer,
            400: OpenApiResponse(description="`invalid_phone`, `invalid_code`, `code_expired`, `code_locked`"),
            429: TOO_MANY,
        },
    )
    def post(self, request):
        serializer = TokenObtainInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        device = data.get("device") or {}
        result = sign_in(
            phone=data["phone"],
            code=data["code"],
            device_platform=device.get("platform", ""),
            device_token=device.get("token", ""),
        )
        body = _pair(result.tokens) | {"traveler_id": result.traveler.pk, "created": result.created}
        return Response(TokenObtainOutputSerializer(body).data)


class TokenRefreshView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [TokenAddressRateThrottle]

    @extend_schema(
        tags=["sign-in"],
        operation_id="auth_token_refresh",
        summary="Rotate the token pair",
        description="The old access token is revoked and the refresh token can be used once: using it again "
        "revokes the whole session.",
        request=TokenRefreshInputSerializer,
        responses={200: TokenPairOutputSerializer, 401: OpenApiResponse(description="`invalid_token`"), 429: TOO_MANY},
    )
    def post(self, request):
        serializer = TokenRefreshInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tokens = token_refresh(refresh=serializer.validated_data["refresh"])
        return Response(TokenPairOutputSerializer(_pair(tokens)).data)


class LogoutView(APIView):
    @extend_schema(
        tags=["sign-in"],
        operation_id="auth_logout",
        summary="Sign out",
        description="Revokes the access and refresh tokens of this sign-in at once. With `device`, that device "
        "stops belonging to the traveler (it keeps its country subscriptions).",
        request=LogoutInputSerializer,
        responses={204: None, 401: OpenApiResponse(description="`not_authenticated`, `invalid_token`")},
    )
    def post(self, request):
        serializer = LogoutInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        device = serializer.validated_data.get("device")
        if device:
            device_detach(traveler=request_traveler(request), platform=device["platform"], token=device["token"])
        session_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)
