"""The signed-in traveler's trips. Another traveler's trip is a 404, never a 403."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from core.exceptions import NotFoundError
from travelers.api.serializers import TripInputSerializer, TripOutputSerializer
from travelers.authentication import request_traveler
from travelers.models import Trip
from travelers.selectors import trip_list_for_traveler
from travelers.services import CompanionInput, LegInput, trip_delete, trip_register, trip_update

TRIP_ERRORS = OpenApiResponse(
    description="problem+json with the field in `errors`; `code` one of `legs_required`, `too_many_legs`, "
    "`end_before_start`, `legs_out_of_order`, `trip_in_past`, `trip_too_long`, `unknown_country`, "
    "`too_many_companions`, `validation_error`"
)


def _service_arguments(data: dict) -> dict:
    """Validated input -> keyword arguments of trip_register/trip_update (absent parts stay absent)."""
    arguments: dict = {}
    if "legs" in data:
        arguments["legs"] = [
            LegInput(
                country=leg["country"],
                start_date=leg["start_date"],
                end_date=leg["end_date"],
                cities=leg.get("cities", []),
            )
            for leg in data["legs"]
        ]
    if "companions" in data:
        arguments["companions"] = [
            CompanionInput(name=companion["name"], relation=companion.get("relation", ""))
            for companion in data["companions"]
        ]
    for name in ("accommodation", "notes"):
        if name in data:
            arguments[name] = data[name]
    return arguments


class TripListCreateView(GenericAPIView):
    serializer_class = TripOutputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no traveler
            return Trip.objects.none()
        return trip_list_for_traveler(traveler=request_traveler(self.request))

    def _output(self, trips) -> list | dict:
        context = {"today": timezone.localdate()}
        return TripOutputSerializer(trips, many=not isinstance(trips, Trip), context=context).data

    @extend_schema(tags=["trips"], operation_id="trips_list", responses={200: TripOutputSerializer(many=True)})
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self._output(page))

    @extend_schema(
        tags=["trips"],
        operation_id="trips_create",
        request=TripInputSerializer,
        responses={201: TripOutputSerializer, 400: TRIP_ERRORS},
    )
    def post(self, request):
        serializer = TripInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        trip = trip_register(traveler=request_traveler(request), **_service_arguments(serializer.validated_data))
        trip = self.get_queryset().get(pk=trip.pk)
        return Response(self._output(trip), status=status.HTTP_201_CREATED)


class TripDetailView(GenericAPIView):
    serializer_class = TripOutputSerializer

    def get_object(self) -> Trip:
        trip = trip_list_for_traveler(traveler=request_traveler(self.request)).filter(pk=self.kwargs["pk"]).first()
        if trip is None:
            raise NotFoundError()
        return trip

    def _output(self, trip: Trip) -> dict:
        return TripOutputSerializer(trip, context={"today": timezone.localdate()}).data

    def _update(self, request, *, partial: bool) -> Response:
        trip = self.get_object()
        serializer = TripInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        trip_update(trip=trip, **_service_arguments(serializer.validated_data))
        return Response(self._output(self.get_object()))

    @extend_schema(
        tags=["trips"], operation_id="trips_retrieve", responses={200: TripOutputSerializer, 404: OpenApiResponse()}
    )
    def get(self, request, pk: int):
        return Response(self._output(self.get_object()))

    @extend_schema(
        tags=["trips"],
        operation_id="trips_replace",
        request=TripInputSerializer,
        responses={200: TripOutputSerializer, 400: TRIP_ERRORS, 404: OpenApiResponse()},
    )
    def put(self, request, pk: int):
        return self._update(request, partial=False)

    @extend_schema(
        tags=["trips"],
        operation_id="trips_update",
        description="Changes the given parts; `legs`, when given, replace all legs (the same rules apply).",
        request=TripInputSerializer,
        responses={200: TripOutputSerializer, 400: TRIP_ERRORS, 404: OpenApiResponse()},
    )
    def patch(self, request, pk: int):
        return self._update(request, partial=True)

    @extend_schema(tags=["trips"], operation_id="trips_delete", responses={204: None, 404: OpenApiResponse()})
    def delete(self, request, pk: int):
        trip_delete(trip=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
