"""Push devices: register (anonymous or signed in) and unregister. The push token is the device's secret."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from travelers.api.serializers import (
    DeviceOutputSerializer,
    DeviceRegisterInputSerializer,
    DeviceUnregisterInputSerializer,
)
from travelers.api.throttles import DeviceAddressRateThrottle
from travelers.models import Traveler
from travelers.services import device_register, device_unregister


class DeviceRegisterView(APIView):
    # Public, but a valid bearer token (when sent) makes the device the traveler's; an invalid one is a 401.
    permission_classes = [AllowAny]
    throttle_classes = [DeviceAddressRateThrottle]

    @extend_schema(
        tags=["devices"],
        operation_id="devices_register",
        summary="Register or update a push device",
        description="201 when the platform and token are new, 200 when they update an existing device. "
        "`subscriptions` replace the device's set of countries (omitted: unchanged). Anonymous devices hear "
        "about their subscribed countries only; a device registered with a bearer token belongs to that "
        "traveler and also hears about their trips.",
        request=DeviceRegisterInputSerializer,
        responses={
            200: DeviceOutputSerializer,
            201: DeviceOutputSerializer,
            400: OpenApiResponse(description="`unknown_country`, `validation_error`"),
            429: OpenApiResponse(description="`throttled`, with a Retry-After header"),
        },
    )
    def post(self, request):
        serializer = DeviceRegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        device, created = device_register(
            platform=data["platform"],
            token=data["token"],
            locale=data.get("locale"),
            app_version=data.get("app_version"),
            subscriptions=data.get("subscriptions"),
            traveler=request.user if isinstance(request.user, Traveler) else None,
        )
        return Response(
            DeviceOutputSerializer(device).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class DeviceUnregisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [DeviceAddressRateThrottle]

    @extend_schema(
        tags=["devices"],
        operation_id="devices_unregister",
        summary="Forget a push device",
        description="Deletes the device with this platform and token, and its subscriptions.",
        request=DeviceUnregisterInputSerializer,
        responses={204: None, 404: OpenApiResponse(description="`device_not_found`")},
    )
    def post(self, request):
        serializer = DeviceUnregisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        device_unregister(platform=serializer.validated_data["platform"], token=serializer.validated_data["token"])
        return Response(status=status.HTTP_204_NO_CONTENT)
