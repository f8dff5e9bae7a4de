"""The signed-in traveler's profile, data export and erasure."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from travelers.api.serializers import (
    ProfileOutputSerializer,
    ProfileUpdateInputSerializer,
    TravelerExportOutputSerializer,
)
from travelers.authentication import request_traveler
from travelers.services import traveler_erase, traveler_export, traveler_profile_update


class MeView(APIView):
    @extend_schema(tags=["profile"], operation_id="me_retrieve", responses={200: ProfileOutputSerializer})
    def get(self, request):
        return Response(ProfileOutputSerializer(request_traveler(request)).data)

    @extend_schema(
        tags=["profile"],
        operation_id="me_update",
        description="Changes the given fields only. Read-only fields (id, phone, created_at) in the body are "
        "ignored: the phone changes only by signing in with another phone.",
        request=ProfileUpdateInputSerializer,
        responses={
            200: ProfileOutputSerializer,
            400: OpenApiResponse(description="`validation_error`, `invalid_phone`"),
        },
    )
    def patch(self, request):
        serializer = ProfileUpdateInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        contact = data.get("emergency_contact", {})
        traveler = traveler_profile_update(
            traveler=request_traveler(request),
            full_name=data.get("full_name"),
            email=data.get("email"),
            language=data.get("language"),
            emergency_contact_name=contact.get("name"),
            emergency_contact_phone=contact.get("phone"),
            emergency_contact_relation=contact.get("relation"),
        )
        return Response(ProfileOutputSerializer(traveler).data)

    @extend_schema(
        tags=["profile"],
        operation_id="me_erase",
        summary="Erase the traveler and all their data",
        description="Deletes the profile, trips, devices, sign-in codes, replies to alerts and call-back "
        "requests. Every token of the traveler stops working at once.",
        responses={204: None},
    )
    def delete(self, request):
        traveler_erase(traveler=request_traveler(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeExportView(APIView):
    @extend_schema(
        tags=["profile"],
        operation_id="me_export",
        summary="Everything stored about the traveler",
        description="One JSON document: `profile`, `trips`, `devices`, `sessions`, `sign_in_codes` and the "
        "sections of the other apps (alert replies, call-back requests...).",
        responses={200: TravelerExportOutputSerializer},
    )
    def get(self, request):
        return Response(traveler_export(traveler=request_traveler(request)))
