"""Traveler API of alerts: thin views, one per operation. Rules live in alerts.services and alerts.selectors."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.api.serializers import (
    AlertListQueryInputSerializer,
    AlertOutputSerializer,
    MyAlertOutputSerializer,
    SafetyReplyInputSerializer,
    SafetyReplyOutputSerializer,
)
from alerts.models import Alert
from alerts.selectors import active_alerts, public_alert_get, traveler_alerts
from alerts.services import safety_reply_submit
from travelers.authentication import request_traveler


@extend_schema(
    tags=["alerts"],
    parameters=[OpenApiParameter("country", str, required=True, description="ISO alpha-2 code, e.g. AM")],
    summary="Current alerts of a country, in the request's language",
)
class AlertListView(generics.ListAPIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    serializer_class = AlertOutputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Alert.objects.none()
        query = AlertListQueryInputSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return active_alerts(country_code=query.validated_data["country"])


@extend_schema(tags=["alerts"], summary="A published alert (current, cancelled or expired)")
class AlertDetailView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses=AlertOutputSerializer)
    def get(self, request, alert_id: int):
        return Response(AlertOutputSerializer(public_alert_get(alert_id=alert_id)).data)


@extend_schema(tags=["alerts"], summary="The alerts that reached the signed-in traveler, with their replies")
class MyAlertListView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = MyAlertOutputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Alert.objects.none()
        return traveler_alerts(traveler=request_traveler(self.request))


@extend_schema(tags=["alerts"], summary="Answer an alert: safe or need help (a new answer replaces the last)")
class AlertReplyView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=SafetyReplyInputSerializer, responses={200: SafetyReplyOutputSerializer})
    def post(self, request, alert_id: int):
        data = SafetyReplyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reply = safety_reply_submit(traveler=request_traveler(request), alert_id=alert_id, **data.validated_data)
        return Response(SafetyReplyOutputSerializer(reply).data, status=status.HTTP_200_OK)
